//! Reading a summary out of an RDAP object (RFC 9083): the object's name and country,
//! its registrar, and the registrant's organization, from the entities' jCards
//! (RFC 7095 `vcardArray`).

use serde::Serialize;
use serde_json::Value;

/// The summary of one RDAP object; absent fields are left out.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The domain's `ldhName`, or the IP network's `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `fn` of the entity with role `registrar`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrar: Option<String>,
    /// The `org` (else `fn`) of the entity with role `registrant`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The IP network's `country`, else the registrant's address country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Summary {
    pub fn of(record: &Value) -> Summary {
        let text = |v: &Value| v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let registrant = find_entity(record, "registrant");
        Summary {
            name: record.get("ldhName").or_else(|| record.get("name")).and_then(text),
            registrar: find_entity(record, "registrar").and_then(|e| vcard_text(e, "fn")),
            organization: registrant.and_then(|e| vcard_text(e, "org").or_else(|| vcard_text(e, "fn"))),
            country: record
                .get("country")
                .and_then(text)
                .or_else(|| registrant.and_then(vcard_country)),
        }
    }

    /// The result message, in the style of SOAR's whois apps:
    /// `Domain: example.com, Registrar: ..., Organization: ..., Country: US`.
    pub fn message(&self, label: &str, key: &str) -> String {
        let mut parts = vec![format!("{label}: {key}")];
        if label == "IP"
            && let Some(name) = &self.name
        {
            parts.push(format!("Name: {name}"));
        }
        for (field, value) in [
            ("Registrar", &self.registrar),
            ("Organization", &self.organization),
            ("Country", &self.country),
        ] {
            if let Some(value) = value {
                parts.push(format!("{field}: {value}"));
            }
        }
        parts.join(", ")
    }
}

/// The first entity holding `role`, looking at the object's entities before the entities
/// nested inside them (breadth first).
fn find_entity<'a>(record: &'a Value, role: &str) -> Option<&'a Value> {
    let mut level: Vec<&Value> = entities(record).collect();
    while !level.is_empty() {
        let has_role = |e: &&Value| {
            e.get("roles")
                .and_then(Value::as_array)
                .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(role)))
        };
        if let Some(entity) = level.iter().copied().find(has_role) {
            return Some(entity);
        }
        level = level.into_iter().flat_map(entities).collect();
    }
    None
}

fn entities(value: &Value) -> impl Iterator<Item = &Value> {
    value.get("entities").and_then(Value::as_array).into_iter().flatten()
}

/// The jCard properties of an entity: `["vcard", [[name, params, type, value...], ...]]`.
fn vcard(entity: &Value) -> impl Iterator<Item = &Vec<Value>> {
    entity
        .get("vcardArray")
        .and_then(|v| v.get(1))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
}

/// The first value of property `name` as text; a structured value (such as `org` with
/// units) gives its first component.
fn vcard_text(entity: &Value, name: &str) -> Option<String> {
    vcard(entity)
        .filter(|p| p.first().and_then(Value::as_str) == Some(name))
        .find_map(|p| {
            let value = p.get(3)?;
            let text = value.as_str().or_else(|| value.as_array()?.first()?.as_str())?;
            Some(text.trim().to_string()).filter(|t| !t.is_empty())
        })
}

/// The country of the first `adr`: its `cc` parameter (RFC 8605), else the address's
/// country-name component (the seventh).
fn vcard_country(entity: &Value) -> Option<String> {
    vcard(entity)
        .filter(|p| p.first().and_then(Value::as_str) == Some("adr"))
        .find_map(|p| {
            let cc = p.get(1).and_then(|params| params.get("cc")).and_then(Value::as_str);
            let name = p
                .get(3)
                .and_then(|v| v.get(6))
                .and_then(|c| c.as_str().or_else(|| c.get(0)?.as_str()));
            cc.or(name).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Shaped like Verisign's answer for example.com, trimmed.
    fn domain() -> Value {
        json!({
            "objectClassName": "domain",
            "ldhName": "EXAMPLE.COM",
            "entities": [
                {"objectClassName": "entity", "roles": ["registrar"],
                 "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "RESERVED-Internet Assigned Numbers Authority"]]],
                 "entities": [{"roles": ["abuse"], "vcardArray": ["vcard", [["fn", {}, "text", "Abuse desk"]]]}]},
                {"objectClassName": "entity", "roles": ["registrant"],
                 "vcardArray": ["vcard", [
                    ["version", {}, "text", "4.0"],
                    ["fn", {}, "text", "Host Master"],
                    ["org", {}, "text", "Example, Inc."],
                    ["adr", {"cc": "US"}, "text", ["", "", "1 Main St", "San Jose", "CA", "95131", ""]]
                 ]]}
            ]
        })
    }

    #[test]
    fn a_domain_record_names_its_registrar_registrant_and_country() {
        let summary = Summary::of(&domain());
        assert_eq!(
            summary,
            Summary {
                name: Some("EXAMPLE.COM".into()),
                registrar: Some("RESERVED-Internet Assigned Numbers Authority".into()),
                organization: Some("Example, Inc.".into()),
                country: Some("US".into()),
            }
        );
        assert_eq!(
            summary.message("Domain", "example.com"),
            "Domain: example.com, Registrar: RESERVED-Internet Assigned Numbers Authority, Organization: Example, Inc., Country: US"
        );
    }

    #[test]
    fn an_ip_network_uses_its_own_country_and_a_nested_registrant() {
        let network = json!({
            "objectClassName": "ip network", "name": "GOGL", "country": "US",
            "entities": [{"roles": ["technical"], "entities": [
                {"roles": ["registrant"], "vcardArray": ["vcard", [["fn", {}, "text", "Google LLC"],
                    ["adr", {}, "text", ["", "", "", "", "", "", "Ireland"]]]]}
            ]}]
        });
        let summary = Summary::of(&network);
        assert_eq!(summary.organization.as_deref(), Some("Google LLC"));
        assert_eq!(summary.country.as_deref(), Some("US"));
        assert_eq!(
            summary.message("IP", "8.8.8.8"),
            "IP: 8.8.8.8, Name: GOGL, Organization: Google LLC, Country: US"
        );
    }

    #[test]
    fn missing_or_odd_fields_are_left_out() {
        assert_eq!(Summary::of(&json!({})), Summary::default());
        assert_eq!(
            Summary::of(&json!({"entities": [{"roles": "registrar", "vcardArray": 5}]})),
            Summary::default()
        );
        let adr_name_only = json!({"entities": [{"roles": ["registrant"],
            "vcardArray": ["vcard", [["adr", {}, "text", ["", "", "", "", "", "", "Ireland"]]]]}]});
        assert_eq!(Summary::of(&adr_name_only).country.as_deref(), Some("Ireland"));
        assert_eq!(Summary::default().message("Domain", "x.org"), "Domain: x.org");
    }
}
