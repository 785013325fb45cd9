//! Accepting a delivery that is already authenticated: parse it, store the event (or keep the
//! rejected body), and say what happened. The webhook's [`crate::delivery::Receiver`] calls it
//! after the token check; the spill drain calls it directly with the delivery's original time of
//! receipt, and `reprocess-rejected` with the time of reprocessing (as for a redelivery). Talks to
//! storage only through [`EventStore`].

use std::time::Duration;

use crate::contact_key::ContactKey;
use crate::event_id::EventId;
use crate::platform::Platform;
use crate::queued_delivery::{QueuedBody, QueuedDelivery, QueuedDeliveryError};
pub use crate::records::Rejection;
use crate::records::{
    BodyDigest, Received, RejectedItem, RejectedRetention, Retention, event_item, oversized_record,
    rejected_record,
};
use crate::store::{EventStore, PutOutcome, StoreError};
use crate::webhook_event::MAX_BODY_BYTES;
use crate::webhook_event::{EventType, WebhookEvent};

/// How long storing one delivery may take, all writes and retries included, before it counts as
/// failed: with the spill's own budget the sender is answered within 5 s
/// (docs/reliability.md#time-budget).
pub const STORE_BUDGET: Duration = Duration::from_millis(2_500);

/// A delivery whose token was checked (or that was authenticated when it was first received).
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedDelivery<'a> {
    pub platform: Platform,
    pub body: &'a [u8],
    pub request_id: &'a str,
    pub received: &'a Received,
}

/// What accepting a delivery came to.
#[derive(Debug)]
pub enum Accepted {
    /// The event is durably stored (now, or by an earlier delivery of the same event).
    Stored {
        outcome: PutOutcome,
        event_id: EventId,
        event_type: EventType,
    },
    /// The body is not a FlowIQ event we accept; it is durably kept as a `rejected` item.
    Rejected(RejectionReply),
    /// Nothing durable was written (or not all of it): `attempted` says what was being stored.
    Failed {
        attempted: Attempted,
        error: StoreError,
    },
}

/// Why a body was not accepted, for the sender and for the logs.
#[derive(Debug, Clone)]
pub struct RejectionReply {
    pub rejection: Rejection,
    /// For the sender (and the `rejected` item): may quote the body.
    pub reason: String,
    /// For the logs: never quotes the body.
    pub log_reason: String,
}

/// What a failed acceptance was storing.
#[derive(Debug, Clone)]
pub enum Attempted {
    Event {
        event_id: EventId,
        event_type: EventType,
    },
    Rejection(RejectionReply),
}

/// Stores authenticated deliveries, one conditional write each: a redelivery, a spilled copy and
/// a crash after the write all converge on the same item.
pub struct Acceptor<S> {
    store: S,
    retention: Retention,
    /// Turns WhatsApp numbers into `by-contact` keys (src/contact_key.rs).
    contact_key: ContactKey,
    rejected_retention: RejectedRetention,
    budget: Duration,
}

impl<S: EventStore> Acceptor<S> {
    /// Rejected bodies get the default rejected retention
    /// ([`crate::records::DEFAULT_REJECTED_RETENTION_DAYS`], never longer than `retention`).
    pub fn new(store: S, retention: Retention, contact_key: ContactKey) -> Self {
        Self {
            store,
            retention,
            contact_key,
            rejected_retention: RejectedRetention::default_for(retention),
            budget: STORE_BUDGET,
        }
    }

    /// Rejected bodies kept for `rejected` (capped by the events' retention).
    pub fn with_rejected_retention(mut self, rejected: Retention) -> Self {
        self.rejected_retention = RejectedRetention::new(rejected, self.retention);
        self
    }

    /// Another budget than [`STORE_BUDGET`] (the drain and the operator CLI have no sender
    /// waiting).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub async fn accept(&self, delivery: AuthenticatedDelivery<'_>) -> Accepted {
        let received = delivery.received;
        if delivery.body.len() > MAX_BODY_BYTES {
            let rejection = RejectionReply {
                rejection: Rejection::TooLarge,
                reason: too_large_reason(delivery.body.len()),
                log_reason: too_large_reason(delivery.body.len()),
            };
            return self.reject(delivery, rejection).await;
        }
        let event = match WebhookEvent::parse(delivery.platform, delivery.body) {
            Ok(event) => event,
            Err(err) => {
                let rejection = RejectionReply {
                    rejection: Rejection::InvalidBody,
                    reason: err.to_string(),
                    log_reason: err.log_summary(),
                };
                return self.reject(delivery, rejection).await;
            }
        };
        // Parsing succeeded, so the body is UTF-8.
        let body = std::str::from_utf8(delivery.body).expect("a parsed body is UTF-8");
        let event_id = event.event_id.clone();
        let item = event_item(event, body, received, self.retention, &self.contact_key);
        let event_type = item.event_type.clone();
        // One conditional PutItem: the event is the record, a duplicate is that put failing its
        // condition, and a message's state is derived from its events.
        let writes = self.store.put_event(item);
        match self.within_budget(writes).await {
            Ok(outcome) => Accepted::Stored {
                outcome,
                event_id,
                event_type,
            },
            Err(error) => Accepted::Failed {
                attempted: Attempted::Event {
                    event_id,
                    event_type,
                },
                error,
            },
        }
    }

    /// Applies a delivery from the spill queue, with its original time of receipt. `Err` when the
    /// message itself is unusable (it stays in the queue, then goes to the dead-letter queue).
    pub async fn accept_queued(
        &self,
        queued: &QueuedDelivery,
    ) -> Result<Accepted, QueuedDeliveryError> {
        let received = queued.received()?;
        let delivery = |body| AuthenticatedDelivery {
            platform: queued.platform,
            body,
            request_id: &queued.request_id,
            received: &received,
        };
        Ok(match queued.body()? {
            QueuedBody::Bytes(body) => self.accept(delivery(&body)).await,
            QueuedBody::OverLimit { size, sha256 } => {
                let rejection = RejectionReply {
                    rejection: Rejection::TooLarge,
                    reason: too_large_reason(size),
                    log_reason: too_large_reason(size),
                };
                let item = oversized_record(
                    queued.platform,
                    BodyDigest { size, sha256 },
                    &queued.request_id,
                    rejection.reason.clone(),
                    &received,
                    self.rejected_retention,
                );
                self.keep_rejected(item, rejection).await
            }
        })
    }

    async fn reject(
        &self,
        delivery: AuthenticatedDelivery<'_>,
        rejection: RejectionReply,
    ) -> Accepted {
        let item = rejected_record(
            delivery.platform,
            delivery.body,
            delivery.request_id,
            rejection.rejection,
            rejection.reason.clone(),
            delivery.received,
            self.rejected_retention,
        );
        self.keep_rejected(item, rejection).await
    }

    async fn keep_rejected(&self, item: RejectedItem, rejection: RejectionReply) -> Accepted {
        match self.within_budget(self.store.put_rejected(&item)).await {
            Ok(()) => Accepted::Rejected(rejection),
            Err(error) => Accepted::Failed {
                attempted: Attempted::Rejection(rejection),
                error,
            },
        }
    }

    /// The writes, or [`StoreError::OverBudget`] once the budget is spent (a write in flight may
    /// still apply: every write is idempotent, so a later copy converges).
    async fn within_budget<T>(
        &self,
        writes: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.budget, writes)
            .await
            .unwrap_or(Err(StoreError::OverBudget {
                budget: self.budget,
            }))
    }
}

fn too_large_reason(size: usize) -> String {
    format!("body is {size} bytes; the limit is {MAX_BODY_BYTES} bytes")
}
