//! The optional stored projection (template parameter `DeployMessageProjection`): a stream-fed
//! function that keeps the `message` item of each WhatsApp message, for consumers that want its
//! state in one GetItem. It applies each new event's [`message_update`] with the same commutative
//! merge as [`crate::message_view`] derives, so the item equals the derived view for every
//! arrival order, and a stream retry or a split batch applies an update again harmlessly.

use crate::message_item::message_update;
use crate::records::EventItemError;
use crate::store::{MessageStore, StoreError};
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
pub async fn project<S: MessageStore>(
    store: &S,
    change: TableChange,
) -> Result<(), ProjectionError> {
    let TableChange::NewEvent(item) = change else {
        return Ok(());
    };
    let event = item
        .webhook_event()
        .map_err(|source| ProjectionError::Event {
            event_id: item.event_id.clone(),
            source,
        })?;
    if let Some(update) = message_update(&event, item.contact_pk.as_deref(), item.expires_at) {
        store.update_message(&update).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Received, Retention, event_item};
    use crate::store::memory::{InMemoryEventStore, StoreOperation};
    use crate::webhook_event::WebhookEvent;

    #[tokio::test]
    async fn the_projection_keeps_the_derived_state_and_ignores_the_rest() {
        let store = InMemoryEventStore::default();
        let bodies = [
            r#"{"event_type":"message_read","whatsapp_message_id":"wamid.p","organization_id":"o","status":"read","timestamp":"2026-03-07T10:00:03Z","whatsapp_id":"27830000001"}"#,
            r#"{"event_type":"message_delivered","whatsapp_message_id":"wamid.p","organization_id":"o","status":"delivered","timestamp":"2026-03-07T10:00:02Z","whatsapp_id":"27830000001"}"#,
        ];
        let items: Vec<_> = bodies
            .iter()
            .map(|body| {
                let event =
                    WebhookEvent::parse(crate::platform::Platform::Whatsapp, body.as_bytes())
                        .unwrap();
                event_item(
                    event,
                    body,
                    &Received::now(),
                    Retention(None),
                    &crate::contact_key::ContactKey::local_dev(),
                )
            })
            .collect();
        for item in items.iter().chain(&items) {
            project(&store, TableChange::NewEvent(Box::new(item.clone())))
                .await
                .unwrap();
        }
        let projected = store.projected_message("wamid.p").unwrap();
        let derived = crate::message_view::derive(&items).unwrap().unwrap();
        assert_eq!(projected.status, derived.status);
        assert_eq!(projected.history, derived.status_history);
        assert_eq!(projected.times, derived.times);

        store.fail_next(StoreOperation::UpdateMessage);
        let change = TableChange::NewEvent(Box::new(items[0].clone()));
        assert!(matches!(
            project(&store, change).await,
            Err(ProjectionError::Store(_))
        ));
    }
}
