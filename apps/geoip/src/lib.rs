//! `geoip`: offline IP-to-country lookups, IPv4 and IPv6.
//!
//! The answer comes from public datasets compiled into the component at build time (see
//! `DATA.md`), so the connector needs no network and no configuration. It answers in
//! the shape of SOAR's geolocation apps (`country_iso_code`, `country_name`,
//! `continent_name`), with only the fields the datasets really provide.
//!
//! # Layout
//! - `lookup`: the embedded tables and the binary search over them.

mod lookup;

use outpost_app::{Action, ActionResult, Connector, Result, Status, bail, contains, log};
use serde::{Deserialize, Serialize};

struct GeoIp;

impl Connector for GeoIp {
    fn handle(action: &Action, result: &mut ActionResult) -> Result<()> {
        match action.identifier() {
            "test_connectivity" => {
                let (v4, v6) = lookup::table_sizes();
                log::info(format!("geoip tables hold {v4} ipv4 and {v6} ipv6 ranges"));
                result.set_status(Status::Success, "Connectivity test succeeded");
            }
            "geolocate_ip" => geolocate(action, result)?,
            other => bail!("unknown action '{other}'"),
        }
        Ok(())
    }
}

outpost_app::export_connector!(GeoIp);

#[derive(Deserialize)]
struct GeolocateParams {
    ip: String,
}

/// One data item of `geolocate ip`.
#[derive(Serialize)]
struct Geolocation<'a> {
    ip: String,
    country_iso_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continent_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continent_name: Option<&'a str>,
}

#[derive(Serialize)]
struct Summary<'a> {
    country: &'a str,
}

fn geolocate(action: &Action, result: &mut ActionResult) -> Result<()> {
    let GeolocateParams { ip } = action.params()?;
    let address = contains::ip(&ip)?;
    // An address in no range (private, reserved, unallocated) is an answer, not an error.
    let Some(country) = lookup::country_of(address) else {
        result.set_status(Status::Success, format!("No country found for {address}"));
        return Ok(());
    };
    result.add_data(Geolocation {
        ip: address.to_string(),
        country_iso_code: country.iso_code,
        country_name: country.name,
        continent_code: country.continent_code,
        continent_name: country.continent_name,
    })?;
    // A code the country list does not know is still better than nothing.
    let shown = country.name.unwrap_or(country.iso_code);
    result.update_summary(Summary { country: shown })?;
    result.set_status(Status::Success, format!("Country: {shown}"));
    Ok(())
}
