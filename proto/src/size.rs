//! Sizes as an operator writes them, for limits in messages (`the bundle holds more
//! than 160 MiB unpacked`, `the connector ran out of memory (limit 64 MiB)`).

/// `64 MiB`, `1.5 KiB`, `512 bytes`: whole units when exact, else one decimal.
pub fn human_bytes(bytes: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size {
            return if bytes.is_multiple_of(size) {
                format!("{} {unit}", bytes / size)
            } else {
                format!("{:.1} {unit}", bytes as f64 / size as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_an_operator_writes_them() {
        assert_eq!(human_bytes(4 << 20), "4 MiB");
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(1536 << 10), "1.5 MiB");
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(4 << 30), "4 GiB");
        assert_eq!(human_bytes(160 << 20), "160 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 bytes");
    }
}
