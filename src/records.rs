//! What is stored for a delivery: the `event` item or the `rejected` item.
//! Pure: built from a parsed event and the time of receipt, written by an [`crate::store::EventStore`].

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::clock::format_sortable;
use crate::contact_key::ContactKey;
use crate::keys;
use crate::message_status::StatusFact;
use crate::platform::Platform;
use crate::stored_body::{self, StoredBody, StoredBodyError};
use crate::webhook_event::{EventDetails, EventType, WebhookEvent};

/// What an item is: every item in the table has `item_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemType {
    Event,
    Message,
    Rejected,
    /// A FlowIQ registration recorded by `flowiq-bootstrap`.
    Webhook,
}

impl ItemType {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Event => "event",
            ItemType::Message => "message",
            ItemType::Rejected => "rejected",
            ItemType::Webhook => "webhook",
        }
    }
}

/// How long items are kept: `RETENTION_DAYS`, unset or 0 = forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention(pub Option<u32>);

/// How long a `rejected` item is kept by default (days), unless the events are kept for less:
/// long enough to notice a rejection (the `rejected` outcome of the `Deliveries` metric,
/// `flowiq-events rejected`) and reprocess it after a fix, short
/// enough that bodies nobody looks at do not pile up (docs/security.md#storage-abuse).
pub const DEFAULT_REJECTED_RETENTION_DAYS: u32 = 30;

impl Retention {
    /// The shorter of the two (forever is the longest): a rejected body is never kept longer
    /// than the events.
    pub fn at_most(self, other: Retention) -> Retention {
        match (self.0, other.0) {
            (Some(a), Some(b)) => Retention(Some(a.min(b))),
            (a, b) => Retention(a.or(b)),
        }
    }

    /// The TTL attribute value (epoch seconds) for an item written at `now`.
    pub fn expires_at(self, now: OffsetDateTime) -> Option<i64> {
        self.0
            .map(|days| now.unix_timestamp() + i64::from(days) * 86_400)
    }
}

/// The retentions a `rejected` item is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectedRetention {
    /// The item's own (`REJECTED_RETENTION_DAYS`, never longer than the events').
    pub rejected: Retention,
    /// The events' (`RETENTION_DAYS`): what a reprocessed body is stored with.
    pub events: Retention,
}

impl RejectedRetention {
    /// `rejected` capped by `events`.
    pub fn new(rejected: Retention, events: Retention) -> Self {
        RejectedRetention {
            rejected: rejected.at_most(events),
            events,
        }
    }

    /// The default rejected retention for events kept `events`.
    pub fn default_for(events: Retention) -> Self {
        Self::new(Retention(Some(DEFAULT_REJECTED_RETENTION_DAYS)), events)
    }
}

/// The moment a delivery was received, in both forms the items need.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: OffsetDateTime,
    /// Sortable UTC form of `at`.
    pub at_text: String,
}

impl Received {
    pub fn at(at: OffsetDateTime) -> Self {
        let at_text = format_sortable(at).expect("the time of receipt is within years 1..=9999");
        Received { at, at_text }
    }

    pub fn now() -> Self {
        Self::at(OffsetDateTime::now_utc())
    }
}

/// One distinct event. Attribute names are the public storage contract (docs/data-model.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventItem {
    pub pk: String,
    pub sk: String,
    pub item_type: ItemType,
    pub event_id: String,
    /// FlowIQ's name for it, stored as sent (`message_read`, `call`, a type added later).
    pub event_type: EventType,
    pub platform: Platform,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp_message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    pub received_at: String,
    /// The raw JSON exactly as received, when at most [`crate::stored_body::DEFLATE_ABOVE`]
    /// bytes; read either form with [`EventItem::body`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The raw JSON when longer: raw DEFLATE primed with [`stored_body::DICTIONARY`].
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub body_zd1: Option<Vec<u8>>,
    /// The raw JSON as plain raw DEFLATE: items written before `body_zd1` (read, never written).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub body_deflate: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_pk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_sk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_pk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_sk: Option<String>,
}

impl EventItem {
    /// The raw body exactly as FlowIQ sent it.
    pub fn body(&self) -> Result<Cow<'_, str>, StoredBodyError> {
        stored_body::Held::of(
            self.body.as_deref(),
            self.body_zd1.as_deref(),
            self.body_deflate.as_deref(),
        )?
        .read()
    }

    /// The typed FlowIQ event, parsed again from the stored body.
    pub fn webhook_event(&self) -> Result<WebhookEvent, EventItemError> {
        self.parse_body(&self.body()?)
    }

    /// The typed FlowIQ event from this item's body, already read with [`EventItem::body`].
    pub fn parse_body(&self, body: &str) -> Result<WebhookEvent, EventItemError> {
        Ok(WebhookEvent::parse(self.platform, body.as_bytes())?)
    }
}

