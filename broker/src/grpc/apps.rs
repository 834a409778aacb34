//! `AppService`: workers fetch connector components by digest, with the worker token.

use std::pin::Pin;

use futures::Stream;
use outpost_proto::OutpostError;
use outpost_proto::v1::app_service_server::AppService;
use outpost_proto::v1::{self as pb};
use tonic::{Request, Response, Status};

use super::{Api, CHUNK, WORKER_TOKEN_HEADER};

type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::AppChunk, Status>> + Send>>;

#[tonic::async_trait]
impl AppService for Api {
    type FetchAppStream = ChunkStream;

    async fn fetch_app(&self, request: Request<pb::FetchAppRequest>) -> Result<Response<Self::FetchAppStream>, Status> {
        let presented = request.metadata().get(WORKER_TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !same_secret(presented, &self.broker.bus_key.derive_token("outpost-worker")) {
            return Err(OutpostError::unauthenticated(
                "fetching components needs the worker token (a worker with the broker's bus key)",
            )
            .into());
        }
        let digest = request.get_ref().digest.trim().to_lowercase();
        if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(OutpostError::invalid(format!("'{digest}' is not a sha256 digest")).into());
        }
        let bytes = self
            .broker
            .store
            .component(&digest)
            .await
            .map_err(OutpostError::from)?
            .ok_or_else(|| OutpostError::not_found(format!("no component with digest {digest}")))?;
        let total = bytes.len() as u64;
        let chunks: Vec<Result<pb::AppChunk, Status>> = bytes
            .chunks(CHUNK)
            .enumerate()
            .map(|(i, c)| Ok(pb::AppChunk { data: c.to_vec(), total_size: if i == 0 { total } else { 0 } }))
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }
}

/// Compares two secrets in time that does not depend on where they differ (`subtle`).
/// Their sha256 digests are compared, which all have one length, so not even the
/// secret's length shows.
fn same_secret(presented: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let (a, b) = (Sha256::digest(presented.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.as_slice().ct_eq(b.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn only_the_same_secret_is_the_same() {
        assert!(same_secret("worker-token", "worker-token"));
        assert!(!same_secret("worker-tokeN", "worker-token"));
        assert!(!same_secret("worker", "worker-token"));
        assert!(!same_secret("", "worker-token"));
    }
}
