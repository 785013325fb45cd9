//! An in-memory [`EventStore`] and [`MessageStore`] with the same semantics as the DynamoDB ones
//! (conditional put on the event key, order-independent message merge): for fast tests of the delivery logic without
//! Java, and a second implementation that keeps the port honest. Never used by the function.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{EventStore, MessageStore, PutOutcome, StoreError};
use crate::message_item::{MessageItem, MessageUpdate};
use crate::message_status::MessageState;
use crate::message_view;
use crate::records::{EventItem, RejectedItem};

#[derive(Debug, Default)]
pub struct InMemoryEventStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// By (pk, sk), as the table keys them.
    events: BTreeMap<(String, String), EventItem>,
    /// By WhatsApp message id.
    messages: HashMap<String, MessageState>,
    rejected: Vec<RejectedItem>,
    /// Operations whose next call fails, as DynamoDB would after its retries (an outage).
    failing: Vec<StoreOperation>,
}

/// The stores' operations, one per [`EventStore`] and [`MessageStore`] method, for injecting
/// failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOperation {
    /// [`EventStore::put_event`] (a conditional `PutItem`).
    PutEvent,
    /// [`MessageStore::update_message`] (an `UpdateItem`).
    UpdateMessage,
    /// [`EventStore::put_rejected`] (a `PutItem`).
    PutRejected,
}

impl StoreOperation {
    /// The DynamoDB API call the operation makes, as [`StoreError::Request`] names it.
    pub fn dynamodb_name(self) -> &'static str {
        match self {
            StoreOperation::PutEvent | StoreOperation::PutRejected => "PutItem",
            StoreOperation::UpdateMessage => "UpdateItem",
        }
    }
}

impl InMemoryEventStore {
    /// The next call of `operation` fails with [`StoreError::Request`].
    pub fn fail_next(&self, operation: StoreOperation) {
        self.lock().failing.push(operation);
    }

    pub fn events(&self) -> Vec<EventItem> {
        self.lock().events.values().cloned().collect()
    }

    /// The message's state derived from its stored events, as readers of the table derive it.
    pub fn message(&self, whatsapp_message_id: &str) -> Option<MessageItem> {
        let events = self.events();
        let of_message = events
            .iter()
            .filter(|e| e.whatsapp_message_id.as_deref() == Some(whatsapp_message_id));
        message_view::derive(of_message).expect("stored bodies parse")
    }

    pub fn rejected(&self) -> Vec<RejectedItem> {
        self.lock().rejected.clone()
    }

    /// The state the optional stored projection keeps (from `update_message`).
    pub fn projected_message(&self, whatsapp_message_id: &str) -> Option<MessageState> {
        self.lock().messages.get(whatsapp_message_id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails the write when a failure is due.
    fn write(
        &self,
        operation: StoreOperation,
    ) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        let mut state = self.lock();
        if let Some(i) = state.failing.iter().position(|o| *o == operation) {
            state.failing.remove(i);
            return Err(StoreError::Request {
                operation: operation.dynamodb_name(),
                message: "injected failure".to_owned(),
                source: "injected failure".into(),
            });
        }
        Ok(state)
    }
}

impl EventStore for InMemoryEventStore {
    async fn put_event(&self, item: EventItem) -> Result<PutOutcome, StoreError> {
        let mut state = self.write(StoreOperation::PutEvent)?;
        let key = (item.pk.clone(), item.sk.clone());
        if state.events.contains_key(&key) {
            return Ok(PutOutcome::Duplicate);
        }
        state.events.insert(key, item);
        Ok(PutOutcome::Stored)
    }

    async fn put_rejected(&self, item: &RejectedItem) -> Result<(), StoreError> {
        let mut state = self.write(StoreOperation::PutRejected)?;
        // An unconditional PutItem: the same key (the queued copy of a write that applied)
        // replaces the item, as in DynamoDB.
        match state
            .rejected
            .iter_mut()
            .find(|kept| (&kept.pk, &kept.sk) == (&item.pk, &item.sk))
        {
            Some(kept) => *kept = item.clone(),
            None => state.rejected.push(item.clone()),
        }
        Ok(())
    }
}

impl MessageStore for InMemoryEventStore {
    async fn update_message(&self, update: &MessageUpdate) -> Result<(), StoreError> {
        let mut state = self.write(StoreOperation::UpdateMessage)?;
        state
            .messages
            .entry(update.identity.whatsapp_message_id.clone())
            .or_default()
            .apply(&update.fact, &update.occurred_at);
        Ok(())
    }
}
