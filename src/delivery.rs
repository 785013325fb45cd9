//! Receiving one delivery: authenticate it, accept it (parse and store, see
//! [`crate::acceptance`]), spill it to the queue when DynamoDB cannot take it, and say what
//! happened. Talks to storage only through [`EventStore`] and [`Spill`]; knows nothing of HTTP.

use std::sync::{PoisonError, RwLock};

use crate::acceptance::{Accepted, Acceptor, Attempted, AuthenticatedDelivery};
pub use crate::acceptance::{Rejection, RejectionReply};
use crate::contact_key::ContactKey;
use crate::event_id::EventId;
use crate::platform::Platform;
use crate::queued_delivery::QueuedDelivery;
use crate::records::{Received, Retention};
use crate::spill::{NoSpill, Spill, SpillError};
use crate::store::{EventStore, PutOutcome, StoreError};
use crate::webhook_event::EventType;
use crate::webhook_tokens::WebhookTokens;

/// One POST from FlowIQ, as the HTTP edge extracted it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub platform: Platform,
    pub token: &'a str,
    pub body: &'a [u8],
    pub request_id: &'a str,
}

/// What happened to a delivery. `Accepted`, `Queued` and `Rejected` are durable; nothing else is.
#[derive(Debug)]
pub enum Reply {
    Accepted {
        outcome: PutOutcome,
        event_id: EventId,
        event_type: EventType,
    },
    /// DynamoDB could not take it; it is in the spill queue, to be stored by the drain.
    Queued {
        event_id: EventId,
        event_type: EventType,
        cause: StoreError,
    },
    /// Missing or wrong token: nothing was stored.
    Unauthorized,
    /// Authenticated but not accepted; the raw body (or its size and hash) is kept as a
    /// `rejected` item, or queued for the drain to write it (`queued`: why it was not written).
    Rejected {
        rejection: RejectionReply,
        queued: Option<StoreError>,
    },
    /// Neither DynamoDB nor the spill queue took it: nothing may be acknowledged.
    StorageUnavailable {
        error: StoreError,
        spill: SpillError,
    },
}

pub struct Receiver<S, Q = NoSpill> {
    acceptor: Acceptor<S>,
    /// Replaced when the token secret is read again (src/token_secret.rs).
    tokens: RwLock<WebhookTokens>,
    spill: Q,
}

impl<S: EventStore> Receiver<S, NoSpill> {
    pub fn new(
        store: S,
        tokens: WebhookTokens,
        retention: Retention,
        contact_key: ContactKey,
    ) -> Self {
        Self {
            acceptor: Acceptor::new(store, retention, contact_key),
            tokens: RwLock::new(tokens),
            spill: NoSpill,
        }
    }
}

impl<S: EventStore, Q: Spill> Receiver<S, Q> {
    /// The same receiver, spilling to `spill` what DynamoDB cannot take.
    pub fn with_spill<R: Spill>(self, spill: R) -> Receiver<S, R> {
        Receiver {
            acceptor: self.acceptor,
            tokens: self.tokens,
            spill,
        }
    }

    /// Rejected bodies kept for `rejected` days (capped by the events' retention).
    pub fn with_rejected_retention(mut self, rejected: Retention) -> Self {
        self.acceptor = self.acceptor.with_rejected_retention(rejected);
        self
    }

    /// From now on, only `tokens` are accepted (a rotation read from the token secret).
    pub fn replace_tokens(&self, tokens: WebhookTokens) {
        *self.tokens.write().unwrap_or_else(PoisonError::into_inner) = tokens;
    }

    pub fn store(&self) -> &S {
        self.acceptor.store()
    }

    pub fn spill(&self) -> &Q {
        &self.spill
    }

