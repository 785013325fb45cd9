//! One FlowIQ event as the stack's forwarding sends it to the user's endpoint (template.yaml,
//! `ForwardingRule`): the body is the event's `detail.event` — the FlowIQ event as FlowIQ sent
//! it, re-serialised (EventBridge parses and writes it again: the same JSON value, not the same
//! bytes) — and the event id is in the header [`EVENT_ID_HEADER`]. The CLI's re-drive of the
//! forwarding dead-letter queue and its replays build the request here, so that the endpoint
//! sees one shape whoever sends.

use serde_json::Value;

/// The header carrying the event id (the rule's `HttpParameters.HeaderParameters`; a test keeps
/// the two equal).
pub const EVENT_ID_HEADER: &str = "X-FlowIQ-Event-Id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedEvent {
    pub event_id: String,
    pub event_type: String,
    /// The request body: `detail.event` as compact JSON.
    pub body: String,
}

/// Why a dead-letter message is not a forwarded event (it names no content).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAForwardedEvent {
    #[error("the message body is not JSON")]
    NotJson,
    #[error("the message is not a FlowIQ event from the bus: no {0}")]
    Missing(&'static str),
}

impl ForwardedEvent {
    /// From an event as the bus carries it (what EventBridge puts in the forwarding dead-letter
    /// queue: the whole event, `detail` built by the Pipe's enrichment).
    pub fn from_bus_event(text: &str) -> Result<Self, NotAForwardedEvent> {
        let event: Value = serde_json::from_str(text).map_err(|_| NotAForwardedEvent::NotJson)?;
        let detail = &event["detail"];
        let string = |value: &Value, what: &'static str| {
            value
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or(NotAForwardedEvent::Missing(what))
        };
        if !detail["event"].is_object() {
            return Err(NotAForwardedEvent::Missing("detail.event object"));
        }
        Ok(ForwardedEvent {
            event_id: string(&detail["event_id"], "detail.event_id")?,
            event_type: string(&event["detail-type"], "detail-type")?,
            body: detail["event"].to_string(),
        })
    }

    /// From a stored event: its id, type and the body FlowIQ sent (read from the table).
    pub fn from_stored(event_id: &str, event_type: &str, body: &str) -> Result<Self, String> {
        // What `EventDetail::event` holds is this body verbatim; EventBridge re-serialises it.
        let body = body.strip_prefix('\u{feff}').unwrap_or(body);
        let event: Value = serde_json::from_str(body)
            .map_err(|e| format!("event {event_id}: the stored body is not JSON: {e}"))?;
        Ok(ForwardedEvent {
            event_id: event_id.to_owned(),
            event_type: event_type.to_owned(),
            body: event.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bus_event_and_its_stored_body_give_the_same_request() {
        let flowiq = r#"{ "event_type": "message_read", "whatsapp_message_id": "wamid.1",
            "timestamp": "2026-03-07T10:00:00Z", "n": 1.5 }"#;
        let bus = json!({"version": "0", "id": "e1", "detail-type": "message_read",
            "source": "flowiq.webhooks", "detail": {"event_id": "abc", "event_type": "message_read",
            "event": serde_json::from_str::<Value>(flowiq).unwrap()}});
        let from_bus = ForwardedEvent::from_bus_event(&bus.to_string()).unwrap();
        let stored = ForwardedEvent::from_stored("abc", "message_read", flowiq).unwrap();
        assert_eq!(from_bus, stored);
        assert_eq!(
            serde_json::from_str::<Value>(&stored.body).unwrap(),
            serde_json::from_str::<Value>(flowiq).unwrap()
        );
        assert!(!stored.body.contains('\n'));
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        for (text, problem) in [
            ("not json", NotAForwardedEvent::NotJson),
            (
                r#"{"detail-type":"x","detail":{"event_id":"a"}}"#,
                NotAForwardedEvent::Missing("detail.event object"),
            ),
            (
                r#"{"detail-type":"x","detail":{"event":{}}}"#,
                NotAForwardedEvent::Missing("detail.event_id"),
            ),
            (
                r#"{"detail":{"event_id":"a","event":{}}}"#,
                NotAForwardedEvent::Missing("detail-type"),
            ),
        ] {
            assert_eq!(ForwardedEvent::from_bus_event(text), Err(problem), "{text}");
        }
    }
}
