//! Reading request input with errors that name the culprit.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use outpost_proto::manifest::json_type;
use outpost_proto::{ErrorCode, OutpostError};
use serde_json::{Map, Value};

use super::{ApiError, MAX_BODY_BYTES};

/// A request body, read whatever its content type (curl's `-d` sends a form type), with
/// an over-size or unreadable body answered in SOAR's error shape.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError(OutpostError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than the {MAX_BODY_BYTES} bytes allowed"),
            ))),
            Err(e) => Err(ApiError(OutpostError::invalid(format!("cannot read the request body: {}", e.body_text())))),
        }
    }
}

/// Parses a request body that must be one JSON object.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, OutpostError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(OutpostError::invalid("the request body is empty; send a JSON object"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => {
            Err(OutpostError::invalid(format!("the request body must be a JSON object, got {}", json_type(&other))))
        }
        Err(e) => Err(OutpostError::invalid(format!("malformed JSON: {e}"))),
    }
}

/// Parses a path id.
pub fn id(text: &str, what: &str) -> Result<i64, OutpostError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| OutpostError::invalid(format!("'{text}' is not a valid {what} id")))
}

fn wrong(field: &str, expected: &str, got: &Value) -> OutpostError {
    OutpostError::invalid(format!("'{field}' must be {expected}, got {}", json_type(got)))
}

/// Typed access to the fields of a request object.
pub struct Fields<'a> {
    /// The parsed body the fields are read from.
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Fields { map }
    }

    /// Refuses fields outside `known`, so a typo is an error rather than ignored.
    pub fn only(&self, known: &[&str]) -> Result<(), OutpostError> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => {
                Err(OutpostError::invalid(format!("unknown field '{unknown}' (expected: {})", known.join(", "))))
            }
            None => Ok(()),
        }
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    pub fn string(&self, field: &str) -> Result<Option<String>, OutpostError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(wrong(field, "a string", other)),
        }
    }

    pub fn required_string(&self, field: &str) -> Result<String, OutpostError> {
        match self.string(field)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(OutpostError::invalid(format!("'{field}' is required"))),
        }
    }

    pub fn int(&self, field: &str) -> Result<Option<i64>, OutpostError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| OutpostError::invalid(format!("'{field}' must be an integer, got {n}"))),
            Some(other) => Err(wrong(field, "an integer", other)),
        }
    }

    pub fn required_int(&self, field: &str) -> Result<i64, OutpostError> {
        self.int(field)?.ok_or_else(|| OutpostError::invalid(format!("'{field}' is required")))
    }

    pub fn bool(&self, field: &str) -> Result<Option<bool>, OutpostError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(wrong(field, "true or false", other)),
        }
    }

    pub fn object(&self, field: &str) -> Result<Option<&'a Map<String, Value>>, OutpostError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => Err(wrong(field, "an object", other)),
        }
    }

    pub fn array(&self, field: &str) -> Result<Option<&'a Vec<Value>>, OutpostError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(wrong(field, "a list", other)),
        }
    }

    /// A list of strings.
    pub fn strings(&self, field: &str) -> Result<Option<Vec<String>>, OutpostError> {
        let Some(items) = self.array(field)? else { return Ok(None) };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => {
                    Err(OutpostError::invalid(format!("'{field}[{i}]' must be a string, got {}", json_type(other))))
                }
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// A field that may be set to `null` on purpose: `None` when absent, `Some(None)`
    /// when null (clear it), `Some(Some(id))` when an id.
    pub fn nullable_id(&self, field: &str) -> Result<Option<Option<i64>>, OutpostError> {
        match self.map.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(_) => Ok(Some(self.id_like(field)?)),
        }
    }

    /// A date-time field: `None` when absent, `Some(None)` when null or `""` (clear it),
    /// `Some(Some(ms))` when an ISO 8601 date-time.
    pub fn time(&self, field: &str) -> Result<Option<Option<i64>>, OutpostError> {
        match self.map.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
            Some(Value::String(s)) => outpost_proto::time::parse_iso(s).map(|ms| Some(Some(ms))).ok_or_else(|| {
                OutpostError::invalid(format!("'{field}' must be an ISO 8601 date-time, got '{}'", s.trim()))
            }),
            Some(other) => Err(wrong(field, "an ISO 8601 date-time string", other)),
        }
    }

    /// The raw value of a field, null included.
    pub fn value(&self, field: &str) -> Option<&'a Value> {
        self.get(field)
    }

    /// An id given as a number or as a string of digits.
    pub fn id_like(&self, field: &str) -> Result<Option<i64>, OutpostError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                n.as_i64().map(Some).ok_or_else(|| OutpostError::invalid(format!("'{field}' must be an integer id")))
            }
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| OutpostError::invalid(format!("'{field}' must be an integer id, got \"{s}\""))),
            Some(other) => Err(wrong(field, "an integer id", other)),
        }
    }
}

/// A number or a string, as the text SOAR accepts for ids and names (e.g. `assets`).
pub fn id_or_name(value: &Value, field: &str) -> Result<String, OutpostError> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Value::Number(n) if n.as_i64().is_some() => Ok(n.to_string()),
        other => Err(OutpostError::invalid(format!("'{field}' must hold ids or names, got {}", json_type(other)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies() {
        assert!(object(b"").unwrap_err().message.contains("empty"));
        assert!(object(b"{nope").unwrap_err().message.starts_with("malformed JSON"));
        assert!(object(b"[1]").unwrap_err().message.contains("got a list"));
        assert!(object(b"{\"a\": 1}").is_ok());
    }

    #[test]
    fn fields_name_the_culprit() {
        let map = json!({"s": "x", "n": 5, "f": 1.5, "b": true, "l": ["a", 2], "o": {}, "nul": null})
            .as_object()
            .unwrap()
            .clone();
        let f = Fields::new(&map);
        assert_eq!(f.string("s").unwrap().as_deref(), Some("x"));
        assert_eq!(f.string("n").unwrap_err().message, "'n' must be a string, got a number");
        assert_eq!(f.int("f").unwrap_err().message, "'f' must be an integer, got 1.5");
        assert_eq!(f.required_int("missing").unwrap_err().message, "'missing' is required");
        assert_eq!(f.int("nul").unwrap(), None);
        assert_eq!(f.bool("s").unwrap_err().message, "'s' must be true or false, got a string");
        assert_eq!(f.strings("l").unwrap_err().message, "'l[1]' must be a string, got a number");
        assert!(f.object("l").unwrap_err().message.contains("must be an object"));
        assert!(f.only(&["s"]).unwrap_err().message.starts_with("unknown field"));
        assert_eq!(f.nullable_id("nul").unwrap(), Some(None));
        assert_eq!(f.nullable_id("n").unwrap(), Some(Some(5)));
        assert_eq!(f.nullable_id("missing").unwrap(), None);
        assert!(f.time("s").unwrap_err().message.contains("ISO 8601"));
        assert_eq!(id("12", "container").unwrap(), 12);
        assert!(id("x", "container").unwrap_err().message.contains("not a valid container id"));
        assert!(id("-3", "container").is_err());
    }
}
