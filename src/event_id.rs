//! Deterministic event ids: the same event delivered again gets the same id, whatever its key
//! order or whitespace; different events (any field differs) get different ids.

use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::platform::Platform;

/// 128 bits of SHA-256 over the platform and the canonical JSON of the body, as 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(String);

impl EventId {
    pub fn of(platform: Platform, body: &Value) -> Self {
        let mut canonical = Vec::with_capacity(1024);
        canonical.extend_from_slice(platform.as_str().as_bytes());
        canonical.push(b'\n');
        write_canonical(&mut canonical, body);
        EventId(hex::encode(&Sha256::digest(&canonical)[..16]))
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

/// Compact JSON with object keys sorted, strings and numbers as serde_json prints them. Sorting
/// here (rather than relying on serde_json's map type) keeps ids stable whether or not a
/// dependency turns on serde_json's `preserve_order` feature (aws-smithy-http-client does).
fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write_canonical(out, item);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.extend_from_slice(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b",");
                }
                write_canonical(out, item);
            }
            out.extend_from_slice(b"]");
        }
        Value::String(text) => write_string(out, text),
        scalar => serde_json::to_writer(out, scalar).expect("writing to a Vec cannot fail"),
    }
}

/// A JSON string exactly as serde_json prints it: most need no escaping and are copied as is.
fn write_string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.extend_from_slice(b"\"");
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\"");
    } else {
        serde_json::to_writer(out, text).expect("writing to a Vec cannot fail");
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
