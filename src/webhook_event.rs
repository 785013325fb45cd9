//! FlowIQ's webhook payloads (docs/flowiq.md), typed where documented.
//!
//! Parsing is one pass over the body into a JSON value (duplicate names refused); the typed view,
//! the event id and the stored item are all derived from it. Unknown
//! fields are tolerated (FlowIQ adds fields over time); `call` and unknown event types are kept
//! generically, never rejected.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::normalize_rfc3339;
use crate::event_id::EventId;
use crate::platform::Platform;
use crate::unique_keys_json;

/// Why a body was not accepted. Each message names the problem so FlowIQ's support (or a user
/// reading a `rejected` item) can act on it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("body is empty: expected a JSON object with an `event_type` field")]
    Empty,
    #[error("body is not valid UTF-8")]
    NotUtf8,
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("body has no `event_type` field")]
    MissingEventType,
    #[error(
        "field `event_type` must be a string of up to 64 letters, digits and `._:=+/-`, got {0}"
    )]
    InvalidEventType(String),
    #[error("{event_type} event: {}", problem.message)]
    InvalidField {
        event_type: String,
        problem: FieldProblem,
    },
}

/// A field of a known event type that is missing or has the wrong type or format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's path (`location_data.latitude`), when known.
    pub field: Option<String>,
    /// For the sender: names the field and may quote the offending value.
    pub message: String,
}

impl FieldProblem {
    fn new(field: &str, message: String) -> Self {
        FieldProblem {
            field: Some(field.to_owned()),
            message,
        }
    }
}

impl BodyError {
    /// The problem without any value from the body (serde quotes string values it rejects):
    /// what the logs may carry at the default level.
    pub fn log_summary(&self) -> String {
        match self {
            BodyError::InvalidField {
                event_type,
                problem,
            } => match &problem.field {
                Some(field) => format!("{event_type} event: field `{field}` is missing or invalid"),
                None => format!("{event_type} event: a field is missing or invalid"),
            },
            // The other messages never quote the body.
            other => other.to_string(),
        }
    }
}

/// The largest body accepted (bytes). FlowIQ's payloads are 0.2–0.8 KB (events/); the longest a
/// real one can be is a 4,096-character WhatsApp text written as JSON `\u` escapes (up to 48 KiB)
/// plus its other fields. 64 KiB fits that with room to spare and halves what each abusive body
/// costs in write units (docs/security.md#storage-abuse).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// FlowIQ's event types. `Call` can be subscribed to but has no documented payload; `Other`
/// holds types added later. Stored (`event_type`), logged and counted as [`EventType::as_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventType {
    MessageReceived,
    MessageSent,
    SentMessage,
    MessageDelivered,
    MessageRead,
    MessageFailed,
    Call,
    Other(String),
}

impl EventType {
    /// Every type FlowIQ names: the documented ones, then `call`. The one list (the `EventType`
    /// metric dimension and flowiq-bootstrap's `--type` values are built from it).
    pub const KNOWN: [EventType; 7] = [
        EventType::MessageReceived,
        EventType::SentMessage,
        EventType::MessageSent,
        EventType::MessageDelivered,
        EventType::MessageRead,
        EventType::MessageFailed,
        EventType::Call,
    ];

    /// FlowIQ's types with a documented payload (the ones read as typed events): [`Self::KNOWN`]
    /// but `call`, its last.
    pub const DOCUMENTED: &[EventType] = match Self::KNOWN.split_last() {
        Some((_, documented)) => documented,
        None => &[],
    };

