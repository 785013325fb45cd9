//! The table's key design (documented in docs/data-model.md; the key schema itself is defined in
//! template.yaml and checked against these names by `flowiq_harness::events_table`'s tests).
//!
//! - Base table `pk`/`sk`: a message's events and its state share one partition (`MSG#<wamid>`),
//!   so "a message's events in time order" and "a message's state" are single-partition reads.
//! - `by-contact`: a contact's conversation in time order (organization + a keyed hash of the
//!   WhatsApp number, or FlowIQ's contact id).
//! - `by-organization`: an organization's events by time, sharded over [`ORGANIZATION_SHARDS`]
//!   partitions so a one-organization broadcast burst has no hot key.

use crate::contact_key::ContactKey;
use crate::event_id::EventId;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const CONTACT_PK: &str = "contact_pk";
pub const CONTACT_SK: &str = "contact_sk";
pub const ORG_PK: &str = "org_pk";
pub const ORG_SK: &str = "org_sk";
pub const BY_CONTACT_INDEX: &str = "by-contact";
pub const BY_ORGANIZATION_INDEX: &str = "by-organization";
pub const REJECTION_PK: &str = "rejection_pk";
pub const REJECTION_SK: &str = "rejection_sk";
/// Sparse: only `rejected` items carry its keys.
pub const BY_REJECTION_INDEX: &str = "by-rejection";
/// The one partition of `by-rejection`: rejected deliveries are rare (a flood beyond the index
/// partition's 1,000 writes/s is throttled and spilled, not lost).
pub const REJECTIONS: &str = "REJECTED";
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// Shards of an organization's time index. 32 keeps one shard at ~3 % of a one-organization burst
/// (the goal is at most 5 %), and a time-range query costs 32 parallel queries.
pub const ORGANIZATION_SHARDS: u32 = 32;

/// The sort key of the state item in a message's partition.
pub const MESSAGE_SK: &str = "MESSAGE";

/// Stands in for the time of events that carry none; sorts after every date.
pub const UNDATED: &str = "undated";

// Keys are joined with `concat` rather than `format!`: one allocation of the right size and no
// formatting machinery, on the path of every delivery.

pub fn message_pk(whatsapp_message_id: &str) -> String {
    ["MSG#", whatsapp_message_id].concat()
}

/// Deterministic from the event alone (never from the time of receipt), so the conditional put on
/// this key is the dedup.
pub fn event_key(
    whatsapp_message_id: Option<&str>,
    occurred_at: Option<&str>,
    event_id: &EventId,
) -> (String, String) {
    let pk = match whatsapp_message_id {
        Some(wamid) => message_pk(wamid),
        None => ["EVT#", event_id.as_str()].concat(),
    };
    let sk = [
        "EVENT#",
        occurred_at.unwrap_or(UNDATED),
        "#",
        event_id.as_str(),
    ]
    .concat();
    (pk, sk)
}

/// The contact a conversation is keyed by: the WhatsApp number, as its keyed hash
/// (`CONTACT#<org>#wah:<digest>`, [`ContactKey`]), or FlowIQ's contact id when the event has
/// no number (web chat; an opaque id FlowIQ assigns, kept as it is: docs/security.md#contact-keys).
pub fn contact_pk(
    key: &ContactKey,
    organization_id: &str,
    whatsapp_id: Option<&str>,
    contact_id: Option<&str>,
) -> Option<String> {
    match (whatsapp_id, contact_id) {
        (Some(number), _) => Some(whatsapp_contact_pk(key, organization_id, number)),
        (None, Some(contact)) => Some(contact_id_pk(organization_id, contact)),
        (None, None) => None,
    }
}

/// The `by-contact` key of a contact known only by FlowIQ's contact id.
pub fn contact_id_pk(organization_id: &str, contact_id: &str) -> String {
    ["CONTACT#", organization_id, "#id:", contact_id].concat()
}

/// A WhatsApp number's `by-contact` key.
pub fn whatsapp_contact_pk(key: &ContactKey, organization_id: &str, number: &str) -> String {
    [
        "CONTACT#",
        organization_id,
        "#wah:",
        &key.whatsapp_digest(organization_id, number),
    ]
    .concat()
}

