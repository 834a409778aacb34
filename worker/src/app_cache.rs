//! Components by content digest: fetched from the broker over gRPC
//! (`AppService.FetchApp`), verified against their sha256, and kept on disk so a
//! restarted worker does not fetch them again. Workers never touch the broker's store.

use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use outpost_proto::v1::FetchAppRequest;
use outpost_proto::v1::app_service_client::AppServiceClient;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

/// Header carrying the worker token (derived from the bus key) on `FetchApp`.
pub const WORKER_TOKEN_HEADER: &str = "outpost-worker-token";
/// Largest component a worker accepts.
const MAX_COMPONENT_BYTES: u64 = 100 * 1024 * 1024;

/// Where components come from.
#[async_trait::async_trait]
pub trait AppSource: Send + Sync {
    async fn fetch(&self, digest: &str) -> Result<Vec<u8>, String>;
}

/// Fetches components from the broker's gRPC `AppService`.
pub struct GrpcAppSource {
    endpoint: String,
    token: String,
    client: Mutex<Option<AppServiceClient<tonic::transport::Channel>>>,
}

impl GrpcAppSource {
    /// `endpoint` is the broker's gRPC URL, e.g. `http://127.0.0.1:50051`.
    pub fn new(endpoint: impl Into<String>, token: String) -> Self {
        GrpcAppSource { endpoint: endpoint.into(), token, client: Mutex::new(None) }
    }

    async fn client(&self) -> Result<AppServiceClient<tonic::transport::Channel>, String> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let channel = tonic::transport::Endpoint::from_shared(self.endpoint.clone())
            .map_err(|e| format!("bad broker address '{}': {e}", self.endpoint))?
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(120))
            .connect()
            .await
            .map_err(|e| format!("cannot reach the broker at {}: {e}", self.endpoint))?;
        let client = AppServiceClient::new(channel).max_decoding_message_size(4 * 1024 * 1024);
        *slot = Some(client.clone());
        Ok(client)
    }
}

#[async_trait::async_trait]
impl AppSource for GrpcAppSource {
    async fn fetch(&self, digest: &str) -> Result<Vec<u8>, String> {
        let mut client = self.client().await?;
        let mut request = tonic::Request::new(FetchAppRequest { digest: digest.to_string() });
        request
            .metadata_mut()
            .insert(WORKER_TOKEN_HEADER, self.token.parse().map_err(|_| "bad worker token".to_string())?);
        let mut stream = match client.fetch_app(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                if status.code() == tonic::Code::Unavailable {
                    // Reconnect next time.
                    *self.client.lock().await = None;
                }
                return Err(format!("the broker refused component {digest}: {}", status.message()));
            }
        };
        let mut bytes = vec![];
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|s| format!("fetching component {digest} failed: {}", s.message()))?;
            if bytes.len() as u64 + chunk.data.len() as u64 > MAX_COMPONENT_BYTES {
                return Err(format!("component {digest} is larger than {MAX_COMPONENT_BYTES} bytes"));
            }
            bytes.extend_from_slice(&chunk.data);
        }
        Ok(bytes)
    }
}

/// A disk cache in front of an [`AppSource`].
pub struct AppCache {
    dir: PathBuf,
    source: Arc<dyn AppSource>,
    /// One fetch per digest at a time.
    fetching: Mutex<()>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl AppCache {
    pub fn new(dir: PathBuf, source: Arc<dyn AppSource>) -> Self {
        AppCache { dir, source, fetching: Mutex::new(()) }
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}.wasm"))
    }

    /// The component with this digest, from disk or from the source; always verified.
    pub async fn get(&self, digest: &str) -> Result<Vec<u8>, String> {
        if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("'{digest}' is not a sha256 digest"));
        }
        if let Some(bytes) = self.read_verified(digest).await {
            return Ok(bytes);
        }
        let _one_at_a_time = self.fetching.lock().await;
        if let Some(bytes) = self.read_verified(digest).await {
            return Ok(bytes);
        }
        let bytes = self.source.fetch(digest).await?;
        let actual = sha256_hex(&bytes);
        if actual != digest {
            return Err(format!("component {digest} arrived with digest {actual}; refused"));
        }
        if let Err(e) = self.write(digest, &bytes).await {
            tracing::warn!(%digest, error = %e, "component not cached on disk");
        }
        Ok(bytes)
    }

    async fn read_verified(&self, digest: &str) -> Option<Vec<u8>> {
        let bytes = tokio::fs::read(self.path(digest)).await.ok()?;
        if sha256_hex(&bytes) == digest {
            Some(bytes)
        } else {
            tracing::warn!(%digest, "cached component is corrupt; fetching it again");
            let _ = tokio::fs::remove_file(self.path(digest)).await;
            None
        }
    }

    async fn write(&self, digest: &str, bytes: &[u8]) -> std::io::Result<()> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let tmp = self.dir.join(format!("{digest}.{}.tmp", uuid::Uuid::new_v4()));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, self.path(digest)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Fixed {
        bytes: Vec<u8>,
        calls: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl AppSource for Fixed {
        async fn fetch(&self, _digest: &str) -> Result<Vec<u8>, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(self.bytes.clone())
        }
    }

    #[tokio::test]
    async fn fetches_once_verifies_and_refuses_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let source = Arc::new(Fixed { bytes: b"component".to_vec(), calls: AtomicUsize::new(0) });
        let cache = AppCache::new(dir.path().to_path_buf(), source.clone());
        let digest = sha256_hex(b"component");
        assert_eq!(cache.get(&digest).await.unwrap(), b"component");
        assert_eq!(cache.get(&digest).await.unwrap(), b"component");
        assert_eq!(source.calls.load(Ordering::SeqCst), 1, "second read comes from disk");

        // A corrupt cache file is detected and replaced.
        std::fs::write(dir.path().join(format!("{digest}.wasm")), b"evil").unwrap();
        assert_eq!(cache.get(&digest).await.unwrap(), b"component");
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);

        // A source answering other bytes than the digest says is refused.
        let other = sha256_hex(b"something else");
        assert!(cache.get(&other).await.unwrap_err().contains("refused"));
        assert!(cache.get("not-a-digest").await.unwrap_err().contains("not a sha256 digest"));
    }
}
