//! The worker's identity: a `node_guid` generated on first start and kept in the data
//! dir, so a restarted worker is the same node in app runs and the registry.

use std::path::Path;

const NODE_GUID_FILE: &str = "node_guid";

/// Reads the node_guid from `data_dir`, creating it on first start.
pub fn node_guid(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(NODE_GUID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if uuid::Uuid::parse_str(text.trim()).is_ok() => Ok(text.trim().to_string()),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} does not hold a UUID; delete it to get a new identity", path.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)?;
            let guid = uuid::Uuid::new_v4().to_string();
            // Write then rename, so a crash never leaves a half-written identity.
            let tmp = data_dir.join(format!("{NODE_GUID_FILE}.tmp"));
            std::fs::write(&tmp, &guid)?;
            std::fs::rename(&tmp, &path)?;
            Ok(guid)
        }
        Err(e) => Err(e),
    }
}

/// This machine's host name, for heartbeats.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_guid_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = node_guid(dir.path()).unwrap();
        assert!(uuid::Uuid::parse_str(&first).is_ok());
        assert_eq!(node_guid(dir.path()).unwrap(), first);
        std::fs::write(dir.path().join(NODE_GUID_FILE), "garbage").unwrap();
        assert!(node_guid(dir.path()).unwrap_err().to_string().contains("does not hold a UUID"));
    }
}
