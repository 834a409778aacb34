//! `umbrella`: the Cisco Umbrella domain block list over the Enforcement API, a Rust
//! port of Splunk SOAR's Cisco Umbrella connector (`splunk-soar-connectors/ciscoumbrella`,
//! Apache-2.0), written anew for Outpost: `test connectivity`, `list blocked domains`,
//! `block domain`, `unblock domain`.
//!
//! The original's `requests` calls with `?customerKey=` become the SDK's `http`; the
//! key stays in the query string because the API takes it there (a tape writes it
//! `********`). Pure parts (the block event, the listing's pages) are tested natively;
//! the actions run offline from `tests/*.json` with `outpost app test --replay`.

use outpost_app::{Action, ActionResult, Connector, Result, Status, bail, contains, http, save_progress};
use serde::Deserialize;
use serde_json::{Value, json};

/// Pages of 200 domains; the listing stops after this many pages.
const PAGE_SIZE: u32 = 200;
const MAX_PAGES: u32 = 50;

struct Umbrella;

impl Connector for Umbrella {
    fn handle(action: &Action, result: &mut ActionResult) -> Result<()> {
        let config: Config = action.config()?;
        match action.identifier() {
            "test_connectivity" => {
                save_progress("Listing one blocked domain");
                let response = http::get(config.url("/1.0/domains", &[("page", "1"), ("limit", "1")])).send()?;
                check(&response, "the connectivity test")?;
                result.set_status(Status::Success, "Test connectivity passed");
            }
            "list_blocked_domains" => {
                let mut total = 0usize;
                for page in 1..=MAX_PAGES {
                    let url = config.url(
                        "/1.0/domains",
                        &[("page", &page.to_string()), ("limit", &PAGE_SIZE.to_string())],
                    );
                    let response = http::get(url).send()?;
                    check(&response, "the listing")?;
                    let listing: Listing = response.json()?;
                    total += listing.data.len();
                    for domain in listing.data {
                        result.add_data(domain)?;
                    }
                    if !listing.meta.has_next() {
                        break;
                    }
                }
                result.update_summary(json!({ "total_domains": total }))?;
                result.set_status(Status::Success, format!("Total domains: {total}"));
            }
            "block_domain" => {
                let params: BlockParams = action.params()?;
                contains::domain(&params.domain)?;
                let event = block_event(&params.domain, params.disable_safeguards, &now_iso8601());
                let response = http::post(config.url("/1.0/events", &[])).json(&event)?.send()?;
                check(&response, "blocking")?;
                let answer: Value = response.json().unwrap_or(Value::Null);
                let id = answer
                    .get("id")
                    .map(|id| id.to_string().trim_matches('"').to_string())
                    .unwrap_or_default();
                result.add_data(json!({ "id": id }))?;
                result.set_status(Status::Success, format!("REST API returned success with id: {id}"));
            }
            "unblock_domain" => {
                let UnblockParams { domain } = action.params()?;
                contains::domain(&domain)?;
                let url = config.url("/1.0/domains", &[("where[name]", &domain)]);
                let response = http::Request::new(http::Method::DELETE, url).send()?;
                check(&response, "unblocking")?;
                result.set_status(Status::Success, "Domain successfully unblocked");
            }
            other => bail!("unknown action '{other}'"),
        }
        Ok(())
    }
}

outpost_app::export_connector!(Umbrella);

#[derive(Deserialize)]
struct Config {
    base_url: String,
    customer_key: String,
}

impl Config {
    /// `<base_url><path>?<query>&customerKey=<key>`, every value percent-encoded.
    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}{path}?", self.base_url.trim_end_matches('/'));
        for (name, value) in query.iter().chain(&[("customerKey", self.customer_key.as_str())]) {
            url.push_str(&format!("{}={}&", encode(name), encode(value)));
        }
        url.pop();
        url
    }
}

#[derive(Deserialize)]
struct BlockParams {
    domain: String,
    #[serde(default)]
    disable_safeguards: bool,
}

#[derive(Deserialize)]
struct UnblockParams {
    domain: String,
}

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(default)]
    meta: Meta,
}

/// The listing's page links: `next` is the next page's URL, or `false` on the last.
#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    next: Value,
}

impl Meta {
    fn has_next(&self) -> bool {
        match &self.next {
            Value::Bool(next) => *next,
            Value::String(url) => !url.is_empty(),
            _ => false,
        }
    }
}

/// The answer's status as the user reads it: 401/403 name the key.
fn check(response: &http::Response, what: &str) -> Result<()> {
    match response.status() {
        200..=299 => Ok(()),
        401 | 403 => bail!("the customer key was refused ({})", response.status()),
        status => {
            let body: Value = response.json().unwrap_or(Value::Null);
            match body.get("message").and_then(Value::as_str) {
                Some(detail) if !detail.is_empty() => bail!("{what} failed: Umbrella answered {status}: {detail}"),
                _ => bail!("{what} failed: Umbrella answered {status}"),
            }
        }
    }
}

/// The event the Enforcement API blocks a domain with (its documented fields).
fn block_event(domain: &str, disable_safeguards: bool, now: &str) -> Value {
    json!({
        "alertTime": now,
        "deviceId": "ba6a59f4-e692-4724-ba36-c28132c761de",
        "deviceVersion": "1.0",
        "dstDomain": domain,
        "dstUrl": format!("http://{domain}/"),
        "eventTime": now,
        "protocolVersion": "1.0a",
        "providerName": "Security Platform",
        "disableDstSafeguards": disable_safeguards,
    })
}

/// Now, as `2024-05-02T09:14:07Z`, from the wall clock WASI lends.
fn now_iso8601() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    iso8601(secs)
}

fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Percent-encodes a query component (RFC 3986 unreserved characters stay).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_key_last_and_encode_every_value() {
        let config = Config {
            base_url: "https://s-platform.api.opendns.com/".into(),
            customer_key: "k&y".into(),
        };
        assert_eq!(
            config.url("/1.0/domains", &[("where[name]", "a b.example")]),
            "https://s-platform.api.opendns.com/1.0/domains?where%5Bname%5D=a%20b.example&customerKey=k%26y"
        );
    }

    #[test]
    fn the_block_event_names_the_domain_and_the_safeguards() {
        let event = block_event("bad.example", true, "2024-05-02T09:14:07Z");
        assert_eq!(event["dstDomain"], "bad.example");
        assert_eq!(event["dstUrl"], "http://bad.example/");
        assert_eq!(event["disableDstSafeguards"], true);
        assert_eq!(event["alertTime"], "2024-05-02T09:14:07Z");
    }

    #[test]
    fn the_next_page_is_a_url_or_false() {
        let page = |meta: Value| serde_json::from_value::<Listing>(json!({"meta": meta, "data": []})).unwrap();
        assert!(
            page(json!({"next": "https://x.example/1.0/domains?page=2"}))
                .meta
                .has_next()
        );
        assert!(!page(json!({"next": false})).meta.has_next());
        assert!(!page(json!({})).meta.has_next());
    }

    #[test]
    fn timestamps_are_utc_iso8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_714_641_247), "2024-05-02T09:14:07Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }
}
