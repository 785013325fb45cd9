//! One stored event as a replay sends it: the original body, its place in time order, and the
//! stored item (for the `detail` the EventBridge Pipe puts on the bus for it, built by the same
//! code as the Pipe's enrichment: [`flowiq_webhooks::event_detail::EventDetail`]).

use crate::events::error::EventsError;
use crate::queries::{Item, text};
use flowiq_webhooks::records::{EventItem, ItemType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayItem {
    /// `<time>#<event_id>`: `occurred_at` (`received_at` for undated events), as the
    /// `by-organization` sort key. Replays go in this order; the cursor is this key.
    pub key: String,
    /// The raw JSON exactly as FlowIQ sent it.
    pub body: String,
    /// The core's typed item: attribute names are not spelled again here.
    pub event: EventItem,
}

impl ReplayItem {
    /// An `event` item with its body; `None` for anything else (index entries, messages). An
    /// event whose body cannot be read is an error: a replay never skips an event silently.
    pub fn from_item(item: &Item) -> Result<Option<Self>, EventsError> {
        if text(item, "item_type") != ItemType::Event.as_str() {
            return Ok(None);
        }
        let event: EventItem = serde_dynamo::from_item(item.clone())
            .map_err(|e| EventsError::unreadable(item, "(the event item)", e))?;
        let body = event
            .body()
            .map_err(|e| EventsError::unreadable(item, "body", e))?;
        let body = body.into_owned();
        // As `keys::time_sk`: the `by-organization` sort key's time.
        let time = match event.occurred_at.as_deref() {
            None | Some("") => event.received_at.as_str(),
            Some(occurred_at) => occurred_at,
        };
        let key = format!("{time}#{}", event.event_id);
        Ok(Some(ReplayItem { key, body, event }))
    }

    /// The stored events among `items`, in their order.
    pub fn all_of(items: &[Item]) -> Result<Vec<Self>, EventsError> {
        let events = items.iter().map(Self::from_item);
        events.filter_map(Result::transpose).collect()
    }
}