    pub async fn receive(&self, delivery: Delivery<'_>) -> Reply {
        let authenticated = self
            .tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .verify(delivery.token);
        if !authenticated {
            return Reply::Unauthorized;
        }
        let received = Received::now();
        let authenticated = AuthenticatedDelivery {
            platform: delivery.platform,
            body: delivery.body,
            request_id: delivery.request_id,
            received: &received,
        };
        let (attempted, error) = match self.acceptor.accept(authenticated).await {
            Accepted::Stored {
                outcome,
                event_id,
                event_type,
            } => {
                return Reply::Accepted {
                    outcome,
                    event_id,
                    event_type,
                };
            }
            Accepted::Rejected(rejection) => {
                return Reply::Rejected {
                    rejection,
                    queued: None,
                };
            }
            Accepted::Failed { attempted, error } => (attempted, error),
        };
        self.queue(authenticated, attempted, error).await
    }

    /// Queues a delivery DynamoDB did not take: acknowledged once the queue holds it.
    async fn queue(
        &self,
        delivery: AuthenticatedDelivery<'_>,
        attempted: Attempted,
        error: StoreError,
    ) -> Reply {
        let event_id = match &attempted {
            Attempted::Event { event_id, .. } => Some(event_id.as_str()),
            Attempted::Rejection(_) => None,
        };
        let queued = QueuedDelivery::of(
            delivery.platform,
            delivery.body,
            delivery.request_id,
            delivery.received,
            event_id,
        );
        if let Err(spill) = self.spill.send(&queued).await {
            return Reply::StorageUnavailable { error, spill };
        }
        match attempted {
            Attempted::Event {
                event_id,
                event_type,
            } => Reply::Queued {
                event_id,
                event_type,
                cause: error,
            },
            Attempted::Rejection(rejection) => Reply::Rejected {
                rejection,
                queued: Some(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_status::MessageStatus;
    use crate::store::memory::{InMemoryEventStore, StoreOperation};

    use crate::queued_delivery::QueuedBody;
    use crate::spill::memory::InMemorySpill;
    use crate::webhook_event::MAX_BODY_BYTES;

    const TOKEN: &str = "unit-test-token-not-a-secret-0123456789";

    fn receiver() -> Receiver<InMemoryEventStore> {
        let tokens = WebhookTokens::parse(TOKEN).unwrap();
        Receiver::new(
            InMemoryEventStore::default(),
            tokens,
            Retention(None),
            ContactKey::local_dev(),
        )
    }

    fn receipt(status: &str, at: &str) -> String {
        format!(
            r#"{{"event_type":"message_{status}","whatsapp_message_id":"wamid.u1","organization_id":"org-u","status":"{status}","timestamp":"{at}","whatsapp_id":"27830000001"}}"#
        )
    }

    async fn deliver<Q: Spill>(
        receiver: &Receiver<InMemoryEventStore, Q>,
        token: &str,
        body: &str,
    ) -> Reply {
        let delivery = Delivery {
            platform: Platform::Whatsapp,
            token,
            body: body.as_bytes(),
            request_id: "req-1",
        };
        receiver.receive(delivery).await
    }

    fn outcome(reply: &Reply) -> Option<PutOutcome> {
        match reply {
            Reply::Accepted { outcome, .. } => Some(*outcome),
            _ => None,
        }
    }

    #[tokio::test]
    async fn an_event_is_stored_once_and_a_redelivery_is_a_duplicate() {
        let receiver = receiver();
        let body = receipt("delivered", "2026-03-07T10:00:02Z");
        let first = deliver(&receiver, TOKEN, &body).await;
        assert_eq!(outcome(&first), Some(PutOutcome::Stored), "{first:?}");
        let again = deliver(&receiver, TOKEN, &body).await;
        assert_eq!(outcome(&again), Some(PutOutcome::Duplicate), "{again:?}");
        let events = receiver.store().events();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].body().unwrap(),
            body,
            "the raw body is kept as received"
        );
        let message = receiver.store().message("wamid.u1").unwrap();
        assert_eq!(message.status, Some(MessageStatus::Delivered));
    }

    #[tokio::test]
    async fn the_status_is_right_whatever_the_order_of_arrival() {
        let receiver = receiver();
        for (status, at) in [
            ("read", "2026-03-07T10:00:03Z"),
            ("sent", "2026-03-07T10:00:01Z"),
            ("delivered", "2026-03-07T10:00:02Z"),
        ] {
            let reply = deliver(&receiver, TOKEN, &receipt(status, at)).await;
            assert_eq!(outcome(&reply), Some(PutOutcome::Stored), "{reply:?}");
        }
        let message = receiver.store().message("wamid.u1").unwrap();
        assert_eq!(message.status, Some(MessageStatus::Read));
        assert_eq!(message.status_history.len(), 3);
    }

    #[tokio::test]
    async fn a_wrong_token_stores_nothing() {
        let receiver = receiver();
        let body = receipt("read", "2026-03-07T10:00:03Z");
        let reply = deliver(&receiver, "wrong-token-but-long-enough-0123456789", &body).await;
        assert!(matches!(reply, Reply::Unauthorized), "{reply:?}");
        assert!(receiver.store().events().is_empty());
        assert!(receiver.store().rejected().is_empty());
    }

    #[tokio::test]
    async fn bad_bodies_are_answered_and_kept_as_rejected() {
        let receiver = receiver();
        let reply = deliver(&receiver, TOKEN, r#"{"event_type":"message_read"}"#).await;
        let Reply::Rejected {
            rejection,
            queued: None,
        } = reply
        else {
            panic!("{reply:?}")
        };
        assert_eq!(rejection.rejection, Rejection::InvalidBody);
        assert_eq!(
            rejection.reason,
            "message_read event: missing field `organization_id`"
        );
        let too_large = "x".repeat(MAX_BODY_BYTES + 1);
        let reply = deliver(&receiver, TOKEN, &too_large).await;
        assert!(
            matches!(
                &reply,
                Reply::Rejected { rejection, queued: None } if rejection.rejection == Rejection::TooLarge
            ),
            "{reply:?}"
        );
        let rejected = receiver.store().rejected();
        assert_eq!(rejected.len(), 2);
        assert_eq!(
            rejected[0].body.as_deref(),
            Some(r#"{"event_type":"message_read"}"#)
        );
        assert_eq!(
            (rejected[1].body_size, rejected[1].body.as_deref()),
            (MAX_BODY_BYTES + 1, None),
            "an oversized body is kept as its size and hash only"
        );
        assert!(receiver.store().events().is_empty());
    }

    #[tokio::test]
    async fn nothing_is_acknowledged_that_was_not_stored() {
        let receiver = receiver();
        let body = receipt("read", "2026-03-07T10:00:03Z");
        // The event write fails: nothing stored, nothing acknowledged.
        receiver.store().fail_next(StoreOperation::PutEvent);
        let reply = deliver(&receiver, TOKEN, &body).await;
        assert!(
            matches!(reply, Reply::StorageUnavailable { .. }),
            "{reply:?}"
        );
        assert!(receiver.store().events().is_empty());

        // One write per delivery: once the event is stored, its message's state is there too.
        let reply = deliver(&receiver, TOKEN, &body).await;
        assert_eq!(outcome(&reply), Some(PutOutcome::Stored), "{reply:?}");
        let message = receiver.store().message("wamid.u1").unwrap();
        assert_eq!(message.status, Some(MessageStatus::Read));

        // A failed rejection write is not acknowledged either: the bad body must not be lost.
        receiver.store().fail_next(StoreOperation::PutRejected);
        let reply = deliver(&receiver, TOKEN, "not json").await;
        assert!(
            matches!(reply, Reply::StorageUnavailable { .. }),
            "{reply:?}"
        );
        assert!(receiver.store().rejected().is_empty());
    }

    fn spilling_receiver() -> Receiver<InMemoryEventStore, InMemorySpill> {
        receiver().with_spill(InMemorySpill::default())
    }

    #[tokio::test]
    async fn what_dynamodb_cannot_take_is_queued_and_acknowledged() {
        let receiver = spilling_receiver();
        let body = receipt("read", "2026-03-07T10:00:03Z");
        receiver.store().fail_next(StoreOperation::PutEvent);
        let reply = deliver(&receiver, TOKEN, &body).await;
        let Reply::Queued { event_id, .. } = &reply else {
            panic!("{reply:?}")
        };
        assert!(receiver.store().events().is_empty());
        let queued = receiver.spill().queued();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].event_id.as_deref(), Some(event_id.as_str()));
        assert_eq!(
            queued[0].body().unwrap(),
            QueuedBody::Bytes(body.clone().into_bytes())
        );
        assert_eq!(queued[0].request_id, "req-1");
    }

    #[tokio::test]
    async fn a_bad_body_during_an_outage_is_answered_as_bad_and_queued() {
        let receiver = spilling_receiver();
        receiver.store().fail_next(StoreOperation::PutRejected);
        let reply = deliver(&receiver, TOKEN, "not json").await;
        assert!(
            matches!(&reply, Reply::Rejected { rejection, queued: Some(_) } if rejection.rejection == Rejection::InvalidBody),
            "{reply:?}"
        );
        receiver.store().fail_next(StoreOperation::PutRejected);
        let too_large = "x".repeat(MAX_BODY_BYTES + 1);
        let reply = deliver(&receiver, TOKEN, &too_large).await;
        assert!(
            matches!(&reply, Reply::Rejected { rejection, queued: Some(_) } if rejection.rejection == Rejection::TooLarge),
            "{reply:?}"
        );
        let queued = receiver.spill().queued();
        assert_eq!(queued.len(), 2);
        assert_eq!(queued[0].event_id, None);
        assert!(
            matches!(queued[1].body().unwrap(), QueuedBody::OverLimit { size, .. } if size == MAX_BODY_BYTES + 1)
        );
        assert!(receiver.store().rejected().is_empty());
    }

    #[tokio::test]
    async fn wrong_tokens_are_never_queued_and_a_failed_spill_is_not_acknowledged() {
        let receiver = spilling_receiver();
        let body = receipt("read", "2026-03-07T10:00:03Z");
        receiver.store().fail_next(StoreOperation::PutEvent);
        let reply = deliver(&receiver, "wrong-token-but-long-enough-0123456789", &body).await;
        assert!(matches!(reply, Reply::Unauthorized), "{reply:?}");
        assert!(receiver.spill().queued().is_empty());

        receiver.spill().set_failing(true);
        let reply = deliver(&receiver, TOKEN, &body).await;
        assert!(
            matches!(reply, Reply::StorageUnavailable { .. }),
            "{reply:?}"
        );
        assert!(receiver.spill().queued().is_empty() && receiver.store().events().is_empty());
    }

    #[tokio::test]
    async fn a_queued_delivery_is_stored_once_with_its_original_time() {
        let receiver = spilling_receiver();
        let body = receipt("delivered", "2026-03-07T10:00:02Z");
        receiver.store().fail_next(StoreOperation::PutEvent);
        deliver(&receiver, TOKEN, &body).await;
        let queued = receiver.spill().queued().remove(0);
        // The drain's view: the same acceptor, twice (SQS delivers at least once).
        let acceptor = Acceptor::new(
            InMemoryEventStore::default(),
            Retention(None),
            ContactKey::local_dev(),
        );
        for expected in [PutOutcome::Stored, PutOutcome::Duplicate] {
            let accepted = acceptor.accept_queued(&queued).await.unwrap();
            assert!(
                matches!(accepted, Accepted::Stored { outcome, .. } if outcome == expected),
                "{accepted:?}"
            );
        }
        let events = acceptor.store().events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].received_at, queued.received_at);
        assert_eq!(events[0].event_id, queued.event_id.clone().unwrap());
        assert_eq!(
            acceptor.store().message("wamid.u1").unwrap().status,
            Some(MessageStatus::Delivered)
        );
    }
}
