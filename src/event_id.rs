//! Deterministic event ids: the same event delivered again gets the same id, whatever its key
//! order or whitespace; different events (any field differs) get different ids.

use std::fmt;
use std::io::{self, Write};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::platform::Platform;
use crate::unique_keys_json::Object;

/// 128 bits of SHA-256 over the platform and the canonical JSON of the body, as 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(String);

impl EventId {
    pub fn of(platform: Platform, body: &Value) -> Self {
        let mut canonical = CanonicalHasher::new(platform);
        write_canonical(&mut canonical, body);
        canonical.finish()
    }

    /// The id of a body parsed as an [`Object`] (the same as [`EventId::of`] its `Value`); its
    /// members are already in the canonical order.
    pub fn of_object(platform: Platform, body: &Object) -> Self {
        let mut canonical = CanonicalHasher::new(platform);
        write_members(&mut canonical, body.iter());
        canonical.finish()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// A well-spread number in `0..buckets`, for sharding keys by event.
    pub fn shard(&self, buckets: u32) -> u32 {
        let prefix = u32::from_str_radix(&self.0[..8], 16).expect("an event id is hex");
        prefix % buckets
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// SHA-256 of `<platform>\n<canonical JSON>`, fed through a stack buffer: the canonical text is
/// written in many small pieces, and calling the hasher for each costs more than copying them;
/// a heap buffer of the whole text costs an allocation (a large one for big bodies).
struct CanonicalHasher {
    hasher: Sha256,
    buffer: [u8; 512],
    len: usize,
}

impl CanonicalHasher {
    fn new(platform: Platform) -> Self {
        let mut hasher = CanonicalHasher {
            hasher: Sha256::new(),
            buffer: [0; 512],
            len: 0,
        };
        hasher.put(platform.as_str().as_bytes());
        hasher.put(b"\n");
        hasher
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buffer.len() {
            self.hasher.update(&self.buffer[..self.len]);
            self.len = 0;
            if bytes.len() > self.buffer.len() {
                self.hasher.update(bytes);
                return;
            }
        }
        self.buffer[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn finish(mut self) -> EventId {
        self.hasher.update(&self.buffer[..self.len]);
        EventId(hex::encode(&self.hasher.finalize()[..16]))
    }
}

/// What the canonical text is written to: the hasher, or a `Vec` in tests.
trait Canonical: Write {
    fn put(&mut self, bytes: &[u8]);
}

impl Canonical for CanonicalHasher {
    fn put(&mut self, bytes: &[u8]) {
        CanonicalHasher::put(self, bytes);
    }
}

impl Write for CanonicalHasher {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.put(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Canonical for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Compact JSON with object keys sorted, strings and numbers as serde_json prints them. Sorting
/// here (rather than relying on serde_json's map type) keeps ids stable whether or not a
/// dependency turns on serde_json's `preserve_order` feature (aws-smithy-http-client does).
fn write_canonical(out: &mut impl Canonical, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            write_members(out, entries.into_iter());
        }
        Value::Array(items) => {
            out.put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                write_canonical(out, item);
            }
            out.put(b"]");
        }
        Value::String(text) => write_string(out, text),
        scalar => serde_json::to_writer(out, scalar).expect("writing to a hasher cannot fail"),
    }
}

/// An object whose members come in name order.
fn write_members<'a>(
    out: &mut impl Canonical,
    members: impl Iterator<Item = (&'a str, &'a Value)>,
) {
    out.put(b"{");
    for (i, (key, item)) in members.enumerate() {
        if i > 0 {
            out.put(b",");
        }
        write_string(out, key);
        out.put(b":");
        write_canonical(out, item);
    }
    out.put(b"}");
}

/// A JSON string exactly as serde_json prints it: most need no escaping and are copied as is.
fn write_string(out: &mut impl Canonical, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.put(b"\"");
        out.put(text.as_bytes());
        out.put(b"\"");
    } else {
        serde_json::to_writer(out, text).expect("writing to a hasher cannot fail");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(body: &str) -> EventId {
        EventId::of(Platform::Whatsapp, &serde_json::from_str(body).unwrap())
    }

    #[test]
    fn same_event_reserialised_gets_the_same_id() {
        let a = id(
            r#"{"event_type":"message_read","whatsapp_message_id":"w","nested":{"b":1,"a":[1,{"y":2,"x":"é"}]}}"#,
        );
        let b = id(
            "{ \"nested\" : { \"a\" : [ 1 , { \"x\" : \"\\u00e9\", \"y\" : 2 } ], \"b\" : 1 },\n  \"whatsapp_message_id\":\"w\", \"event_type\":\"message_read\" }",
        );
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn different_events_get_different_ids() {
        let base = json!({"event_type":"message_delivered","whatsapp_message_id":"w","status":"delivered","timestamp":"2026-03-07T00:00:00.000Z"});
        let mut read = base.clone();
        read["event_type"] = json!("message_read");
        read["status"] = json!("read");
        let mut later = base.clone();
        later["timestamp"] = json!("2026-03-07T00:00:00.001Z");
        let ids = [&base, &read, &later].map(|v| EventId::of(Platform::Whatsapp, v));
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[2]);
        assert_ne!(
            EventId::of(Platform::Web, &base),
            ids[0],
            "platform is part of the id"
        );
        // Structure matters, not only the characters.
        assert_ne!(id(r#"{"a":"1"}"#), id(r#"{"a":1}"#));
        assert_ne!(id(r#"{"a":[1,2]}"#), id(r#"{"a":[2,1]}"#));
    }

    /// Ids are stored: a new version must give every event the id it had before. The expected
    /// id was computed independently (Python: `json.dumps(sort_keys=True, separators=(",", ":"),
    /// ensure_ascii=False)`, SHA-256 of `"whatsapp\n" + that`, first 16 bytes in hex).
    #[test]
    fn ids_are_stable_across_versions() {
        let body = r#"{"event_type": "message_received", "message": "line1\nline2 \"quoted\" back\\slash \u0001\u001f\u007f \u00e9 \ud83d\ude00 \t", "whatsapp_message_id": "wamid.X", "n": 5, "neg": -12, "nested": {"b": [1, true, null], "a": "x", "\u00e9": "key with \u00e9"}}"#;
        assert_eq!(id(body).as_str(), "02060d1c0864c3b453b1d14323a3c7d9");
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for text in [
            "",
            "plain",
            "é 😀",
            "quote \" backslash \\ slash /",
            "\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}",
        ] {
            let mut out = Vec::new();
            write_string(&mut out, text);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(text).unwrap()
            );
        }
    }

    /// Deliveries are hashed from their parsed [`Object`]: the same id as from the `Value`.
    #[test]
    fn an_object_gets_the_id_of_its_value() {
        let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
        let mut bodies = vec![
            r#"{"z":{"b":1,"a":[{"d":2,"c":"\u00e9\n"}]},"\u00e9":1.5e300,"a":"\"quoted\"","":null}"#.to_owned(),
            format!(r#"{{"long":"{}","short":1}}"#, "x".repeat(2000)),
        ];
        for entry in std::fs::read_dir(samples).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let event: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            if let Some(body) = event.get("body").and_then(Value::as_str) {
                bodies.push(body.to_owned());
            }
        }
        assert!(bodies.len() > 10, "the samples in events/ are read");
        for body in &bodies {
            let object = match crate::unique_keys_json::document_from_slice(body.as_bytes()) {
                Ok(crate::unique_keys_json::Document::Object(object)) => object,
                other => panic!("{body}: {other:?}"),
            };
            for platform in [Platform::Whatsapp, Platform::Web] {
                assert_eq!(
                    EventId::of_object(platform, &object),
                    EventId::of(platform, &serde_json::from_str(body).unwrap()),
                    "{body}"
                );
            }
        }
    }

    #[test]
    fn shards_are_in_range() {
        let shard = id("{}").shard(32);
        assert!(shard < 32);
    }

    /// Found by fuzzing: without correctly rounded float parsing, printing and re-reading these
    /// numbers gives other doubles, and so another id for the same event.
    #[test]
    fn numbers_reprinted_by_a_serialiser_keep_the_id() {
        for number in [
            "18.1245901234678207",
            "9.502964279199666e-14",
            "18.124590123467822",
        ] {
            let original = format!(r#"{{"event_type":"call","x":{number}}}"#);
            let reprinted = serde_json::from_str::<Value>(&original)
                .unwrap()
                .to_string();
            assert_eq!(id(&original), id(&reprinted), "{number}");
            let twice = serde_json::from_str::<Value>(&reprinted)
                .unwrap()
                .to_string();
            assert_eq!(
                reprinted, twice,
                "{number}: print -> parse is a fixed point"
            );
        }
    }
}
