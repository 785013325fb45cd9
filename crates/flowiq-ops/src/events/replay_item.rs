//! One stored event as a replay sends it: the original body, its place in time order, and the
//! attributes the EventBridge Pipe puts in `detail`.

use serde_json::{Value, json};

use crate::events::error::EventsError;
use crate::events::output::stored_body;
use crate::queries::{Item, text};
use flowiq_webhooks::keys;
use flowiq_webhooks::records::ItemType;

/// The `source` of the events the stack's Pipe puts on the bus (template.yaml, `EventsPipe`).
pub const EVENT_SOURCE: &str = "flowiq.webhooks";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayItem {
    /// `<time>#<event_id>`: `occurred_at` (`received_at` for undated events), as the
    /// `by-organization` sort key. Replays go in this order; the cursor is this key.
    pub key: String,
    pub event_id: String,
    pub event_type: String,
    pub platform: String,
    pub organization_id: String,
    pub whatsapp_message_id: String,
    pub occurred_at: String,
    pub received_at: String,
    pub pk: String,
    pub sk: String,
    /// The raw JSON exactly as FlowIQ sent it.
    pub body: String,
}

impl ReplayItem {
    /// An `event` item with its body; `None` for anything else (index entries, messages). An
    /// event whose body cannot be read is an error: a replay never skips an event silently.
    pub fn from_item(item: &Item) -> Result<Option<Self>, EventsError> {
        if text(item, "item_type") != ItemType::Event.as_str() {
            return Ok(None);
        }
        let body = stored_body(item)?;
        let occurred_at = text(item, "occurred_at");
        let received_at = text(item, "received_at");
        let time = if occurred_at.is_empty() {
            received_at
        } else {
            occurred_at
        };
        let event_id = text(item, "event_id");
        Ok(Some(ReplayItem {
            // As `keys::time_sk`, from the stored strings.
            key: format!("{time}#{event_id}"),
            event_id: event_id.to_owned(),
            event_type: text(item, "event_type").to_owned(),
            platform: text(item, "platform").to_owned(),
            organization_id: text(item, "organization_id").to_owned(),
            whatsapp_message_id: text(item, "whatsapp_message_id").to_owned(),
            occurred_at: occurred_at.to_owned(),
            received_at: received_at.to_owned(),
            pk: text(item, keys::PK).to_owned(),
            sk: text(item, keys::SK).to_owned(),
            body,
        }))
    }

    /// The `detail` the Pipe builds from the stream record (template.yaml, `InputTemplate`):
    /// every field a string, "" when the item has no such attribute.
    pub fn detail(&self) -> Value {
        json!({
            "event_id": self.event_id,
            "event_type": self.event_type,
            "platform": self.platform,
            "organization_id": self.organization_id,
            "whatsapp_message_id": self.whatsapp_message_id,
            "occurred_at": self.occurred_at,
            "received_at": self.received_at,
            "pk": self.pk,
            "sk": self.sk,
        })
    }
}

/// Sorts by time order and drops repeats of one event.
pub fn in_time_order(mut items: Vec<ReplayItem>) -> Vec<ReplayItem> {
    items.sort_by(|a, b| a.key.cmp(&b.key));
    items.dedup_by(|a, b| a.key == b.key);
    items
}
