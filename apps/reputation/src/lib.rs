//! `reputation`: file, URL, IP and domain reputation from the VirusTotal v3 API (or a
//! service that speaks it).
//!
//! Each action is one `GET {base_url}/api/v3/<collection>/<id>` with the asset's API key
//! in `x-apikey`. The object's `data` is the data item; the summary follows SOAR's
//! VirusTotal v3 app (`total_positives` and the analysis counts).
//!
//! # Layout
//! - `verdict`: the summary and message drawn from `last_analysis_stats` (pure, tested
//!   natively).

mod verdict;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use outpost_app::{Action, ActionResult, Connector, Result, Status, bail, contains, ensure, http, save_progress};
use serde::Deserialize;
use serde_json::Value;

struct Reputation;

impl Connector for Reputation {
    fn handle(action: &Action, result: &mut ActionResult) -> Result<()> {
        let config: Config = action.config()?;
        let (collection, id, shown) = match action.identifier() {
            "test_connectivity" => return test_connectivity(&config, result),
            "file_reputation" => {
                let HashParams { hash } = action.params()?;
                let hash = contains::hash(&hash)?;
                ("files", hash.clone(), hash)
            }
            "url_reputation" => {
                let UrlParams { url } = action.params()?;
                let url = url.trim();
                ensure!(!url.is_empty(), "the url parameter is empty");
                // VirusTotal identifies a URL by its unpadded base64url form.
                ("urls", URL_SAFE_NO_PAD.encode(url), url.to_string())
            }
            "ip_reputation" => {
                let IpParams { ip } = action.params()?;
                let ip = contains::ip(&ip)?.to_string();
                ("ip_addresses", ip.clone(), ip)
            }
            "domain_reputation" => {
                let DomainParams { domain } = action.params()?;
                let domain = contains::domain(&domain)?;
                ("domains", domain.clone(), domain)
            }
            other => bail!("unknown action '{other}'"),
        };
        save_progress(format!("Querying {collection} for {shown}"));
        let object = fetch(&config, collection, &id, &shown)?;
        let Some(data) = object.get("data").filter(|d| d.is_object()) else {
            bail!("the answer for {shown} has no data object");
        };
        let verdict = verdict::Verdict::of(data);
        result.add_data(data)?;
        result.update_summary(&verdict)?;
        result.set_status(Status::Success, verdict.message());
        Ok(())
    }
}

outpost_app::export_connector!(Reputation);

/// The asset configuration. `apikey` is a secret: it goes into one header and nowhere
/// else (the SDK's HTTP client never shows header values).
#[derive(Deserialize)]
struct Config {
    base_url: String,
    apikey: String,
}

#[derive(Deserialize)]
struct HashParams {
    hash: String,
}

#[derive(Deserialize)]
struct UrlParams {
    url: String,
}

#[derive(Deserialize)]
struct IpParams {
    ip: String,
}

#[derive(Deserialize)]
struct DomainParams {
    domain: String,
}

/// GETs one object and maps the API's error statuses to messages a user can act on.
fn fetch(config: &Config, collection: &str, id: &str, shown: &str) -> Result<Value> {
    let base_url = config.base_url.trim().trim_end_matches('/');
    let response = http::get(format!("{base_url}/api/v3/{collection}/{id}"))
        .header("x-apikey", config.apikey.trim())
        .header("accept", "application/json")
        .send()?;
    match response.status() {
        200..=299 => Ok(response.json()?),
        404 => bail!("no VirusTotal record for {shown}"),
        401 => bail!("the API key was refused"),
        429 => bail!("the VirusTotal quota is exhausted, try again later"),
        status => {
            // VirusTotal explains errors as {"error": {"code", "message"}}.
            let error: Value = response.json().unwrap_or(Value::Null);
            match error.pointer("/error/message").and_then(Value::as_str) {
                Some(message) => bail!("VirusTotal answered {status}: {message}"),
                None => bail!("VirusTotal answered {status}"),
            }
        }
    }
}

/// Looks up a well-known address: proves the server answers and takes the key.
fn test_connectivity(config: &Config, result: &mut ActionResult) -> Result<()> {
    save_progress("Querying ip_addresses for 8.8.8.8");
    fetch(config, "ip_addresses", "8.8.8.8", "8.8.8.8")?;
    result.set_status(Status::Success, "Connectivity test succeeded");
    Ok(())
}