/// Why a stored event could not be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventItemError {
    #[error(transparent)]
    Body(#[from] StoredBodyError),
    #[error("the stored body no longer parses: {0}")]
    Parse(#[from] crate::webhook_event::BodyError),
}

/// A delivery that was authenticated but not accepted: kept so nothing FlowIQ sent is lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedItem {
    pub pk: String,
    pub sk: String,
    pub item_type: ItemType,
    /// The sparse `by-rejection` index: every rejected delivery in order of receipt.
    pub rejection_pk: String,
    pub rejection_sk: String,
    pub platform: Platform,
    pub reason: String,
    /// The status code the delivery was answered with (400 or 413).
    pub status_code: u16,
    pub received_at: String,
    pub request_id: String,
    pub body_size: usize,
    pub body_sha256: String,
    /// The raw body when it is UTF-8, within the limit and at most
    /// [`stored_body::DEFLATE_ABOVE`] bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The raw body when it is within the limit, at most [`stored_body::DEFLATE_ABOVE`] bytes,
    /// but not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub body_bytes: Option<Vec<u8>>,
    /// The raw body when longer (UTF-8 or not): raw DEFLATE primed with
    /// [`stored_body::DICTIONARY`], as events' long bodies. Items written before it keep long
    /// bodies in `body` or `body_bytes`, still read.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub body_zd1: Option<Vec<u8>>,
    /// The events' retention when the item was written (0: forever), for `reprocess-rejected`:
    /// the item's own `expires_at` is the shorter rejected-body retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_retention_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl RejectedItem {
    /// Whether the body was kept (not for a body over the size limit).
    pub fn keeps_body(&self) -> bool {
        self.body.is_some() || self.body_bytes.is_some() || self.body_zd1.is_some()
    }

    /// The raw body exactly as received; `None` for a body over the size limit (never kept).
    pub fn raw_body(&self) -> Result<Option<Cow<'_, [u8]>>, StoredBodyError> {
        Ok(match (&self.body, &self.body_bytes, &self.body_zd1) {
            (Some(text), _, _) => Some(Cow::Borrowed(text.as_bytes())),
            (None, Some(bytes), _) => Some(Cow::Borrowed(bytes)),
            (None, None, Some(deflated)) => {
                Some(Cow::Owned(stored_body::inflate_primed(deflated)?))
            }
            (None, None, None) => None,
        })
    }
}

/// The one item stored for an accepted delivery: the event (storage contract v2,
/// docs/data-model.md). By value: the event's strings move into the item. A message's state is
/// derived from its events ([`crate::message_view`]), not written here.
pub fn event_item(
    event: WebhookEvent,
    body: &str,
    received: &Received,
    retention: Retention,
    contact_key: &ContactKey,
) -> EventItem {
    let expires_at = retention.expires_at(received.at);
    let (pk, sk) = keys::event_key(
        event.whatsapp_message_id.as_deref(),
        event.occurred_at.as_deref(),
        &event.event_id,
    );
    // Index sort keys may use the time of receipt for undated events: only the base key dedups.
    let index_time = event.occurred_at.as_deref().unwrap_or(&received.at_text);
    let index = IndexKeys::of(&event, index_time, contact_key);

    // The contact's number and id stay in the body: not repeated as attributes of the event
    // item, whose size is billed per KB.
    let (body, body_zd1) = match StoredBody::of(body) {
        StoredBody::Text(text) => (Some(text), None),
        StoredBody::Deflated(bytes) => (None, Some(bytes)),
    };
    EventItem {
        pk,
        sk,
        item_type: ItemType::Event,
        event_type: event.event_type,
        event_id: event.event_id.into_string(),
        platform: event.platform,
        organization_id: event.organization_id,
        whatsapp_message_id: event.whatsapp_message_id,
        occurred_at: event.occurred_at,
        received_at: received.at_text.clone(),
        body,
        body_zd1,
        body_deflate: None,
        expires_at,
        contact_pk: index.contact_pk,
        contact_sk: index.contact_sk,
        org_pk: index.org_pk,
        org_sk: index.org_sk,
    }
}

/// An event item's entries in the `by-contact` and `by-organization` indexes.
struct IndexKeys {
    contact_pk: Option<String>,
    contact_sk: Option<String>,
    org_pk: Option<String>,
    org_sk: Option<String>,
}

