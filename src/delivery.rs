//! Receiving one delivery: authenticate, parse, store, and say what happened. Talks to storage
//! only through [`EventStore`]; knows nothing of HTTP or AWS.

use crate::config::MAX_BODY_BYTES;
use crate::event_id::EventId;
use crate::platform::Platform;
pub use crate::records::Rejection;
use crate::records::{Received, Retention, event_records, rejected_record};
use crate::store::{EventStore, PutOutcome, StoreError};
use crate::webhook_event::WebhookEvent;
use crate::webhook_tokens::WebhookTokens;

/// One POST from FlowIQ, as the HTTP edge extracted it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub platform: Platform,
    pub token: &'a str,
    pub body: &'a [u8],
    pub request_id: &'a str,
}

/// What happened to a delivery. Only `Accepted` means it is durably stored.
#[derive(Debug)]
pub enum Reply {
    Accepted {
        outcome: PutOutcome,
        event_id: EventId,
        event_type: String,
    },
    /// Missing or wrong token: nothing was stored.
    Unauthorized,
    /// Authenticated but not accepted; the raw body (or its size and hash) is kept as `rejected`.
    Rejected {
        rejection: Rejection,
        /// For the sender (and the `rejected` item): may quote the body.
        reason: String,
        /// For the logs: never quotes the body.
        log_reason: String,
    },
    /// A write failed after the SDK's retries: nothing may be acknowledged, FlowIQ should retry.
    StorageUnavailable(StoreError),
}

pub struct Receiver<S> {
    store: S,
    tokens: WebhookTokens,
    retention: Retention,
}

impl<S: EventStore> Receiver<S> {
    pub fn new(store: S, tokens: WebhookTokens, retention: Retention) -> Self {
        Self {
            store,
            tokens,
            retention,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub async fn receive(&self, delivery: Delivery<'_>) -> Reply {
        if !self.tokens.verify(delivery.token) {
            return Reply::Unauthorized;
        }
        let received = Received::now();
        if delivery.body.len() > MAX_BODY_BYTES {
            let reason = format!(
                "body is {} bytes; the limit is {MAX_BODY_BYTES} bytes",
                delivery.body.len()
            );
            let log_reason = reason.clone();
            return self
                .reject(delivery, Rejection::TooLarge, reason, log_reason, &received)
                .await;
        }
        let event = match WebhookEvent::parse(delivery.platform, delivery.body) {
            Ok(event) => event,
            Err(err) => {
                let (reason, log_reason) = (err.to_string(), err.log_summary());
                return self
                    .reject(
                        delivery,
                        Rejection::InvalidBody,
                        reason,
                        log_reason,
                        &received,
                    )
                    .await;
            }
        };
        // Parsing succeeded, so the body is UTF-8.
        let body = std::str::from_utf8(delivery.body).expect("a parsed body is UTF-8");
        let event_id = event.event_id.clone();
        let (item, message_update) = event_records(event, body, &received, self.retention);

        let event_type = item.event_type.clone();
        let outcome = match self.store.put_event(item).await {
            Ok(outcome) => outcome,
            Err(err) => return Reply::StorageUnavailable(err),
        };
        // Applied for duplicates too: it is idempotent, and repairs a delivery whose message update
        // failed (or whose process died) after the event was stored.
        if let Some(update) = &message_update
            && let Err(err) = self.store.update_message(update).await
        {
            return Reply::StorageUnavailable(err);
        }
        Reply::Accepted {
            outcome,
            event_id,
            event_type,
        }
    }

    async fn reject(
        &self,
        delivery: Delivery<'_>,
        rejection: Rejection,
        reason: String,
        log_reason: String,
        received: &Received,
    ) -> Reply {
        let item = rejected_record(
            delivery.platform,
            delivery.body,
            delivery.request_id,
            rejection,
            reason.clone(),
            received,
            self.retention,
        );
        match self.store.put_rejected(&item).await {
            Ok(()) => Reply::Rejected {
                rejection,
                reason,
                log_reason,
            },
            Err(err) => Reply::StorageUnavailable(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_status::MessageStatus;
    use crate::store::memory::InMemoryEventStore;

    const TOKEN: &str = "unit-test-token-not-a-secret-0123456789";

    fn receiver() -> Receiver<InMemoryEventStore> {
        let tokens = WebhookTokens::parse(TOKEN).unwrap();
        Receiver::new(InMemoryEventStore::default(), tokens, Retention(None))
    }

    fn receipt(status: &str, at: &str) -> String {
        format!(
            r#"{{"event_type":"message_{status}","whatsapp_message_id":"wamid.u1","organization_id":"org-u","status":"{status}","timestamp":"{at}","whatsapp_id":"27830000001"}}"#
        )
    }

    async fn deliver(receiver: &Receiver<InMemoryEventStore>, token: &str, body: &str) -> Reply {
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
        assert_eq!(message.history.len(), 3);
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
            rejection, reason, ..
        } = reply
        else {
            panic!("{reply:?}")
        };
        assert_eq!(rejection, Rejection::InvalidBody);
        assert_eq!(
            reason,
            "message_read event: missing field `organization_id`"
        );
        let too_large = "x".repeat(MAX_BODY_BYTES + 1);
        let reply = deliver(&receiver, TOKEN, &too_large).await;
        assert!(
            matches!(
                reply,
                Reply::Rejected {
                    rejection: Rejection::TooLarge,
                    ..
                }
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
        receiver.store().fail_next("PutItem");
        let reply = deliver(&receiver, TOKEN, &body).await;
        assert!(matches!(reply, Reply::StorageUnavailable(_)), "{reply:?}");
        assert!(receiver.store().events().is_empty());

        // The event is stored but its message update fails: still not acknowledged, and the
        // redelivery (a duplicate) repairs the message.
        receiver.store().fail_next("UpdateItem");
        let reply = deliver(&receiver, TOKEN, &body).await;
        assert!(matches!(reply, Reply::StorageUnavailable(_)), "{reply:?}");
        assert_eq!(receiver.store().events().len(), 1);
        assert_eq!(receiver.store().message("wamid.u1"), None);
        let again = deliver(&receiver, TOKEN, &body).await;
        assert_eq!(outcome(&again), Some(PutOutcome::Duplicate), "{again:?}");
        let message = receiver.store().message("wamid.u1").unwrap();
        assert_eq!(message.status, Some(MessageStatus::Read));

        // A failed rejection write is not acknowledged either: the bad body must not be lost.
        receiver.store().fail_next("PutItem");
        let reply = deliver(&receiver, TOKEN, "not json").await;
        assert!(matches!(reply, Reply::StorageUnavailable(_)), "{reply:?}");
        assert!(receiver.store().rejected().is_empty());
    }
}
