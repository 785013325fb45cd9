//! The storage ports: [`EventStore`], the webhook's one write per delivery (the event's
//! conditional put, or the rejected body), and [`MessageStore`], the optional projection's merge
//! into a message item. The DynamoDB adapter is in [`dynamodb`], the in-memory one in [`memory`].

pub mod dynamodb;
pub mod memory;

use std::future::Future;

use crate::message_item::MessageUpdate;
use crate::records::{EventItem, RejectedItem};

/// Whether an event was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    Duplicate,
}

impl PutOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            PutOutcome::Stored => "stored",
            PutOutcome::Duplicate => "duplicate",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request failed after the SDK's own retries (throttling, timeouts, outages, ...).
    #[error("DynamoDB {operation} failed: {message}")]
    Request {
        operation: &'static str,
        /// The SDK error with its context (`DisplayErrorContext`), safe to log: no item data.
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The writes of one delivery did not finish within the time a sender can wait.
    #[error("DynamoDB did not finish within {} ms", budget.as_millis())]
    OverBudget { budget: std::time::Duration },
    #[error("could not convert the {what} to a DynamoDB item: {source}")]
    Serialization {
        what: &'static str,
        #[source]
        source: serde_dynamo::Error,
    },
}

/// Writes for one delivery. Every method must be safe to call again with the same input:
/// a redelivery repeats them after a crash or a failed write.
pub trait EventStore: Send + Sync {
    /// Stores the event unless an event with the same key exists, atomically. By value: the
    /// item's strings move into the request.
    fn put_event(
        &self,
        item: EventItem,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    fn put_rejected(
        &self,
        item: &RejectedItem,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The optional projection's write (an `UpdateItem`, which the webhook's role may not make):
/// only [`crate::message_projection`] needs it.
pub trait MessageStore: Send + Sync {
    /// Merges one event's facts into its message item; idempotent and order-independent.
    fn update_message(
        &self,
        update: &MessageUpdate,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
