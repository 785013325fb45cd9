//! The in-memory store (the real conditional put's semantics) behind the seed's fault schedule:
//! each call may be throttled, answer 5xx, time out before or after its apply, take longer than
//! the store budget (and apply later, after the caller gave up), or kill the calling instance
//! before or after its write.

use std::sync::Arc;

use flowiq_webhooks::records::{EventItem, RejectedItem};
use flowiq_webhooks::store::memory::InMemoryEventStore;
use flowiq_webhooks::store::{EventStore, PutOutcome, StoreError};

use super::PlantedBug;
use super::crash::crash;
use super::fault_plan::Fault;
use super::world::World;

pub struct FaultyStore {
    inner: Arc<InMemoryEventStore>,
    world: Arc<World>,
}

impl FaultyStore {
    pub fn new(inner: Arc<InMemoryEventStore>, world: Arc<World>) -> Self {
        FaultyStore { inner, world }
    }
}

fn injected(fault: Fault) -> StoreError {
    StoreError::Request {
        operation: "PutItem",
        message: format!("simulated: {}", fault.name()),
        source: fault.name().into(),
    }
}

/// Applies a write to the table and notes what the table now holds.
trait Write: Send + 'static {
    type Output: Send + 'static;
    fn apply(self, table: &InMemoryEventStore, world: &World) -> Result<Self::Output, StoreError>;
}

struct PutEvent(EventItem);

impl Write for PutEvent {
    type Output = PutOutcome;
    fn apply(self, table: &InMemoryEventStore, world: &World) -> Result<PutOutcome, StoreError> {
        let event_id = self.0.event_id.clone();
        let outcome = now_or_never(table.put_event(self.0))?;
        if outcome == PutOutcome::Stored {
            world.table_stored_event(&event_id);
        }
        if outcome == PutOutcome::Duplicate && world.bug == Some(PlantedBug::DuplicateAsError) {
            return Err(StoreError::Request {
                operation: "PutItem",
                message: "ConditionalCheckFailedException (planted bug: taken for a failure)"
                    .to_owned(),
                source: "planted bug".into(),
            });
        }
        Ok(outcome)
    }
}

struct PutRejected(RejectedItem);

impl Write for PutRejected {
    type Output = ();
    fn apply(self, table: &InMemoryEventStore, world: &World) -> Result<(), StoreError> {
        now_or_never(table.put_rejected(&self.0))?;
        if let Some(body) = &self.0.body {
            world.table_kept_rejected(body);
        }
        Ok(())
    }
}

/// The in-memory store's futures never wait.
fn now_or_never<T>(future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => unreachable!("the in-memory store never waits"),
    }
}

impl FaultyStore {
    async fn call<W: Write>(&self, write: W) -> Result<W::Output, StoreError> {
        let world = &self.world;
        let fault = world.fault_for(&Fault::STORE);
        match fault {
            None => {
                tokio::time::sleep(world.millis(2, 25)).await;
                write.apply(&self.inner, world)
            }
            Some(Fault::StoreThrottled | Fault::StoreServerError) => {
                tokio::time::sleep(world.millis(20, 400)).await;
                Err(injected(fault.expect("a fault")))
            }
            Some(Fault::StoreTimeoutBeforeApply) => {
                tokio::time::sleep(world.millis(1_000, 2_450)).await;
                Err(injected(Fault::StoreTimeoutBeforeApply))
            }
            Some(Fault::StoreTimeoutAfterApply) => {
                tokio::time::sleep(world.millis(2, 25)).await;
                // Applied (or refused by its condition): either way the answer is lost.
                let _ = write.apply(&self.inner, world);
                tokio::time::sleep(world.millis(1_000, 2_400)).await;
                Err(injected(Fault::StoreTimeoutAfterApply))
            }
            Some(Fault::StoreSlowBeyondBudget) => {
                // The request is in flight on its own: it applies whether or not anyone waits.
                let delay = world.millis(2_600, 6_000);
                let (inner, world) = (Arc::clone(&self.inner), Arc::clone(world));
                let (answer, answered) = tokio::sync::oneshot::channel();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = answer.send(write.apply(&inner, &world));
                });
                answered
                    .await
                    .unwrap_or_else(|_| Err(injected(Fault::StoreSlowBeyondBudget)))
            }
            Some(Fault::CrashBeforeWrite) => {
                tokio::time::sleep(world.millis(2, 25)).await;
                crash()
            }
            Some(Fault::CrashAfterWrite) => {
                tokio::time::sleep(world.millis(2, 25)).await;
                let _ = write.apply(&self.inner, world);
                crash()
            }
            Some(other) => unreachable!("{other:?} is not a store fault"),
        }
    }
}

impl EventStore for FaultyStore {
    async fn put_event(&self, item: EventItem) -> Result<PutOutcome, StoreError> {
        self.call(PutEvent(item)).await
    }

    async fn put_rejected(&self, item: &RejectedItem) -> Result<(), StoreError> {
        self.call(PutRejected(item.clone())).await
    }
}