/// The key items written before contact keys were hashed carry (`CONTACT#<org>#wa:<number>`):
/// only readers use it, to find those items; nothing writes it any more.
pub fn plain_whatsapp_contact_pk(organization_id: &str, number: &str) -> String {
    ["CONTACT#", organization_id, "#wa:", number].concat()
}

pub fn organization_pk(organization_id: &str, event_id: &EventId) -> String {
    let shard = event_id.shard(ORGANIZATION_SHARDS) as u8;
    let digits = [b'0' + shard / 10, b'0' + shard % 10];
    let digits = std::str::from_utf8(&digits).expect("two ASCII digits");
    ["ORG#", organization_id, "#", digits].concat()
}

/// All shard keys of an organization, for a time-range query.
pub fn organization_pks(organization_id: &str) -> impl Iterator<Item = String> + '_ {
    (0..ORGANIZATION_SHARDS).map(move |shard| format!("ORG#{organization_id}#{shard:02}"))
}

/// Index sort keys: time first, then the id to keep equal times apart.
pub fn time_sk(at: &str, event_id: &EventId) -> String {
    [at, "#", event_id.as_str()].concat()
}

/// Rejected deliveries: keyed by the body's SHA-256, so repeats of one bad body share a partition.
/// The `by-rejection` sort key: in order of receipt.
pub fn rejection_sk(received_at: &str, request_id: &str) -> String {
    format!("{received_at}#{request_id}")
}

pub fn rejected_key(body_sha256: &str, received_at: &str, request_id: &str) -> (String, String) {
    (
        format!("REJECTED#{body_sha256}"),
        format!("AT#{received_at}#{request_id}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;

    #[test]
    fn event_keys_put_a_message_events_beside_its_state_in_time_order() {
        let id = EventId::of(Platform::Whatsapp, &serde_json::json!({"n": 1}));
        let (pk, sk) = event_key(Some("wamid.1"), Some("2026-03-07T00:00:00.000Z"), &id);
        assert_eq!(pk, message_pk("wamid.1"));
        assert_eq!(sk, format!("EVENT#2026-03-07T00:00:00.000Z#{id}"));
        let (pk, sk) = event_key(None, None, &id);
        assert_eq!(
            (pk, sk),
            (format!("EVT#{id}"), format!("EVENT#undated#{id}"))
        );
        assert!("EVENT#9999-12-31T23:59:59.999Z" < "EVENT#undated");
    }

    #[test]
    fn contacts_prefer_the_whatsapp_number_as_its_keyed_hash() {
        let key = ContactKey::new(crate::contact_key::LOCAL_DEV_CONTACT_KEY).unwrap();
        let hashed = contact_pk(&key, "o", Some("27830000001"), Some("c")).unwrap();
        assert_eq!(
            hashed,
            format!("CONTACT#o#wah:{}", key.whatsapp_digest("o", "27830000001"))
        );
        assert_eq!(hashed, whatsapp_contact_pk(&key, "o", "27830000001"));
        assert!(!hashed.contains("27830000001"));
        assert_eq!(
            plain_whatsapp_contact_pk("o", "27830000001"),
            "CONTACT#o#wa:27830000001"
        );
        assert_eq!(
            contact_pk(&key, "o", None, Some("c")).unwrap(),
            "CONTACT#o#id:c"
        );
        assert_eq!(contact_pk(&key, "o", None, None), None);
    }

    #[test]
    fn organization_keys_cover_every_shard() {
        let all: Vec<_> = organization_pks("o").collect();
        assert_eq!(all.len(), ORGANIZATION_SHARDS as usize);
        let id = EventId::of(Platform::Whatsapp, &serde_json::json!({}));
        assert!(all.contains(&organization_pk("o", &id)));
        for n in 0..200 {
            let id = EventId::of(Platform::Whatsapp, &serde_json::json!({ "n": n }));
            let expected = format!("ORG#o#{:02}", id.shard(ORGANIZATION_SHARDS));
            assert_eq!(organization_pk("o", &id), expected);
        }
    }
}
