//! Runtime settings (`/rest/system_settings`, shown by `/rest/system_info`): the base URL
//! users reach this broker at and its time zone. A setting made at run time wins over the
//! configuration's; changes are audited and in force at once.

use outpost_proto::OutpostError;
use serde_json::json;

use crate::Broker;
use crate::access::audit::{Actor, AuditObject};

/// The setting that holds the base URL.
pub const BASE_URL: &str = "base_url";
/// The setting that holds the time zone.
pub const TIME_ZONE: &str = "time_zone";

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How users reach this broker; "" when unset.
    pub base_url: String,
    /// An IANA time zone name.
    pub time_zone: String,
}

/// Checks a base URL: `http://` or `https://`, a trailing `/` dropped; "" clears it.
pub fn check_base_url(url: &str) -> Result<String, OutpostError> {
    let url = url.trim().trim_end_matches('/');
    if url.is_empty() {
        return Ok(String::new());
    }
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty() && url.len() <= 2048 && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(url.to_string())
        }
        _ => Err(OutpostError::invalid(format!("'base_url' must be an http:// or https:// URL, got '{url}'"))),
    }
}

/// Checks an IANA-style zone name (`UTC`, `Europe/Paris`, `America/Argentina/Buenos_Aires`,
/// `Etc/GMT+3`); Outpost stores it for clients and does no zone arithmetic with it.
pub fn check_time_zone(zone: &str) -> Result<String, OutpostError> {
    let zone = zone.trim();
    let ok = !zone.is_empty()
        && zone.len() <= 64
        && zone
            .split('/')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c)))
        && zone.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(zone.to_string())
    } else {
        Err(OutpostError::invalid(format!(
            "'time_zone' must be an IANA time zone name such as UTC or Europe/Paris, got '{zone}'"
        )))
    }
}

impl Broker {
    /// The settings in force: the runtime setting if one was made, else the
    /// configuration's.
    pub async fn settings(&self) -> Result<Settings, OutpostError> {
        let base_url = self.store.setting(BASE_URL).await?.unwrap_or_else(|| self.config.base_url.clone());
        let time_zone = self.store.setting(TIME_ZONE).await?.unwrap_or_else(|| self.config.time_zone.clone());
        Ok(Settings { base_url, time_zone })
    }

    /// Changes the base URL and/or the time zone (already checked) as `who`, audited;
    /// answers the settings now in force.
    pub async fn change_settings(
        &self,
        who: &Actor,
        base_url: Option<String>,
        time_zone: Option<String>,
    ) -> Result<Settings, OutpostError> {
        if base_url.is_none() && time_zone.is_none() {
            return Err(OutpostError::invalid("nothing to change: give 'base_url' and/or 'time_zone'"));
        }
        let before = self.settings().await?;
        if let Some(url) = &base_url {
            self.store.set_setting(BASE_URL, url).await?;
        }
        if let Some(zone) = &time_zone {
            self.store.set_setting(TIME_ZONE, zone).await?;
        }
        let after = self.settings().await?;
        let old = json!({"base_url": before.base_url, "time_zone": before.time_zone});
        let new = json!({"base_url": after.base_url, "time_zone": after.time_zone});
        self.audit.record_change(who, AuditObject::Settings, Some(&old), Some(&new)).await;
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert_eq!(check_base_url("https://soar.example.com/").unwrap(), "https://soar.example.com");
        assert_eq!(check_base_url("").unwrap(), "");
        assert!(check_base_url("soar.example.com").unwrap_err().message.contains("'base_url'"));
        assert_eq!(check_time_zone("America/Argentina/Buenos_Aires").unwrap(), "America/Argentina/Buenos_Aires");
        assert!(check_time_zone("Etc/GMT+3").is_ok());
        assert!(check_time_zone("../etc/passwd").unwrap_err().message.contains("'time_zone'"));
    }
}
