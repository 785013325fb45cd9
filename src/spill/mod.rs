//! The spill port: where a delivery goes when DynamoDB cannot take it, so that it is acknowledged
//! only once it is durable somewhere (docs/reliability.md#the-spill). The SQS adapter is in
//! [`sqs`]; [`NoSpill`] answers 503 as before (local runs); [`memory`] is for tests.

pub mod memory;
pub mod sqs;

use std::future::Future;
use std::time::Duration;

use crate::queued_delivery::QueuedDelivery;

/// How long the spill may take, retries included: with [`crate::acceptance::STORE_BUDGET`] the
/// sender is answered within 5 s.
pub const SPILL_BUDGET: Duration = Duration::from_millis(2_000);

#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("no spill queue is configured (set SPILL_QUEUE_URL)")]
    NotConfigured,
    /// SendMessage failed after the SDK's retries, or did not finish within [`SPILL_BUDGET`].
    #[error("SQS SendMessage failed: {message}")]
    Request {
        /// The SDK error with its context, safe to log: no body.
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

pub trait Spill: Send + Sync {
    /// Durably queues the delivery, or fails: `Ok` only once the queue has accepted it.
    fn send(
        &self,
        delivery: &QueuedDelivery,
    ) -> impl Future<Output = Result<(), SpillError>> + Send;
}

/// No spill queue: a delivery that cannot be stored is answered 503.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSpill;

impl Spill for NoSpill {
    async fn send(&self, _delivery: &QueuedDelivery) -> Result<(), SpillError> {
        Err(SpillError::NotConfigured)
    }
}
