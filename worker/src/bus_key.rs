//! The worker's copy of the broker's bus key: the file `<broker data dir>/bus.key`,
//! copied to the worker's host, which opens the asset configuration sealed in tasks.
//!
//! The format is the broker's: 64 hex characters (32 bytes), surrounding whitespace
//! ignored. The key opens every asset's secrets, so a file other users may read is
//! reported (and still used: refusing would stop a fleet over a `chmod`).

use std::path::{Path, PathBuf};

use outpost_proto::seal::SealKey;

/// The key's file name, in the broker's data dir and, by default, in the worker's.
pub const BUS_KEY_FILE: &str = "bus.key";

/// The length of a key in the file, in hex characters.
const KEY_HEX_LEN: usize = 64;

/// Why the bus key could not be read; each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum BusKeyError {
    #[error("no bus key at {}: copy the broker's <broker data dir>/{BUS_KEY_FILE} there (mode 0600)", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read the bus key at {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error(
        "the bus key at {} is {length} characters long, not {KEY_HEX_LEN} hex characters: copy the broker's \
         {BUS_KEY_FILE} again",
        path.display()
    )]
    WrongLength { path: PathBuf, length: usize },
    #[error("the bus key at {} holds characters other than hex digits: copy the broker's {BUS_KEY_FILE} again", path.display())]
    NotHex { path: PathBuf },
}

/// Reads the bus key at `path`, warning when users other than its owner may read it.
pub fn read(path: &Path) -> Result<SealKey, BusKeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => BusKeyError::Missing { path: path.to_path_buf() },
        // Not UTF-8 at all: certainly not hex.
        std::io::ErrorKind::InvalidData => BusKeyError::NotHex { path: path.to_path_buf() },
        _ => BusKeyError::Unreadable { path: path.to_path_buf(), source },
    })?;
    let hex = text.trim();
    if hex.chars().count() != KEY_HEX_LEN {
        return Err(BusKeyError::WrongLength { path: path.to_path_buf(), length: hex.chars().count() });
    }
    let key = SealKey::from_hex(hex).map_err(|_| BusKeyError::NotHex { path: path.to_path_buf() })?;
    warn_if_shared(path);
    Ok(key)
}

/// The bus key opens every asset's secrets: other users of the machine must not read it.
#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else { return };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = %format!("{mode:o}"), "the bus key is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, content: &[u8]) -> PathBuf {
        let path = dir.join(BUS_KEY_FILE);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn the_brokers_key_file_opens_what_the_broker_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let broker = SealKey::generate();
        // As the broker writes it, and as an editor may leave it (a trailing newline).
        let path = write(dir.path(), format!("{}\n", broker.to_hex()).as_bytes());
        let key = read(&path).unwrap();
        assert_eq!(key.open(&broker.seal(b"{\"apikey\": \"x\"}")).unwrap(), b"{\"apikey\": \"x\"}");
    }

    #[test]
    fn a_missing_key_names_the_path_and_where_to_copy_it_from() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(BUS_KEY_FILE);
        let error = read(&path).unwrap_err();
        assert!(matches!(error, BusKeyError::Missing { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!("no bus key at {}: copy the broker's <broker data dir>/bus.key there (mode 0600)", path.display())
        );
    }

    #[test]
    fn a_key_that_cannot_be_read_says_why() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be.
        let path = dir.path().join(BUS_KEY_FILE);
        std::fs::create_dir(&path).unwrap();
        let error = read(&path).unwrap_err();
        assert!(matches!(error, BusKeyError::Unreadable { .. }), "{error:?}");
        assert!(error.to_string().starts_with(&format!("cannot read the bus key at {}: ", path.display())), "{error}");
    }

    #[test]
    fn a_truncated_or_padded_key_is_refused_with_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let hex = SealKey::generate().to_hex();
        for (content, length) in [(&hex[..63], 63), ("", 0), (&format!("{hex}00")[..], 66)] {
            let path = write(dir.path(), content.as_bytes());
            let error = read(&path).unwrap_err();
            assert!(matches!(error, BusKeyError::WrongLength { length: l, .. } if l == length), "{content}: {error:?}");
            assert_eq!(
                error.to_string(),
                format!(
                    "the bus key at {} is {length} characters long, not 64 hex characters: copy the broker's bus.key again",
                    path.display()
                )
            );
        }
    }

    #[test]
    fn a_key_of_the_right_length_that_is_not_hex_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for content in ["z".repeat(64).into_bytes(), vec![0xff; 64], "é".repeat(32).into_bytes()] {
            let path = write(dir.path(), &content);
            let error = read(&path).unwrap_err();
            assert!(matches!(error, BusKeyError::NotHex { .. } | BusKeyError::WrongLength { .. }), "{error:?}");
        }
        let path = write(dir.path(), "g".repeat(64).as_bytes());
        assert_eq!(
            read(&path).unwrap_err().to_string(),
            format!(
                "the bus key at {} holds characters other than hex digits: copy the broker's bus.key again",
                path.display()
            )
        );
    }
}
