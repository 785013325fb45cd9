//! SQS as the spill and the drain see it: at-least-once, unordered, a visibility time-out per
//! receive, receipt handles that go stale when a message is received again, and a redrive to the
//! dead-letter queue when a message is received more than `maxReceiveCount` times. [`QueueSpill`]
//! is the webhook's [`Spill`] onto it, with the schedule's send faults.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowiq_webhooks::queued_delivery::QueuedDelivery;
use flowiq_webhooks::spill::{Spill, SpillError};
use tokio::time::Instant;

use super::PlantedBug;
use super::crash::crash;
use super::fault_plan::Fault;
use super::world::World;

#[derive(Debug, Clone)]
pub struct QueueMessage {
    pub message_id: String,
    pub body: String,
    /// The event id, or the body of a delivery that did not parse (its `rejected` item's body);
    /// `None` for a message that is not a queued delivery.
    pub identity: Option<String>,
    pub receive_count: u32,
    invisible_until: Instant,
    receipt: u64,
}

/// One received message: its id, receipt handle and body.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt: u64,
    pub body: String,
}

pub struct SimulatedQueue {
    max_receive_count: u32,
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    next: u64,
    messages: Vec<QueueMessage>,
    dead_letters: Vec<QueueMessage>,
    sent: u64,
    redriven: u64,
    most_receives: u32,
}

impl SimulatedQueue {
    pub fn new(max_receive_count: u32) -> Self {
        SimulatedQueue {
            max_receive_count,
            state: Mutex::new(QueueState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn send(&self, body: String, identity: Option<String>) {
        let mut state = self.state();
        state.next += 1;
        state.sent += 1;
        let message_id = format!("m-{}", state.next);
        state.messages.push(QueueMessage {
            message_id,
            body,
            identity,
            receive_count: 0,
            invisible_until: Instant::now(),
            receipt: 0,
        });
    }

    /// Up to `max` visible messages, hidden for `visibility`; a message already received
    /// `maxReceiveCount` times goes to the dead-letter queue instead.
    pub fn receive(&self, world: &World, max: usize, visibility: Duration) -> Vec<Received> {
        let now = Instant::now();
        let mut state = self.state();
        let state = &mut *state;
        let start = world.with_rng(|rng| rng.usize(..=state.messages.len()));
        let mut received = Vec::new();
        let count = state.messages.len();
        let mut redrive = Vec::new();
        // From a random message on, wrapping around: SQS hands out messages in no set order.
        for index in (start..count).chain(0..start) {
            if received.len() == max {
                break;
            }
            let message = &mut state.messages[index];
            if message.invisible_until > now {
                continue;
            }
            if message.receive_count >= self.max_receive_count {
                redrive.push(index);
                continue;
            }
            state.next += 1;
            message.receive_count += 1;
            message.invisible_until = now + visibility;
            message.receipt = state.next;
            state.most_receives = state.most_receives.max(message.receive_count);
            received.push(Received {
                message_id: message.message_id.clone(),
                receipt: message.receipt,
                body: message.body.clone(),
            });
        }
        redrive.sort_unstable_by(|a, b| b.cmp(a));
        for index in redrive {
            let message = state.messages.remove(index);
            state.dead_letters.push(message);
            state.redriven += 1;
        }
        received
    }

    /// Deletes the message if `receipt` is its latest receipt handle (a stale one deletes
    /// nothing: the message was received again meanwhile).
    pub fn delete(&self, message_id: &str, receipt: u64) {
        let mut state = self.state();
        if let Some(index) = state
            .messages
            .iter()
            .position(|m| m.message_id == message_id && m.receipt == receipt)
        {
            state.messages.remove(index);
        }
    }

    /// Whether the queue (visible or in flight, not the dead-letter queue) holds a message for
    /// this identity.
    pub fn holds(&self, identity: &str) -> bool {
        self.state()
            .messages
            .iter()
            .any(|m| m.identity.as_deref() == Some(identity))
    }

    /// Messages waiting or in flight.
    pub fn depth(&self) -> usize {
        self.state().messages.len()
    }

    pub fn dead_letters(&self) -> Vec<QueueMessage> {
        self.state().dead_letters.clone()
    }

    /// Messages sent, redriven to the dead-letter queue, and the most receives of one message.
    pub fn counts(&self) -> (u64, u64, u32) {
        let state = self.state();
        (state.sent, state.redriven, state.most_receives)
    }
}

/// The webhook's spill onto the simulated queue.
pub struct QueueSpill {
    pub queue: Arc<SimulatedQueue>,
    pub world: Arc<World>,
}

fn identity(delivery: &QueuedDelivery) -> Option<String> {
    delivery.event_id.clone().or_else(|| {
        let body = delivery.body().ok()?;
        match body {
            flowiq_webhooks::queued_delivery::QueuedBody::Bytes(bytes) => {
                String::from_utf8(bytes).ok()
            }
            flowiq_webhooks::queued_delivery::QueuedBody::OverLimit { sha256, .. } => Some(sha256),
        }
    })
}

impl Spill for QueueSpill {
    async fn send(&self, delivery: &QueuedDelivery) -> Result<(), SpillError> {
        let world = &self.world;
        let fault = world.fault_for(&Fault::SPILL);
        let failed = |what: &str| SpillError::Request {
            message: format!("simulated: {what}"),
            source: None,
        };
        match fault {
            None => {
                tokio::time::sleep(world.millis(5, 60)).await;
                self.queue.send(delivery.to_json(), identity(delivery));
                Ok(())
            }
            Some(Fault::SpillFailed) => {
                tokio::time::sleep(world.millis(50, 1_900)).await;
                if world.bug == Some(PlantedBug::AckFailedSpill) {
                    return Ok(());
                }
                Err(failed(Fault::SpillFailed.name()))
            }
            Some(Fault::SpillTimeoutAfterEnqueue) => {
                tokio::time::sleep(world.millis(5, 60)).await;
                self.queue.send(delivery.to_json(), identity(delivery));
                tokio::time::sleep(world.millis(900, 1_900)).await;
                Err(failed(Fault::SpillTimeoutAfterEnqueue.name()))
            }
            Some(Fault::CrashAfterSpill) => {
                tokio::time::sleep(world.millis(5, 60)).await;
                self.queue.send(delivery.to_json(), identity(delivery));
                crash()
            }
            Some(other) => unreachable!("{other:?} is not a spill fault"),
        }
    }
}
