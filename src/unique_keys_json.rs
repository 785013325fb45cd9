//! JSON parsing that refuses duplicate object keys. `{"status":"read","status":"failed"}` means
//! different things to different parsers (first wins, last wins, error); storing it as one event
//! would hide the ambiguity, so the body is rejected instead. Parses in one pass, with
//! serde_json's own recursion limit (128 levels).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Parses `bytes` as JSON, failing on a duplicate key in any object.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<UniqueKeys>(bytes).map(|parsed| parsed.0)
}

/// Field names are safe to name; anything else (it may be personal data) is not.
fn duplicate_key<E: de::Error>(key: &str) -> E {
    let shown = if key.len() <= 64 && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        format!(" `{key}`")
    } else {
        String::new()
    };
    E::custom(format!("duplicate key{shown} in an object"))
}

struct UniqueKeys(Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UniqueKeysVisitor)
            .map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let UniqueKeys(value) = map.next_value()?;
            // One lookup per key: every delivery is parsed with this.
            let duplicate = match object.entry(key) {
                Entry::Vacant(entry) => {
                    entry.insert(value);
                    continue;
                }
                Entry::Occupied(duplicate) => duplicate,
            };
            return Err(duplicate_key(duplicate.key()));
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_serde_json_when_keys_are_unique() {
        let text = r#"{"a":[1,-2,3.5,1e300,"x",null,true,{"b":{}}],"c":"\u00e9\ud83d\ude00"}"#;
        assert_eq!(
            from_slice(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        let err = from_slice(br#"{"status":"read","status":"failed"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("duplicate key `status` in an object"),
            "{err}"
        );
        let err = from_slice(br#"{"a":[{"x":1,"x":1}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate key `x`"), "{err}");
        let err = from_slice(br#"{"27830000001":1,"27830000001":2}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("duplicate key in an object"),
            "never quotes other keys: {err}"
        );
    }

    #[test]
    fn keeps_serde_jsons_limits() {
        let deep = "[".repeat(100_000);
        assert!(
            from_slice(deep.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("recursion limit")
        );
        assert!(
            from_slice(b"1e400")
                .unwrap_err()
                .to_string()
                .contains("number out of range")
        );
        assert!(from_slice(b"NaN").is_err());
    }
}
