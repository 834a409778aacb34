//! {{name}}: an Outpost connector. `outpost app new` wrote this; make it yours.
//!
//! `test connectivity` checks the service answers; `lookup ip` asks it about an IP
//! address. Everything the connector does on the network goes through the SDK's
//! `http`, which the worker allows only to the hosts of the asset's egress (the
//! manifest's `"outpost": {"egress": ["{{ base_url }}"]}`).

use outpost_app::{Action, ActionResult, Connector, Result, Status, bail, http};
use serde::Deserialize;
use serde_json::{Map, Value, json};

struct App;

impl Connector for App {
    fn handle(action: &Action, result: &mut ActionResult) -> Result<()> {
        let config: Config = action.config()?;
        match action.identifier() {
            "test_connectivity" => {
                outpost_app::save_progress(format!("Connecting to {}", config.base_url));
                let response = get(&config, "8.8.8.8")?;
                if !response.is_success() {
                    bail!("the service answered {}; check base_url and token", response.status());
                }
                result.set_status(Status::Success, "Test connectivity passed");
            }
            "lookup_ip" => {
                let LookupIp { ip } = action.params()?;
                outpost_app::contains::ip(&ip)?;
                let response = get(&config, &ip)?;
                match response.status() {
                    200..=299 => {}
                    404 => bail!("no record for {ip}"),
                    status => bail!("the service answered {status}"),
                }
                let record: Map<String, Value> = response.json()?;
                let summary = summary_of(&record);
                result.add_data(&record)?;
                result.update_summary(&summary)?;
                let text = |key: &str| summary[key].as_str().unwrap_or("unknown").to_string();
                result.set_status(Status::Success, format!("IP {ip}: {}, {}", text("city"), text("country")));
            }
            other => bail!("unknown action '{other}'"),
        }
        Ok(())
    }
}

outpost_app::export_connector!(App);

/// The asset configuration (the manifest's `configuration`).
#[derive(Deserialize)]
struct Config {
    base_url: String,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
struct LookupIp {
    ip: String,
}

fn get(config: &Config, ip: &str) -> Result<http::Response> {
    let mut request = http::get(format!("{}/{ip}/json", config.base_url.trim_end_matches('/')));
    if let Some(token) = config.token.as_deref().filter(|t| !t.is_empty()) {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    Ok(request.send()?)
}

/// The summary of a record: where the address is. Pure, so it is tested natively.
fn summary_of(record: &Map<String, Value>) -> Value {
    let text = |key: &str| record.get(key).and_then(Value::as_str).unwrap_or("unknown").to_string();
    json!({"city": text("city"), "country": text("country"), "org": text("org")})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_city_country_and_org() {
        let record = json!({"ip": "8.8.8.8", "city": "Mountain View", "country": "US", "org": "AS15169 Google LLC"});
        let summary = summary_of(record.as_object().unwrap());
        assert_eq!(summary, json!({"city": "Mountain View", "country": "US", "org": "AS15169 Google LLC"}));
        assert_eq!(summary_of(&Map::new())["city"], "unknown");
    }
}