    pub fn parse(name: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|known| known.known_name() == Some(name))
            .unwrap_or_else(|| EventType::Other(name.to_owned()))
    }

    /// The name of a type FlowIQ names; `None` for `Other`.
    pub const fn known_name(&self) -> Option<&'static str> {
        match self {
            EventType::MessageReceived => Some("message_received"),
            EventType::MessageSent => Some("message_sent"),
            EventType::SentMessage => Some("sent_message"),
            EventType::MessageDelivered => Some("message_delivered"),
            EventType::MessageRead => Some("message_read"),
            EventType::MessageFailed => Some("message_failed"),
            EventType::Call => Some("call"),
            EventType::Other(_) => None,
        }
    }

    /// Whether FlowIQ documents the type's payload (it is then read as a typed event); `call`
    /// and unknown types are kept generically.
    pub const fn is_documented(&self) -> bool {
        !matches!(self, EventType::Call | EventType::Other(_))
    }

    pub fn as_str(&self) -> &str {
        match self {
            EventType::Other(name) => name,
            known => known.known_name().expect("every other variant is known"),
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for EventType {
    fn eq(&self, name: &str) -> bool {
        self.as_str() == name
    }
}

impl PartialEq<&str> for EventType {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// As the name FlowIQ sent: the stored `event_type` attribute is that string (docs/data-model.md).
impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(EventType::parse(&name))
    }
}

/// What a delivery says, beyond the fields every event shares.
#[derive(Debug, Clone, PartialEq)]
pub enum EventDetails {
    /// `message_received`: a contact (WhatsApp) or web visitor wrote to the organization.
    Inbound(MessageContent),
    /// `sent_message`: the full outbound message row (agent, bot or broadcast).
    Outbound(MessageContent),
    /// `message_sent`, `message_delivered`, `message_read`, `message_failed`: a status receipt.
    /// `status` is FlowIQ's value (`sent`, `delivered`, `read`, `failed`, `undelivered`, `warning`).
    Receipt { status: Option<String> },
    /// `call` and unknown types: stored as received, no typed view.
    Other,
}

/// Message content known from `message_received` / `sent_message`. Absent and `null` are the same.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MessageContent {
    /// FlowIQ's own row id (`sent_message`, web events).
    pub id: Option<String>,
    pub message: Option<String>,
    pub message_type: Option<String>,
    pub sender_type: Option<String>,
    pub media_type: Option<String>,
    pub media_url: Option<String>,
    /// `file_name` in `message_received`, `media_file_name` in `sent_message`.
    #[serde(alias = "file_name")]
    pub media_file_name: Option<String>,
    pub reply_context_id: Option<String>,
    pub location_data: Option<Map<String, Value>>,
    pub broadcast_id: Option<String>,
    pub member_id: Option<String>,
    pub created_at: Option<String>,
    pub message_status: Option<String>,
    pub sent_receipt_received: Option<bool>,
    pub delivered_receipt_received: Option<bool>,
    pub read_receipt_received: Option<bool>,
    /// Web platform: additional structured data, shape not documented.
    pub more_data: Option<Value>,
}

/// The fields every known event type shares, typed. Used for known types only: for `call` and
/// unknown types the same fields are read leniently (see [`lenient_string`]).
#[derive(Debug, Deserialize)]
struct CommonFields {
    organization_id: Option<String>,
    timestamp: Option<String>,
    whatsapp_message_id: Option<String>,
    whatsapp_id: Option<String>,
    contact_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReceiptFields {
    status: Option<String>,
}

/// One parsed delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub platform: Platform,
    pub event_id: EventId,
    pub event_type: EventType,
    pub organization_id: Option<String>,
    /// The payload's `timestamp` (or `created_at`), normalised to sortable UTC.
    pub occurred_at: Option<String>,
    pub whatsapp_message_id: Option<String>,
    pub whatsapp_id: Option<String>,
    pub contact_id: Option<String>,
    pub details: EventDetails,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

impl WebhookEvent {
    /// Parses a raw delivery body. A UTF-8 byte-order mark is ignored (RFC 8259 §8.1 allows it).
    pub fn parse(platform: Platform, body: &[u8]) -> Result<Self, BodyError> {
        let json = body.strip_prefix(UTF8_BOM).unwrap_or(body);
        if json.iter().all(u8::is_ascii_whitespace) {
            return Err(BodyError::Empty);
        }
        let value = unique_keys_json::from_slice(json).map_err(|e| {
            if std::str::from_utf8(json).is_err() {
                BodyError::NotUtf8
            } else {
                BodyError::NotJson(e.to_string())
            }
        })?;
        let Value::Object(object) = &value else {
            return Err(BodyError::NotAnObject(json_kind(&value)));
        };
        let event_type = match object.get("event_type") {
            None => return Err(BodyError::MissingEventType),
            Some(Value::String(name)) if is_identifier(name, MAX_EVENT_TYPE_LENGTH) => {
                EventType::parse(name)
            }
            Some(other) => return Err(BodyError::InvalidEventType(describe(other))),
        };
        let event_id = EventId::of(platform, &value);
        Self::from_value(platform, event_id, event_type, &value)
    }

