//! One stored event as a replay sends it: the original body, its place in time order, and the
//! `detail` the EventBridge Pipe puts on the bus for it (built by the same code as the Pipe's
//! enrichment: [`EventDetail`]).

use crate::events::error::EventsError;
use crate::queries::{Item, text};
use flowiq_webhooks::event_detail::{EventDetail, EventDetailError};
use flowiq_webhooks::keys;
use flowiq_webhooks::records::{EventItem, ItemType};

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
    /// The stored item, for its [`EventDetail`].
    pub item: EventItem,
}

impl ReplayItem {
    /// An `event` item with its body; `None` for anything else (index entries, messages). An
    /// event whose body cannot be read is an error: a replay never skips an event silently.
    pub fn from_item(item: &Item) -> Result<Option<Self>, EventsError> {
        if text(item, "item_type") != ItemType::Event.as_str() {
            return Ok(None);
        }
        let unreadable = |attribute: &str, problem: String| EventsError::Unreadable {
            item: format!(
                "pk {:?}, sk {:?}",
                text(item, keys::PK),
                text(item, keys::SK)
            ),
            attribute: attribute.to_owned(),
            problem,
        };
        // The core's typed item: attribute names are not spelled again here.
        let event: EventItem = serde_dynamo::from_item(item.clone())
            .map_err(|e| unreadable("(the event item)", e.to_string()))?;
        let body = event
            .body()
            .map_err(|e| unreadable("body", e.to_string()))?
            .into_owned();
        let item = event.clone();
        let occurred_at = event.occurred_at.unwrap_or_default();
        // As `keys::time_sk`: the `by-organization` sort key's time.
        let time = match occurred_at.as_str() {
            "" => event.received_at.as_str(),
            occurred_at => occurred_at,
        };
        Ok(Some(ReplayItem {
            key: format!("{time}#{}", event.event_id),
            event_id: event.event_id,
            event_type: event.event_type.to_string(),
            platform: event.platform.as_str().to_owned(),
            organization_id: event.organization_id.unwrap_or_default(),
            whatsapp_message_id: event.whatsapp_message_id.unwrap_or_default(),
            occurred_at,
            received_at: event.received_at,
            pk: event.pk,
            sk: event.sk,
            body,
            item,
        }))
    }

    /// The `detail` the Pipe's enrichment builds from this event's stream record: one event, one
    /// shape, wherever it comes from.
    pub fn detail(&self) -> Result<EventDetail, EventDetailError> {
        EventDetail::of(&self.item)
    }
}

/// Sorts by time order and drops repeats of one event.
pub fn in_time_order(mut items: Vec<ReplayItem>) -> Vec<ReplayItem> {
    items.sort_by(|a, b| a.key.cmp(&b.key));
    items.dedup_by(|a, b| a.key == b.key);
    items
}
