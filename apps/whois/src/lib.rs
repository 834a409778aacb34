//! `whois`: registration data for domains and IP addresses over RDAP (RFC 9082 queries,
//! RFC 9083 JSON answers), the structured successor of WHOIS.
//!
//! Each lookup is one `GET {base_url}/domain/<name>` or `GET {base_url}/ip/<address>`;
//! the RDAP object is the data item and the summary picks out who holds it.
//! `https://rdap.org` (the default) answers by redirecting to the registry's own RDAP
//! server: the asset's egress policy must allow that server too, or `base_url` can
//! name a registry's server directly.
//!
//! # Layout
//! - `rdap`: reading the summary out of an RDAP object (pure, tested natively).

mod rdap;

use outpost_app::{Action, ActionResult, Connector, Result, Status, bail, contains, http, log, save_progress};
use serde::Deserialize;

struct Whois;

impl Connector for Whois {
    fn handle(action: &Action, result: &mut ActionResult) -> Result<()> {
        let Config { base_url } = action.config()?;
        let base_url = base_url.trim().trim_end_matches('/');
        match action.identifier() {
            "test_connectivity" => test_connectivity(base_url, result)?,
            "whois_domain" => {
                let DomainParams { domain } = action.params()?;
                lookup(base_url, Query::Domain(contains::domain(&domain)?), result)?;
            }
            "whois_ip" => {
                let IpParams { ip } = action.params()?;
                lookup(base_url, Query::Ip(contains::ip(&ip)?.to_string()), result)?;
            }
            other => bail!("unknown action '{other}'"),
        }
        Ok(())
    }
}

outpost_app::export_connector!(Whois);

#[derive(Deserialize)]
struct Config {
    base_url: String,
}

#[derive(Deserialize)]
struct DomainParams {
    domain: String,
}

#[derive(Deserialize)]
struct IpParams {
    ip: String,
}

/// What is looked up; the value is already checked, so it is safe in a URL path.
enum Query {
    Domain(String),
    Ip(String),
}

/// RDAP asks for this media type (RFC 7480 §4.2); plain JSON is accepted as a fallback.
const ACCEPT: &str = "application/rdap+json, application/json;q=0.9";

/// Succeeds when the server answers `/help` (RFC 9082 §3.1.6) with 2xx, or with 3xx or
/// 404, which still prove an HTTP server is there (rdap.org redirects, and some servers
/// do not implement `/help`). Redirects are not followed: only `base_url` is tested.
fn test_connectivity(base_url: &str, result: &mut ActionResult) -> Result<()> {
    save_progress(format!("Connecting to {base_url}"));
    let response = http::get(format!("{base_url}/help"))
        .header("accept", ACCEPT)
        .max_redirects(0)
        .send()?;
    let status = response.status();
    log::info(format!("rdap help answered {status}"));
    if !matches!(status, 200..=399 | 404) {
        bail!("the RDAP server at {base_url} answered {status}");
    }
    result.set_status(Status::Success, "Connectivity test succeeded");
    Ok(())
}

fn lookup(base_url: &str, query: Query, result: &mut ActionResult) -> Result<()> {
    let (label, path, key) = match &query {
        Query::Domain(domain) => ("Domain", "domain", domain),
        Query::Ip(ip) => ("IP", "ip", ip),
    };
    save_progress(format!("Querying {base_url}/{path}/{key}"));
    let response = http::get(format!("{base_url}/{path}/{key}"))
        .header("accept", ACCEPT)
        .send()?;
    match response.status() {
        200..=299 => {}
        404 => bail!("no RDAP record for {key}"),
        status => bail!("the RDAP server answered {status} for {key}"),
    }
    let record: serde_json::Value = response.json()?;
    let summary = rdap::Summary::of(&record);
    result.add_data(&record)?;
    result.update_summary(&summary)?;
    result.set_status(Status::Success, summary.message(label, key));
    Ok(())
}