    fn from_value(
        platform: Platform,
        event_id: EventId,
        event_type: EventType,
        value: &Value,
    ) -> Result<Self, BodyError> {
        let fields = read_fields(&event_type, value).and_then(|(common, details)| {
            let occurred_at = occurred_at(&event_type, common.timestamp.as_ref(), &details)?;
            Ok((common, details, occurred_at))
        });
        let (common, details, occurred_at) = match fields {
            Ok(fields) => fields,
            Err(problem) => return Err(invalid_field(&event_type, problem)),
        };
        let event = WebhookEvent {
            platform,
            event_id,
            organization_id: non_empty(common.organization_id),
            occurred_at,
            whatsapp_message_id: non_empty(common.whatsapp_message_id),
            whatsapp_id: non_empty(common.whatsapp_id),
            contact_id: non_empty(common.contact_id),
            details,
            event_type,
        };
        match event.check_required() {
            Ok(()) => Ok(event),
            Err(problem) => Err(invalid_field(&event.event_type, problem)),
        }
    }

    /// What the storage contract cannot do without, per documented type.
    fn check_required(&self) -> Result<(), FieldProblem> {
        let missing =
            |field: &str| Err(FieldProblem::new(field, format!("missing field `{field}`")));
        if !self.event_type.is_documented() {
            return Ok(());
        }
        for (field, value) in self.identifiers() {
            if value.is_some_and(|v| !is_identifier(v, MAX_IDENTIFIER_LENGTH)) {
                return Err(FieldProblem::new(
                    field,
                    format!(
                        "field `{field}` must be up to {MAX_IDENTIFIER_LENGTH} letters, digits and `{IDENTIFIER_PUNCTUATION}`"
                    ),
                ));
            }
        }
        if self.organization_id.is_none() {
            return missing("organization_id");
        }
        let whatsapp = self.platform == Platform::Whatsapp;
        let is_receipt = matches!(self.details, EventDetails::Receipt { .. });
        if (whatsapp || is_receipt) && self.whatsapp_message_id.is_none() {
            return missing("whatsapp_message_id");
        }
        if whatsapp && self.occurred_at.is_none() {
            return missing("timestamp");
        }
        Ok(())
    }
}

impl WebhookEvent {
    /// The fields that become parts of table keys.
    fn identifiers(&self) -> [(&'static str, Option<&str>); 4] {
        [
            ("organization_id", self.organization_id.as_deref()),
            ("whatsapp_message_id", self.whatsapp_message_id.as_deref()),
            ("whatsapp_id", self.whatsapp_id.as_deref()),
            ("contact_id", self.contact_id.as_deref()),
        ]
    }
}

fn invalid_field(event_type: &EventType, problem: FieldProblem) -> BodyError {
    BodyError::InvalidField {
        event_type: event_type.as_str().to_owned(),
        problem,
    }
}

/// The shared fields and the details: typed for documented types, leniently for the rest.
fn read_fields(
    event_type: &EventType,
    value: &Value,
) -> Result<(CommonFields, EventDetails), FieldProblem> {
    if !event_type.is_documented() {
        return Ok((lenient_common(value), EventDetails::Other));
    }
    let common: CommonFields = typed(value)?;
    let details = match event_type {
        EventType::MessageReceived => EventDetails::Inbound(typed(value)?),
        EventType::SentMessage => EventDetails::Outbound(typed(value)?),
        _ => {
            let receipt: ReceiptFields = typed(value)?;
            EventDetails::Receipt {
                status: receipt.status,
            }
        }
    };
    Ok((common, details))
}

/// The event's time: `timestamp`, else the content's `created_at`, normalised to sortable UTC.
fn occurred_at(
    event_type: &EventType,
    timestamp: Option<&String>,
    details: &EventDetails,
) -> Result<Option<String>, FieldProblem> {
    let field = match (timestamp, details) {
        (Some(ts), _) => Some(("timestamp", ts)),
        (None, EventDetails::Inbound(c) | EventDetails::Outbound(c)) => {
            c.created_at.as_ref().map(|ts| ("created_at", ts))
        }
        _ => None,
    };
    let Some((field, ts)) = field else {
        return Ok(None);
    };
    match normalize_rfc3339(ts) {
        Ok(normalised) => Ok(Some(normalised)),
        // An undocumented event's timestamp is not ours to judge: keep the event, undated.
        Err(_) if !event_type.is_documented() => Ok(None),
        Err(e) => Err(FieldProblem::new(field, format!("field `{field}` {e}"))),
    }
}

/// Ids become parts of table keys (`MSG#<id>`, `CONTACT#<org>#…`): a `#` could make two
/// contacts' keys collide, and DynamoDB limits key sizes. FlowIQ's ids (UUIDs, `wamid.` base64,
/// phone numbers) fit easily.
const MAX_IDENTIFIER_LENGTH: usize = 256;
const MAX_EVENT_TYPE_LENGTH: usize = 64;
const IDENTIFIER_PUNCTUATION: &str = "._:=+/-";

fn is_identifier(value: &str, max_length: usize) -> bool {
    !value.is_empty()
        && value.len() <= max_length
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || IDENTIFIER_PUNCTUATION.as_bytes().contains(&b))
}

fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, FieldProblem> {
    // Without path tracking first: only a body that fails is read again, to name the field.
    if let Ok(typed) = T::deserialize(value) {
        return Ok(typed);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            // serde reports a missing field at the root: "missing field `x`".
            let field = inner.split('`').nth(1).map(str::to_owned);
            FieldProblem {
                field,
                message: inner,
            }
        } else {
            FieldProblem {
                message: format!("field `{path}`: {inner}"),
                field: Some(path),
            }
        }
    })
}

