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
