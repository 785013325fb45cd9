//! The optional stored projection (template parameter `DeployMessageProjection`): a stream-fed
//! function that keeps the `message` item of each WhatsApp message, for consumers that want its
//! state in one GetItem. It applies each new event's [`message_update`] with the same commutative
//! merge as [`crate::message_view`] derives, so the item equals the derived view for every
//! arrival order, and a stream retry or a split batch applies an update again harmlessly.

use crate::records::{EventItemError, message_update};
use crate::store::{EventStore, StoreError};
use crate::table_stream::TableChange;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("event {event_id}: {source}")]
    Event {
        event_id: String,
        #[source]
        source: EventItemError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies one change of the table's stream; everything but a new event is ignored.
pub async fn project<S: EventStore>(store: &S, change: TableChange) -> Result<(), ProjectionError> {
    let TableChange::NewEvent(item) = change else {
        return Ok(());
    };
    let event = item
        .webhook_event()
        .map_err(|source| ProjectionError::Event {
            event_id: item.event_id.clone(),
            source,
        })?;
    if let Some(update) = message_update(&event, item.expires_at) {
        store.update_message(&update).await?;
    }
    Ok(())
}
