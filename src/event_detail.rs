//! One stored FlowIQ event as the rest of AWS reads it: the `detail` of its EventBridge event.
//! The Pipe's enrichment function ([`crate::pipe_enrichment`]) and `flowiq-events replay
//! --to-eventbridge` both build it here, so an event has one shape wherever it comes from; its
//! flat fields are also the analytics archive's columns. Pure: built from a stored `event` item.
//!
//! `event` is the body exactly as FlowIQ sent it (a JSON object), so a consumer in any language
//! reads the event without knowing how the table stores bodies (`body_zd1`). The JSON Schema of
//! this object is docs/schema/event-detail.schema.json, checked against this type's output.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::message_status::Direction;
use crate::platform::Platform;
use crate::records::{EventItem, EventItemError};
use crate::webhook_event::{EventDetails, EventType, MessageContent};

/// The `source` of every event this project puts on a bus (the Pipe, replays).
pub const EVENT_SOURCE: &str = "flowiq.webhooks";

/// An absent value is an absent member, never `""` or `null`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventDetail {
    pub event_id: String,
    /// FlowIQ's `event_type` (also the EventBridge `detail-type`).
    pub event_type: String,
    pub platform: Platform,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_message_id: Option<String>,
    /// The event's own time (`timestamp`, or `created_at`), sortable UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    /// When the receiver took the delivery, sortable UTC.
    pub received_at: String,
    /// The stored item's key (one `GetItem` reads it back).
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// The contact's WhatsApp number: personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_id: Option<String>,
    /// Of a message event: `inbound` (`message_received`) or `outbound`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// What the event says of its message: a receipt's FlowIQ `status` (`sent`, `delivered`,
    /// `read`, `failed`, `undelivered`, `warning`, …), `received` for `message_received`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Content events (`message_received`, `sent_message`) only, from here to `location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast_id: Option<String>,
    /// The message text (FlowIQ's `message`): personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_file_name: Option<String>,
    /// FlowIQ's `location_data` as JSON text: personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The FlowIQ event as FlowIQ sent it: the stored body, verbatim.
    pub event: Box<RawValue>,
}

/// A stored event that cannot be turned into its detail: names the item, so an operator can read
/// it (`flowiq-events message`, or a `GetItem` by these keys).
#[derive(Debug, thiserror::Error)]
#[error("event item pk {pk:?}, sk {sk:?}: {source}")]
pub struct EventDetailError {
    pub pk: String,
    pub sk: String,
    #[source]
    pub source: EventItemError,
}

impl EventDetail {
    /// The detail of a stored event. Fails when its body cannot be read back or no longer parses
    /// (a damaged `body_zd1`, say): such an event is reported, never put on the bus half-empty.
    pub fn of(item: &EventItem) -> Result<Self, EventDetailError> {
        let failed = |source: EventItemError| EventDetailError {
            pk: item.pk.clone(),
            sk: item.sk.clone(),
            source,
        };
        let body = item.body().map_err(|e| failed(e.into()))?;
        let event = item.parse_body(&body).map_err(failed)?;
        // The body parsed as a JSON object above (a UTF-8 byte-order mark aside, which JSON
        // text inside another document cannot carry).
        let json = body.strip_prefix('\u{feff}').unwrap_or(&body);
        let raw = RawValue::from_string(json.to_owned())
            .expect("a body that parsed as a FlowIQ event is JSON");

        let content = match &event.details {
            EventDetails::Inbound(content) | EventDetails::Outbound(content) => Some(content),
            _ => None,
        };
        let from_content =
            |field: fn(&MessageContent) -> &Option<String>| content.and_then(|c| field(c).clone());
        let direction = match (&event.event_type, &event.details) {
            (EventType::Call | EventType::Other(_), _) => None,
            (event_type, _) => Some(Direction::of(event_type)),
        };
        let status = match &event.details {
            EventDetails::Receipt { status } => status
                .clone()
                .or_else(|| receipt_status(&event.event_type).map(str::to_owned)),
            EventDetails::Inbound(_) => Some("received".to_owned()),
            EventDetails::Outbound(_) | EventDetails::Other => None,
        };
        Ok(EventDetail {
            event_id: item.event_id.clone(),
            event_type: item.event_type.to_string(),
            platform: item.platform,
            organization_id: item.organization_id.clone(),
            whatsapp_message_id: item.whatsapp_message_id.clone(),
            occurred_at: item.occurred_at.clone(),
            received_at: item.received_at.clone(),
            pk: item.pk.clone(),
            sk: item.sk.clone(),
            contact_id: event.contact_id.clone(),
            whatsapp_id: event.whatsapp_id.clone(),
            direction,
            status,
            message_type: from_content(|c| &c.message_type),
            sender_type: from_content(|c| &c.sender_type),
            broadcast_id: from_content(|c| &c.broadcast_id),
            text: from_content(|c| &c.message),
            media_url: from_content(|c| &c.media_url),
            media_file_name: from_content(|c| &c.media_file_name),
            location: content
                .and_then(|c| c.location_data.as_ref())
                .map(|location| serde_json::Value::Object(location.clone()).to_string()),
            event: raw,
        })
    }