impl IndexKeys {
    fn of(event: &WebhookEvent, index_time: &str, contact_key: &ContactKey) -> Self {
        // A contact's conversation lists its content events (one per WhatsApp message) and the
        // events that belong to no message (web chat, calls); receipts are not listed, their
        // statuses are read from the message's own partition.
        let listed = matches!(
            event.details,
            EventDetails::Inbound(_) | EventDetails::Outbound(_)
        ) || event.whatsapp_message_id.is_none()
            || StatusFact::of(&event.event_type, &event.details).is_none();
        let contact_pk = if listed {
            contact_pk(event, contact_key)
        } else {
            None
        };
        let org_pk = event
            .organization_id
            .as_deref()
            .map(|org| keys::organization_pk(org, &event.event_id));
        let time_sk = || keys::time_sk(index_time, &event.event_id);
        IndexKeys {
            contact_sk: contact_pk.as_ref().map(|_| time_sk()),
            org_sk: org_pk.as_ref().map(|_| time_sk()),
            contact_pk,
            org_pk,
        }
    }
}

fn contact_pk(event: &WebhookEvent, contact_key: &ContactKey) -> Option<String> {
    let org = event.organization_id.as_deref()?;
    keys::contact_pk(
        contact_key,
        org,
        event.whatsapp_id.as_deref(),
        event.contact_id.as_deref(),
    )
}

/// Why an authenticated body was not accepted. How the sender is answered is the HTTP edge's
/// (`http_handler::rejection_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not a FlowIQ event we can read.
    InvalidBody,
    /// Over [`crate::webhook_event::MAX_BODY_BYTES`].
    TooLarge,
}

/// The `rejected` item's `status_code` (docs/data-model.md): the status the sender was answered
/// with. The HTTP edge decides the answer; its tests keep the two equal.
fn recorded_status_code(rejection: Rejection) -> u16 {
    match rejection {
        Rejection::InvalidBody => 400,
        Rejection::TooLarge => 413,
    }
}

/// The item kept for a delivery answered 400 or 413. For a body over the limit only its size and
/// hash are kept.
pub fn rejected_record(
    platform: Platform,
    body: &[u8],
    request_id: &str,
    rejection: Rejection,
    reason: String,
    received: &Received,
    retention: RejectedRetention,
) -> RejectedItem {
    let kept = if rejection == Rejection::TooLarge {
        KeptBody::default()
    } else if body.len() > stored_body::DEFLATE_ABOVE {
        KeptBody {
            deflated: Some(stored_body::deflate_primed(body)),
            ..KeptBody::default()
        }
    } else {
        match std::str::from_utf8(body) {
            Ok(text) => KeptBody {
                text: Some(text.to_owned()),
                ..KeptBody::default()
            },
            Err(_) => KeptBody {
                bytes: Some(body.to_vec()),
                ..KeptBody::default()
            },
        }
    };
    let digest = BodyDigest {
        size: body.len(),
        sha256: sha256_hex(body),
    };
    let why = (rejection, reason);
    rejected_item(platform, digest, kept, request_id, why, received, retention)
}

/// The body a `rejected` item keeps: at most one of the three (none for a body over the limit).
#[derive(Debug, Default)]
struct KeptBody {
    text: Option<String>,
    bytes: Option<Vec<u8>>,
    deflated: Option<Vec<u8>>,
}

/// A body known only by its size and hash: one over the size limit, queued by the spill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyDigest {
    pub size: usize,
    pub sha256: String,
}

/// The `rejected` item of a body over the size limit, from its digest alone.
pub fn oversized_record(
    platform: Platform,
    digest: BodyDigest,
    request_id: &str,
    reason: String,
    received: &Received,
    retention: RejectedRetention,
) -> RejectedItem {
    let why = (Rejection::TooLarge, reason);
    rejected_item(
        platform,
        digest,
        KeptBody::default(),
        request_id,
        why,
        received,
        retention,
    )
}

fn rejected_item(
    platform: Platform,
    digest: BodyDigest,
    kept: KeptBody,
    request_id: &str,
    (rejection, reason): (Rejection, String),
    received: &Received,
    retention: RejectedRetention,
) -> RejectedItem {
    let (pk, sk) = keys::rejected_key(&digest.sha256, &received.at_text, request_id);
    RejectedItem {
        pk,
        sk,
        item_type: ItemType::Rejected,
        rejection_pk: keys::REJECTIONS.to_owned(),
        rejection_sk: keys::rejection_sk(&received.at_text, request_id),
        platform,
        reason,
        status_code: recorded_status_code(rejection),
        received_at: received.at_text.clone(),
        request_id: request_id.to_owned(),
        body_size: digest.size,
        body_sha256: digest.sha256,
        body: kept.text,
        body_bytes: kept.bytes,
        body_zd1: kept.deflated,
        event_retention_days: Some(retention.events.0.unwrap_or(0)),
        expires_at: retention.rejected.expires_at(received.at),
    }
}

/// Lower-case hex SHA-256, as `rejected` items key bodies.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
