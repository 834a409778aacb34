//! The broker's two keys, each a file in the data dir readable by its owner only:
//! - `store.key` seals asset configuration at rest in the store; it never leaves the broker;
//! - `bus.key` seals asset configuration inside tasks on the bus; workers hold a copy
//!   (`--bus-key-file`), so secrets never sit in clear in RabbitMQ.

use std::path::Path;

use outpost_proto::OutpostError;
use outpost_proto::seal::SealKey;

use crate::access::auth::write_secret_file;

pub const STORE_KEY_FILE: &str = "store.key";
pub const BUS_KEY_FILE: &str = "bus.key";

pub struct Keys {
    pub store: SealKey,
    pub bus: SealKey,
}

impl Keys {
    /// Reads the keys from `data_dir`, creating missing ones. A given bus key wins over
    /// the file (and is not written).
    pub fn load_or_create(data_dir: &Path, bus_key: Option<SealKey>) -> Result<Keys, OutpostError> {
        let store = load_or_create(&data_dir.join(STORE_KEY_FILE))?;
        let bus = match bus_key {
            Some(key) => key,
            None => load_or_create(&data_dir.join(BUS_KEY_FILE))?,
        };
        Ok(Keys { store, bus })
    }
}

/// Reads a key file, or creates it with a fresh key.
pub fn load_or_create(path: &Path) -> Result<SealKey, OutpostError> {
    match std::fs::read_to_string(path) {
        Ok(text) => SealKey::from_hex(&text).map_err(|e| OutpostError::internal(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SealKey::generate();
            write_secret_file(path, &key.to_hex())
                .map_err(|e| OutpostError::internal(format!("cannot write {}: {e}", path.display())))?;
            Ok(key)
        }
        Err(e) => Err(OutpostError::internal(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Reads a key file that must exist (workers).
pub fn load(path: &Path) -> Result<SealKey, OutpostError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| OutpostError::invalid(format!("cannot read key file {}: {e}", path.display())))?;
    SealKey::from_hex(&text).map_err(|e| OutpostError::invalid(format!("{}: {e}", path.display())))
}
