//! JSON parsing that refuses duplicate object keys. `{"status":"read","status":"failed"}` means
//! different things to different parsers (first wins, last wins, error); storing it as one event
//! would hide the ambiguity, so the body is rejected instead. Parses in one pass, with
//! serde_json's own recursion limit (128 levels).

use std::borrow::Cow;
use std::fmt;

use serde::de::value::MapDeserializer;
use serde::de::{
    self, Deserialize, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Parses `bytes` as JSON, failing on a duplicate key in any object.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<UniqueKeys>(bytes).map(|parsed| parsed.0)
}

/// A parsed delivery body: a top-level object as [`Object`], anything else as a `Value`.
#[derive(Debug)]
pub enum Document<'a> {
    Object(Object<'a>),
    Other(Value),
}

/// Like [`from_slice`], but a top-level object becomes an [`Object`]: what every delivery is
/// parsed with, so its members are neither hashed nor their names copied.
pub fn document_from_slice(bytes: &[u8]) -> Result<Document<'_>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let document = deserializer.deserialize_any(DocumentVisitor)?;
    deserializer.end()?;
    Ok(document)
}

/// The members of a JSON object in name order (no duplicates), names borrowed from the body
/// unless they contain escapes. Nested objects are ordinary `Value`s.
#[derive(Debug, Clone, PartialEq)]
pub struct Object<'a> {
    /// In body order.
    members: Vec<(Cow<'a, str>, Value)>,
    /// Indexes into `members` in name order, each with its name's first 8 bytes as a big-endian
    /// number: most comparisons are one integer comparison, and sorting moves 16 bytes per
    /// member rather than a whole member.
    order: Vec<(u64, u32)>,
}

impl<'a> Object<'a> {
    fn new(members: Vec<(Cow<'a, str>, Value)>) -> Self {
        let mut order: Vec<(u64, u32)> = (0..members.len())
            .map(|i| (name_prefix(&members[i].0), i as u32))
            .collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| members[a.1 as usize].0.cmp(&members[b.1 as usize].0))
        });
        Object { members, order }
    }

    fn name(&self, entry: (u64, u32)) -> &str {
        &self.members[entry.1 as usize].0
    }

    /// A name that appears twice, if any.
    fn duplicate(&self) -> Option<&str> {
        self.order
            .windows(2)
            .find(|pair| pair[0].0 == pair[1].0 && self.name(pair[0]) == self.name(pair[1]))
            .map(|pair| self.name(pair[0]))
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        let prefix = name_prefix(name);
        self.order
            .binary_search_by(|&entry| {
                entry
                    .0
                    .cmp(&prefix)
                    .then_with(|| self.name(entry).cmp(name))
            })
            .ok()
            .map(|i| &self.members[self.order[i].1 as usize].1)
    }

    /// The members in name order (byte order of the names, as `str` compares).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.order.iter().map(|&(_, i)| {
            let (name, value) = &self.members[i as usize];
            (name.as_ref(), value)
        })
    }

    /// The object as `T` (a struct with named fields), as `T::deserialize(&Value)` would read it.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self.deserializer())
    }

    /// As [`Object::deserialize`], moving the values (strings, nested objects) into `T`.
    pub fn into_deserialize<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        T::deserialize(MapDeserializer::<_, serde_json::Error>::new(
            self.members.into_iter(),
        ))
    }

    /// A serde `Deserializer` of the object (for `serde_path_to_error`).
    pub fn deserializer(
        &self,
    ) -> MapDeserializer<'_, impl Iterator<Item = (&str, &Value)>, serde_json::Error> {
        MapDeserializer::new(self.iter())
    }
}

