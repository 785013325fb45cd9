//! Cursors printed by a run so that the next one continues after it.
//!
//! - Replay: the last sent event's position in time order, `<time>#<event_id>` (plain text, the
//!   same form as the `by-organization` sort key). `--resume` sends only events strictly after it.
//! - Conversation pages: DynamoDB's `LastEvaluatedKey` (string attributes only), as URL-safe
//!   base64 of its JSON, for `--cursor`.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::queries::Item;

/// For clap's `value_parser` (`--resume`): `<sortable UTC time>#<32 hex digit event id>`.
pub fn parse_replay_cursor(value: &str) -> Result<String, &'static str> {
    let invalid = "expected a cursor printed by a previous run (<time>#<event id>, e.g. \
        2026-03-07T10:00:00.000Z#0123456789abcdef0123456789abcdef)";
    let (time, id) = value.trim().rsplit_once('#').ok_or(invalid)?;
    let time_ok = time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T';
    let id_ok = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if time_ok && id_ok {
        Ok(value.trim().to_owned())
    } else {
        Err(invalid)
    }
}

/// Encodes a page's `LastEvaluatedKey`.
pub fn encode_page_cursor(key: &Item) -> String {
    let strings: BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.as_s().ok()?.as_str())))
        .collect();
    let json = serde_json::to_vec(&strings).expect("a map of strings serialises");
    URL_SAFE_NO_PAD.encode(json)
}

/// For clap's `value_parser` (`--cursor`).
pub fn parse_page_cursor(value: &str) -> Result<Item, &'static str> {
    let invalid = "expected a cursor printed by a previous run (the `next_cursor` of the \
        previous page)";
    let json = URL_SAFE_NO_PAD.decode(value.trim()).map_err(|_| invalid)?;
    let strings: BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| invalid)?;
    Ok(strings
        .into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cursors_are_time_and_event_id() {
        let ok = "2026-03-07T10:00:00.000Z#0123456789abcdef0123456789abcdef";
        assert_eq!(parse_replay_cursor(ok).unwrap(), ok);
        for bad in [
            "",
            "2026-03-07T10:00:00.000Z",
            "2026-03-07T10:00:00Z#0123456789abcdef0123456789abcdef",
            "2026-03-07T10:00:00.000Z#xyz",
        ] {
            assert!(parse_replay_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn page_cursors_round_trip() {
        let key: Item = [("pk", "MSG#wamid.1"), ("contact_sk", "2026#x")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
            .collect();
        assert_eq!(parse_page_cursor(&encode_page_cursor(&key)).unwrap(), key);
        assert!(parse_page_cursor("not base64!").is_err());
    }
}
