//! Fuzzes the body parser and the event model: `WebhookEvent::parse` on arbitrary bytes, and for
//! every body, what the receiver would store for it (storage contract v2: one `event` item per
//! accepted body, a `rejected` item for any other).
//!
//! Input: the first byte picks the platform (even: `whatsapp`, odd: `web`; the seeds start with
//! `0` or `1`), the rest is the raw request body exactly as the handler passes it on.
//!
//! Nothing may panic, and for an accepted body:
//! - the body is UTF-8 (`acceptance.rs` relies on it with an `expect`);
//! - the event id is `EventId::of(platform, <the body's JSON>)`, 32 lower-case hex digits, and
//!   that JSON is what `serde_json::from_slice` reads (but for serde_json's private marker keys);
//! - parsing the same bytes again, and the body re-serialised by serde_json (compact; keys
//!   reversed and pretty-printed) give the same event, so the same id: a re-serialised copy is
//!   a duplicate, never a second event;
//! - every id that becomes part of a key is 1..=256 characters of `A-Za-z0-9._:=+/-` (never `#`),
//!   the occurred-at time is in the sortable 24-character UTC form;
//! - `event_item` gives the one `event` item: its keys and index keys are non-empty, within
//!   DynamoDB's limits (partition key 2048 bytes, sort key 1024 bytes) and whole or absent; it
//!   expires 30 days after receipt;
//! - the item survives DynamoDB's attribute form (`serde_dynamo`, as the store writes and the
//!   readers read it) unchanged; the body read back from it is the received body byte for byte
//!   (stored as text or deflated), and parses to the same event with the same id;
//! - the projection's `message_update` for it is keyed within the same limits.
//!
//! For a rejected body: the error's messages are built without panicking, and the `rejected`
//! item keeps the exact bytes, their size and SHA-256, through the attribute form unchanged.
#![no_main]

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_webhooks::contact_key::ContactKey;
use flowiq_webhooks::event_id::EventId;
use flowiq_webhooks::keys;
use flowiq_webhooks::message_item::{MessageUpdate, message_update};
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::records::{
    EventItem, ItemType, Received, RejectedItem, RejectedRetention, Rejection, Retention,
    event_item, rejected_record, sha256_hex,
};
use flowiq_webhooks::stored_body::DEFLATE_ABOVE;
use flowiq_webhooks::unique_keys_json;
use flowiq_webhooks::webhook_event::{BodyError, EventType, WebhookEvent};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use time::OffsetDateTime;

/// An item as the SDK's `PutItem` takes it.
type DynamoItem = HashMap<String, AttributeValue>;

const MAX_PARTITION_KEY_BYTES: usize = 2048;
const MAX_SORT_KEY_BYTES: usize = 1024;
const MAX_IDENTIFIER_LENGTH: usize = 256;
const RETENTION_DAYS: u32 = 30;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let platform = if selector % 2 == 0 {
        Platform::Whatsapp
    } else {
        Platform::Web
    };
    match WebhookEvent::parse(platform, body) {
        Ok(event) => check_accepted(platform, body, &event),
        Err(err) => check_rejected(platform, body, &err),
    }
});

fn check_accepted(platform: Platform, body: &[u8], event: &WebhookEvent) {
    let text = std::str::from_utf8(body).expect("an accepted body is UTF-8");
    assert_eq!(event.platform, platform);

    // The id is the platform plus the body's JSON (as the project reads it: duplicate keys
    // refused), whatever its formatting.
    let json = body.strip_prefix(UTF8_BOM).unwrap_or(body);
    let value = unique_keys_json::from_slice(json).expect("an accepted body is JSON");
    assert!(value.is_object(), "an accepted body is a JSON object");
    assert_eq!(event.event_id, EventId::of(platform, &value));
    // That is the JSON serde_json itself reads, except where a key is one of serde_json's private
    // markers: with its `raw_value` feature (on in this build, through lambda_http)
    // `{"$serde_json::private::RawValue":"[1]"}` reads as `[1]`. The project's parser keeps such
    // a key as an ordinary key, so two different bodies can never share an id that way.
    if !has_serde_json_marker(&value) {
        let plain: Value = serde_json::from_slice(json).expect("serde_json reads it too");
        assert_eq!(plain, value, "the project's JSON differs from serde_json's");
    }
    let id = event.event_id.as_str();
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "event id {id:?}"
    );

    // Deterministic: the same bytes give the same event.
    assert_eq!(
        &WebhookEvent::parse(platform, body).expect("accepted once"),
        event
    );
    // A re-serialised copy (compact; keys in reverse order, pretty-printed) is the same event,
    // with the same id.
    for reserialised in [
        serde_json::to_vec(&value).expect("a Value serialises"),
        serde_json::to_vec_pretty(&reversed(&value)).expect("a Value serialises"),
    ] {
        match WebhookEvent::parse(platform, &reserialised) {
            Ok(again) => assert_eq!(&again, event, "re-serialised copy differs"),
            Err(err) => panic!("re-serialised copy rejected: {err}"),
        }
    }

    check_event_fields(event);

    // Ids are from the body, so the time of receipt is fixed: runs are reproducible.
    let received = received();
    let item = event_item(
        event.clone(),
        text,
        &received,
        Retention(Some(RETENTION_DAYS)),
        &ContactKey::local_dev(),
    );
    check_event_item(event, text, &received, &item);
    check_stored(event, text, &item);
    if let Some(update) = message_update(event, item.contact_pk.as_deref(), item.expires_at) {
        check_message_update(event, &item, &update);
    }
}