/// The first 8 bytes of `name`, zero-padded, as a big-endian number: ordered as the names are
/// whenever they differ (names that differ only later, or by trailing zero bytes, compare equal
/// here and are ordered by the whole name).
fn name_prefix(name: &str) -> u64 {
    let mut bytes = [0; 8];
    let len = name.len().min(8);
    bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
    u64::from_be_bytes(bytes)
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Document::Other(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Document::Other(Value::Number(v.into())))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Document::Other(Value::Number(v.into())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        UniqueKeysVisitor.visit_f64(v).map(Document::Other)
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Document::Other(Value::String(v.to_owned())))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Document::Other(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        UniqueKeysVisitor.visit_seq(seq).map(Document::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(24);
        while let Some(key) = map.next_key_seed(MemberName)? {
            let UniqueKeys(value) = map.next_value()?;
            members.push((key, value));
        }
        // Sorting finds duplicates (they become neighbours) and is the order the event id needs.
        let object = Object::new(members);
        if let Some(name) = object.duplicate() {
            return Err(duplicate_key(name));
        }
        Ok(Document::Object(object))
    }
}

/// A member name, borrowed from the body when it has no escapes.
struct MemberName;

impl<'de> DeserializeSeed<'de> for MemberName {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberName {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
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

    fn object(text: &str) -> Object<'_> {
        match document_from_slice(text.as_bytes()).unwrap() {
            Document::Object(object) => object,
            Document::Other(other) => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn a_document_object_holds_what_the_value_holds_in_name_order() {
        let text = r#"{"z":1,"a\u0062c":{"y":[2,{"k":null}],"x":"é"},"m":true,"":"empty","é":"e","whatsapp_message_id":1,"whatsapp_id":2,"whatsapp":3,"whatsapp\u0000":4,"whatsapp\u0000\u0000x":5,"whatsap":6}"#;
        let parsed = object(text);
        let names: Vec<&str> = parsed.iter().map(|(name, _)| name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(names[..4], ["", "abc", "m", "whatsap"]);
        assert_eq!(names.len(), 11);
        let expected = serde_json::from_str::<Value>(text).unwrap();
        for (name, value) in parsed.iter() {
            assert_eq!(Some(value), expected.get(name), "{name}");
            assert_eq!(parsed.get(name), Some(value));
        }
        assert_eq!(parsed.get("missing"), None);
        assert_eq!(parsed.iter().len(), expected.as_object().unwrap().len());
    }

    #[test]
    fn a_document_refuses_duplicates_and_trailing_text() {
        for (text, expected) in [
            (r#"{"b":1,"a":2,"b":3}"#, "duplicate key `b` in an object"),
            (r#"{"a":1,"\u0061":2}"#, "duplicate key `a` in an object"),
            (
                r#"{"whatsapp_id":1,"whatsapp_message_id":2,"whatsapp_id":3}"#,
                "duplicate key `whatsapp_id` in an object",
            ),
            (r#"{"a":{"x":1,"x":2}}"#, "duplicate key `x` in an object"),
            (r#"{"a":1} {"#, "trailing characters"),
            (r#"{"a":1"#, "EOF while parsing an object"),
        ] {
            let err = document_from_slice(text.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(expected), "{text}: {err}");
        }
    }

    #[test]
    fn a_document_keeps_other_values_as_values() {
        for text in ["[1,{\"a\":2}]", "\"text\"", "12.5", "-3", "true", "null"] {
            match document_from_slice(text.as_bytes()).unwrap() {
                Document::Other(value) => {
                    assert_eq!(value, serde_json::from_str::<Value>(text).unwrap())
                }
                Document::Object(_) => panic!("{text} is not an object"),
            }
        }
        assert!(document_from_slice(b"[{\"a\":1,\"a\":1}]").is_err());
    }

    #[test]
    fn a_document_object_deserializes_like_its_value() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Fields {
            a: Option<String>,
            #[serde(alias = "bee")]
            b: Option<u32>,
            nested: Option<Map<String, Value>>,
        }
        for text in [
            r#"{"a":"x","bee":7,"nested":{"k":[1]},"other":0}"#,
            r#"{"a":null}"#,
            r#"{}"#,
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            let expected = Fields::deserialize(&value).unwrap();
            assert_eq!(object(text).deserialize::<Fields>().unwrap(), expected);
            assert_eq!(object(text).into_deserialize::<Fields>().unwrap(), expected);
        }
        for text in [r#"{"a":5}"#, r#"{"nested":[]}"#, r#"{"bee":-1}"#] {
            let expected = Fields::deserialize(&serde_json::from_str::<Value>(text).unwrap())
                .unwrap_err()
                .to_string();
            let by_reference = object(text).deserialize::<Fields>().unwrap_err();
            let by_value = object(text).into_deserialize::<Fields>().unwrap_err();
            assert_eq!(by_reference.to_string(), expected);
            assert_eq!(by_value.to_string(), expected);
        }
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
