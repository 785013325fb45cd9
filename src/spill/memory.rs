//! An in-memory [`Spill`] for tests of the delivery logic: keeps what was queued, fails on demand.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Spill, SpillError};
use crate::queued_delivery::QueuedDelivery;

#[derive(Debug, Default)]
pub struct InMemorySpill {
    queued: Mutex<Vec<QueuedDelivery>>,
    failing: AtomicBool,
}

impl InMemorySpill {
    /// Every send fails (as SQS would in an outage) until called again with `false`.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn queued(&self) -> Vec<QueuedDelivery> {
        self.queued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Spill for InMemorySpill {
    async fn send(&self, delivery: &QueuedDelivery) -> Result<(), SpillError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(SpillError::Request {
                message: "injected failure".to_owned(),
                source: None,
            });
        }
        self.queued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(delivery.clone());
        Ok(())
    }
}