    /// The detail as the JSON text an EventBridge entry carries.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the detail always serialises")
    }
}

/// The status a receipt reports when its body has no `status` field.
fn receipt_status(event_type: &EventType) -> Option<&'static str> {
    match event_type {
        EventType::MessageSent => Some("sent"),
        EventType::MessageDelivered => Some("delivered"),
        EventType::MessageRead => Some("read"),
        EventType::MessageFailed => Some("failed"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Received, Retention, event_item};
    use crate::webhook_event::WebhookEvent;

    fn stored(platform: Platform, body: &str) -> EventItem {
        let event = WebhookEvent::parse(platform, body.as_bytes()).unwrap();
        let received = Received::at(time::macros::datetime!(2026-03-07 10:00:00 UTC));
        event_item(
            event,
            body,
            &received,
            Retention(None),
            &crate::contact_key::ContactKey::local_dev(),
        )
    }

    #[test]
    fn a_receipt_carries_its_status_and_the_body_verbatim() {
        let body = r#"{"event_type":"message_failed","organization_id":"org-1","whatsapp_message_id":"wamid.1","status":"undelivered","timestamp":"2026-03-07T09:59:00.000Z","whatsapp_id":"27830000001", "extra": 1.50}"#;
        let detail = EventDetail::of(&stored(Platform::Whatsapp, body)).unwrap();
        assert_eq!(detail.status.as_deref(), Some("undelivered"));
        assert_eq!(detail.direction, Some(Direction::Outbound));
        assert_eq!(detail.whatsapp_id.as_deref(), Some("27830000001"));
        assert_eq!(
            detail.event.get(),
            body,
            "the body as sent, spacing and 1.50 included"
        );
        let json: serde_json::Value = serde_json::from_str(&detail.to_json()).unwrap();
        assert_eq!(json["event"]["extra"], 1.5);
        for absent in ["text", "broadcast_id", "contact_id", "message_type"] {
            assert!(json.get(absent).is_none(), "{absent} is absent, not null");
        }
    }

    #[test]
    fn a_content_event_has_its_flat_fields() {
        let body = r#"{"event_type":"sent_message","organization_id":"org-1","whatsapp_message_id":"wamid.2","timestamp":"2026-03-07T09:00:00Z","whatsapp_id":"27830000002","message":"Hello","message_type":"text","sender_type":"broadcast","broadcast_id":"b-1","location_data":{"latitude":1.5,"longitude":2}}"#;
        let detail = EventDetail::of(&stored(Platform::Whatsapp, body)).unwrap();
        assert_eq!(detail.text.as_deref(), Some("Hello"));
        assert_eq!(detail.broadcast_id.as_deref(), Some("b-1"));
        assert_eq!(detail.sender_type.as_deref(), Some("broadcast"));
        assert_eq!(detail.status, None);
        assert_eq!(
            detail.location.as_deref(),
            Some(r#"{"latitude":1.5,"longitude":2}"#)
        );
    }

    #[test]
    fn a_damaged_body_names_the_item() {
        let long = format!(
            r#"{{"event_type":"message_received","organization_id":"org-1","whatsapp_message_id":"wamid.3","timestamp":"2026-03-07T09:00:00Z","message":"{}"}}"#,
            "x".repeat(600)
        );
        let mut item = stored(Platform::Whatsapp, &long);
        let zd1 = item.body_zd1.as_mut().expect("a long body is deflated");
        zd1.truncate(zd1.len() / 2);
        let error = EventDetail::of(&item).unwrap_err().to_string();
        assert!(
            error.contains("MSG#wamid.3") && error.contains("EVENT#"),
            "{error}"
        );
    }
}
