//! Checks for the values SOAR's `contains` types name (`ip`, `domain`, `hash`, ...), so a
//! connector refuses a malformed parameter before it builds a URL from it.

use std::net::IpAddr;

/// A parameter that is not the kind of value it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{shown}' is not a valid {kind}")]
pub struct Invalid {
    /// The value as given, cut to a readable length.
    shown: String,
    kind: &'static str,
}

impl Invalid {
    fn new(text: &str, kind: &'static str) -> Invalid {
        const MAX: usize = 200;
        let shown = match text.char_indices().nth(MAX) {
            Some((end, _)) => format!("{}...", &text[..end]),
            None => text.to_string(),
        };
        Invalid { shown, kind }
    }
}

/// An IPv4 or IPv6 address (`contains: ["ip"]`), surrounding blanks ignored.
pub fn ip(text: &str) -> Result<IpAddr, Invalid> {
    text.trim()
        .parse()
        .map_err(|_| Invalid::new(text, "IPv4 or IPv6 address"))
}

/// A domain name (`contains: ["domain"]`) in ASCII (an internationalized name in its
/// `xn--` form), returned lowercased without a trailing dot.
pub fn domain(text: &str) -> Result<String, Invalid> {
    let name = text
        .trim()
        .strip_suffix('.')
        .unwrap_or(text.trim())
        .to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if (1..=253).contains(&name.len()) && name.split('.').all(label_ok) {
        Ok(name)
    } else {
        Err(Invalid::new(text, "domain name"))
    }
}

/// An MD5, SHA-1 or SHA-256 hash in hex (`contains: ["hash", "md5", "sha1", "sha256"]`),
/// returned lowercased.
pub fn hash(text: &str) -> Result<String, Invalid> {
    let hash = text.trim().to_ascii_lowercase();
    if matches!(hash.len(), 32 | 40 | 64) && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash)
    } else {
        Err(Invalid::new(text, "MD5, SHA-1 or SHA-256 hash"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(ip(" 8.8.8.8 ").unwrap().to_string(), "8.8.8.8");
        assert_eq!(ip("2001:DB8::1").unwrap().to_string(), "2001:db8::1");
        assert_eq!(
            ip("abc").unwrap_err().to_string(),
            "'abc' is not a valid IPv4 or IPv6 address"
        );
        assert!(ip("1.2.3.4/24").is_err());
    }

    #[test]
    fn domains() {
        assert_eq!(domain("Example.COM.").unwrap(), "example.com");
        assert_eq!(domain("xn--bcher-kva.example").unwrap(), "xn--bcher-kva.example");
        for bad in [
            "",
            "a..b",
            "-a.com",
            "a-.com",
            "a b.com",
            "example.com/x",
            "ex?ample.com",
            &"a".repeat(64),
        ] {
            assert!(domain(bad).is_err(), "{bad}");
        }
        assert_eq!(
            domain("bad/one").unwrap_err().to_string(),
            "'bad/one' is not a valid domain name"
        );
    }

    #[test]
    fn hashes() {
        assert_eq!(
            hash("44D88612FEA8A8F36DE82E1278ABB02F").unwrap(),
            "44d88612fea8a8f36de82e1278abb02f"
        );
        assert!(hash(&"a".repeat(40)).is_ok() && hash(&"a".repeat(64)).is_ok());
        assert!(hash("xyz").is_err() && hash(&"g".repeat(32)).is_err());
        let long = "z".repeat(1000);
        assert!(hash(&long).unwrap_err().to_string().len() < 300);
    }
}