/// For `call` and unknown types: take the shared fields when they are strings, ignore them otherwise.
fn lenient_common(value: &Value) -> CommonFields {
    let text = |field| value.get(field).and_then(Value::as_str).map(str::to_owned);
    let id = |field| text(field).filter(|v| is_identifier(v, MAX_IDENTIFIER_LENGTH));
    CommonFields {
        organization_id: id("organization_id"),
        timestamp: text("timestamp").or_else(|| text("created_at")),
        whatsapp_message_id: id("whatsapp_message_id"),
        whatsapp_id: id("whatsapp_id"),
        contact_id: id("contact_id"),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() => "an empty string".into(),
        Value::String(_) => "other characters or a longer string".into(),
        other => json_kind(other).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(platform: Platform, value: Value) -> Result<WebhookEvent, BodyError> {
        WebhookEvent::parse(platform, value.to_string().as_bytes())
    }

    fn delivered() -> Value {
        json!({
            "event_type": "message_delivered",
            "whatsapp_message_id": "wamid.abc",
            "organization_id": "org-1",
            "status": "delivered",
            "timestamp": "2026-03-07T00:00:01.000Z",
            "whatsapp_id": "27830000001"
        })
    }

    #[test]
    fn parses_a_documented_receipt() {
        let event = parse(Platform::Whatsapp, delivered()).unwrap();
        assert_eq!(event.event_type, EventType::MessageDelivered);
        assert_eq!(event.organization_id.as_deref(), Some("org-1"));
        assert_eq!(event.whatsapp_message_id.as_deref(), Some("wamid.abc"));
        assert_eq!(event.whatsapp_id.as_deref(), Some("27830000001"));
        assert_eq!(
            event.occurred_at.as_deref(),
            Some("2026-03-07T00:00:01.000Z")
        );
        assert_eq!(
            event.details,
            EventDetails::Receipt {
                status: Some("delivered".into())
            }
        );
    }

    #[test]
    fn parses_inbound_content_with_location_and_tolerates_unknown_fields() {
        let event = parse(
            Platform::Whatsapp,
            json!({
                "event_type": "message_received", "organization_id": "o", "timestamp": "2026-03-07T00:00:00Z",
                "whatsapp_message_id": "wamid.in", "message_type": "location", "message": null,
                "file_name": "a.pdf", "location_data": {"latitude": -33.9, "longitude": 18.4, "name": "Office"},
                "whatsapp_id": "27830000001", "contact_id": "c-1", "a_field_added_later": [1, 2]
            }),
        )
        .unwrap();
        let EventDetails::Inbound(content) = event.details else {
            panic!("not inbound")
        };
        assert_eq!(content.message_type.as_deref(), Some("location"));
        assert_eq!(content.media_file_name.as_deref(), Some("a.pdf"));
        assert_eq!(content.location_data.unwrap()["name"], "Office");
    }

    #[test]
    fn web_events_need_no_whatsapp_fields() {
        let event = parse(
            Platform::Web,
            json!({"event_type": "sent_message", "organization_id": "o", "sender_type": "bot-web",
                   "message": "Hi", "more_data": {"quick_replies": ["a"]}, "created_at": "2026-03-07T00:00:00Z"}),
        )
        .unwrap();
        assert_eq!(
            event.occurred_at.as_deref(),
            Some("2026-03-07T00:00:00.000Z")
        );
        let EventDetails::Outbound(content) = event.details else {
            panic!("not outbound")
        };
        assert_eq!(content.sender_type.as_deref(), Some("bot-web"));
        assert_eq!(content.more_data, Some(json!({"quick_replies": ["a"]})));
    }

    #[test]
    fn call_and_unknown_types_are_kept_even_with_odd_fields() {
        assert_eq!(EventType::parse("call"), EventType::Call);
        for body in [
            json!({"event_type": "call", "organization_id": "o", "whatsapp_id": 27830000001u64}),
            json!({"event_type": "contact_updated", "timestamp": "not a date"}),
        ] {
            let event = parse(Platform::Whatsapp, body).unwrap();
            assert!(!event.event_type.is_documented(), "{:?}", event.event_type);
            assert_eq!(event.details, EventDetails::Other);
            assert_eq!(event.whatsapp_id, None);
            assert_eq!(event.occurred_at, None);
        }
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let mut body = UTF8_BOM.to_vec();
        body.extend_from_slice(delivered().to_string().as_bytes());
        let with_bom = WebhookEvent::parse(Platform::Whatsapp, &body).unwrap();
        assert_eq!(with_bom, parse(Platform::Whatsapp, delivered()).unwrap());
    }

    fn error(platform: Platform, body: &[u8]) -> String {
        WebhookEvent::parse(platform, body).unwrap_err().to_string()
    }

    #[test]
    fn bad_bodies_get_errors_that_name_the_problem() {
        let wa = Platform::Whatsapp;
        assert!(error(wa, b"").contains("empty"));
        assert!(error(wa, b" \n").contains("empty"));
        assert!(error(wa, b"\xff\xfe{}").contains("UTF-8"));
        assert!(error(wa, b"{\"event_type\":").contains("not valid JSON"));
        assert!(error(wa, b"[1]").contains("got an array"));
        assert!(error(wa, b"\"x\"").contains("got a string"));
        assert!(error(wa, b"{}").contains("no `event_type`"));
        assert!(error(wa, b"{\"event_type\":5}").contains("`event_type` must be a string"));
        assert!(error(wa, b"{\"event_type\":5}").ends_with("got a number"));
        let spaced = error(wa, b"{\"event_type\":\"a b\"}");
        assert!(
            spaced.ends_with("got other characters or a longer string"),
            "{spaced}"
        );
        assert!(error(wa, b"{\"event_type\":\"\"}").contains("got an empty string"));
        assert!(error(wa, b"{\"event_type\":null}").contains("got null"));
    }

    #[test]
    fn wrong_field_types_and_missing_fields_are_named() {
        let wa = Platform::Whatsapp;
        let mut body = delivered();
        body["whatsapp_id"] = json!(27830000001u64);
        let message = error(wa, body.to_string().as_bytes());
        assert!(
            message.starts_with("message_delivered event: field `whatsapp_id`: invalid type"),
            "{message}"
        );

        let mut body = delivered();
        body["timestamp"] = json!("2026-03-07");
        let message = error(wa, body.to_string().as_bytes());
        assert!(
            message.contains("field `timestamp` is not an RFC 3339"),
            "{message}"
        );

        for field in ["organization_id", "whatsapp_message_id", "timestamp"] {
            let mut body = delivered();
            body.as_object_mut().unwrap().remove(field);
            let message = error(wa, body.to_string().as_bytes());
            assert_eq!(
                message,
                format!("message_delivered event: missing field `{field}`")
            );
            body[field] = Value::Null;
            let message = error(wa, body.to_string().as_bytes());
            assert!(message.contains(&format!("`{field}`")), "{message}");
        }

        let message = error(
            wa,
            br#"{"event_type":"message_received","organization_id":"o","timestamp":"2026-03-07T00:00:00Z","whatsapp_message_id":"w","location_data":"here"}"#,
        );
        assert!(
            message.contains("field `location_data`: invalid type: string"),
            "{message}"
        );
    }

    #[test]
    fn ids_that_become_key_parts_are_checked() {
        let wa = Platform::Whatsapp;
        for (field, bad) in [
            ("organization_id", "org#wa:1"),
            ("whatsapp_message_id", "wamid with space"),
            ("whatsapp_id", "\"27\""),
        ] {
            let mut body = delivered();
            body[field] = json!(bad);
            let message = error(wa, body.to_string().as_bytes());
            assert!(
                message.contains(&format!("field `{field}` must be up to 256")),
                "{message}"
            );
        }
        let mut body = delivered();
        body["whatsapp_message_id"] = json!("w".repeat(257));
        assert!(error(wa, body.to_string().as_bytes()).contains("`whatsapp_message_id`"));
        // Unknown types are kept; an unusable id is just not used for keys.
        let event = parse(
            wa,
            json!({"event_type": "new_type", "organization_id": "a#b"}),
        )
        .unwrap();
        assert_eq!(event.organization_id, None);
    }

    #[test]
    fn log_summaries_name_the_field_but_never_quote_the_body() {
        let body = r#"{"event_type":"sent_message","whatsapp_message_id":"w","organization_id":"o","timestamp":"2026-03-07T00:00:00Z","sent_receipt_received":"secret text"}"#;
        let err = WebhookEvent::parse(Platform::Whatsapp, body.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("secret text"),
            "the sender is told exactly: {err}"
        );
        assert_eq!(
            err.log_summary(),
            "sent_message event: field `sent_receipt_received` is missing or invalid"
        );
        let err = WebhookEvent::parse(Platform::Whatsapp, br#"{"event_type":"message_read"}"#)
            .unwrap_err();
        assert_eq!(
            err.log_summary(),
            "message_read event: field `organization_id` is missing or invalid"
        );
        assert_eq!(
            WebhookEvent::parse(Platform::Whatsapp, b"[]")
                .unwrap_err()
                .log_summary(),
            "body must be a JSON object, got an array"
        );
    }
}