fn received() -> Received {
    Received::at(OffsetDateTime::from_unix_timestamp(1_772_841_600).unwrap())
}

/// What DynamoDB holds: the item as the store writes it (`serde_dynamo::to_item` into the SDK's
/// attribute map, `put_event`), read back as readers do (`serde_dynamo::from_item`). It is the
/// same item, the body it gives is the received body byte for byte, and that body is the event
/// again, with the same id.
fn check_stored(event: &WebhookEvent, text: &str, item: &EventItem) {
    let attributes: DynamoItem =
        serde_dynamo::to_item(item.clone()).expect("an event item converts");
    for key in [keys::PK, keys::SK] {
        assert!(
            matches!(attributes.get(key), Some(AttributeValue::S(value)) if !value.is_empty()),
            "{key} is a non-empty string attribute"
        );
    }
    for (pk, sk) in [
        (keys::CONTACT_PK, keys::CONTACT_SK),
        (keys::ORG_PK, keys::ORG_SK),
    ] {
        assert_eq!(
            attributes.contains_key(pk),
            attributes.contains_key(sk),
            "an index key is whole or absent"
        );
    }
    let stored: EventItem = serde_dynamo::from_item(attributes).expect("a stored item reads back");
    assert_eq!(
        &stored, item,
        "the item changed through DynamoDB's attribute form"
    );
    assert_eq!(
        stored.body().expect("the stored body reads").as_bytes(),
        text.as_bytes(),
        "the stored body is the received body, byte for byte"
    );
    let again = stored.webhook_event().expect("the stored body parses");
    assert_eq!(&again, event);
    assert_eq!(again.event_id, event.event_id);
}

/// The optional projection's update of the event's `message` item.
fn check_message_update(event: &WebhookEvent, item: &EventItem, update: &MessageUpdate) {
    let wamid = event
        .whatsapp_message_id
        .as_deref()
        .expect("a message update belongs to a message");
    assert_eq!(update.identity.whatsapp_message_id, wamid);
    assert_eq!(
        item.pk,
        keys::message_pk(wamid),
        "a message's events share its partition"
    );
    check_partition_key(&keys::message_pk(&update.identity.whatsapp_message_id));
    check_sort_key(keys::MESSAGE_SK);
    assert_eq!(update.expires_at, item.expires_at);
    assert!(!update.history_entry().is_empty());
    let identity = &update.identity;
    assert_eq!(
        identity.contact_pk.is_some(),
        identity.contact_sk.is_some(),
        "an index key is whole or absent"
    );
    if let (Some(pk), Some(sk)) = (&identity.contact_pk, &identity.contact_sk) {
        check_partition_key(pk);
        check_sort_key(sk);
    }
}

/// A body the receiver answers 400 is kept as a `rejected` item: exactly the bytes received (as
/// text when UTF-8, else as bytes), with their size and SHA-256, through DynamoDB's attribute
/// form unchanged. Its messages are built without panicking.
fn check_rejected(platform: Platform, body: &[u8], err: &BodyError) {
    let reason = err.to_string();
    assert!(!reason.is_empty());
    assert!(!err.log_summary().is_empty());
    let received = received();
    let item = rejected_record(
        platform,
        body,
        "fuzz-request",
        Rejection::InvalidBody,
        reason,
        &received,
        RejectedRetention::default_for(Retention(Some(RETENTION_DAYS))),
    );
    assert_eq!(item.status_code, 400);
    assert_eq!(item.body_size, body.len());
    assert_eq!(item.body_sha256, sha256_hex(body));
    // Kept once: long bodies deflated (body_zd1), short ones as text when UTF-8, else as bytes.
    match (&item.body, &item.body_bytes, &item.body_zd1) {
        (None, None, Some(_)) => assert!(body.len() > DEFLATE_ABOVE, "short bodies stay plain"),
        (Some(_), None, None) => assert!(body.len() <= DEFLATE_ABOVE),
        (None, Some(_), None) => {
            assert!(body.len() <= DEFLATE_ABOVE);
            assert!(std::str::from_utf8(body).is_err(), "UTF-8 is kept as text");
        }
        other => panic!("a rejected body within the limit is kept once, got {other:?}"),
    }
    let kept = item
        .raw_body()
        .expect("a kept body reads back")
        .expect("a body within the limit is kept");
    let kept: &[u8] = &kept;
    assert_eq!(kept, body, "the rejected body is kept byte for byte");
    check_partition_key(&item.pk);
    check_sort_key(&item.sk);
    let attributes: DynamoItem = serde_dynamo::to_item(&item).expect("a rejected item converts");
    let stored: RejectedItem =
        serde_dynamo::from_item(attributes).expect("a rejected item reads back");
    assert_eq!(stored, item);
}

fn check_event_fields(event: &WebhookEvent) {
    let event_type = event.event_type.as_str();
    // The code's character set (`is_identifier`), the same as for ids.
    assert!(
        is_identifier(event_type, 64, "._:=+/-"),
        "event_type {event_type:?}"
    );
    assert_eq!(EventType::parse(event_type), event.event_type);
    for (field, value) in [
        ("organization_id", &event.organization_id),
        ("whatsapp_message_id", &event.whatsapp_message_id),
        ("whatsapp_id", &event.whatsapp_id),
        ("contact_id", &event.contact_id),
    ] {
        if let Some(value) = value {
            assert!(
                is_identifier(value, MAX_IDENTIFIER_LENGTH, "._:=+/-"),
                "{field} {value:?} is not a safe key part"
            );
        }
    }
    if let Some(at) = &event.occurred_at {
        assert!(
            at.len() == 24 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
            "occurred_at {at:?} is not the sortable form"
        );
    }
}

fn check_event_item(event: &WebhookEvent, text: &str, received: &Received, item: &EventItem) {
    check_partition_key(&item.pk);
    check_sort_key(&item.sk);
    assert!(item.sk.starts_with("EVENT#") && item.sk.ends_with(event.event_id.as_str()));
    match &event.whatsapp_message_id {
        Some(wamid) => assert_eq!(item.pk, keys::message_pk(wamid)),
        None => assert_eq!(item.pk, format!("EVT#{}", event.event_id)),
    }
    for (pk, sk) in [
        (&item.contact_pk, &item.contact_sk),
        (&item.org_pk, &item.org_sk),
    ] {
        assert_eq!(
            pk.is_some(),
            sk.is_some(),
            "an index key is whole or absent"
        );
        if let (Some(pk), Some(sk)) = (pk, sk) {
            check_partition_key(pk);
            // A number is only ever in a contact key as its keyed hash.
            if let Some(number) = event.whatsapp_id.as_deref().filter(|n| n.len() >= 4) {
                assert!(
                    !pk.contains(&format!("#wa:{number}")),
                    "a plain number in {pk}"
                );
            }
            check_sort_key(sk);
        }
    }
    assert_eq!(item.item_type, ItemType::Event);
    assert_eq!(item.event_id, event.event_id.as_str());
    assert_eq!(item.event_type, event.event_type.as_str());
    assert_eq!(item.platform, event.platform);
    assert_eq!(item.body().unwrap(), text, "the raw body is kept exactly");
    assert_eq!(item.received_at, received.at_text);
    assert_eq!(
        item.expires_at,
        Some(received.at.unix_timestamp() + i64::from(RETENTION_DAYS) * 86_400)
    );

    assert_eq!(
        item.organization_id, event.organization_id,
        "the organization is an attribute"
    );
    assert_eq!(item.whatsapp_message_id, event.whatsapp_message_id);
    assert_eq!(item.occurred_at, event.occurred_at);
    assert_eq!(
        item.body_deflate, None,
        "`body_deflate` is read, never written"
    );
}

/// Whether any object key is one of serde_json's private markers (`$serde_json::private::…`).
fn has_serde_json_marker(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, item)| {
            key.starts_with("$serde_json::private::") || has_serde_json_marker(item)
        }),
        Value::Array(items) => items.iter().any(has_serde_json_marker),
        _ => false,
    }
}

/// The same JSON with every object's keys in reverse order.
fn reversed(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .rev()
                .map(|(key, item)| (key.clone(), reversed(item)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
        scalar => scalar.clone(),
    }
}

fn check_partition_key(key: &str) {
    assert!(
        !key.is_empty() && key.len() <= MAX_PARTITION_KEY_BYTES,
        "partition key of {} bytes",
        key.len()
    );
}

fn check_sort_key(key: &str) {
    assert!(
        !key.is_empty() && key.len() <= MAX_SORT_KEY_BYTES,
        "sort key of {} bytes",
        key.len()
    );
}

fn is_identifier(value: &str, max_length: usize, punctuation: &str) -> bool {
    !value.is_empty()
        && value.len() <= max_length
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || punctuation.as_bytes().contains(&b))
}
