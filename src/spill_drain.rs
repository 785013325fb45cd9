//! The spill drain: applies the deliveries queued while DynamoDB could not take them, through the
//! same [`Acceptor`] as the webhook (same event ids, so each event is stored once; same message
//! rules, so any order; the original time of receipt). One SQS batch in, the failed messages out
//! (partial batch response): they stay in the queue and are retried, then go to the dead-letter
//! queue after the queue's `maxReceiveCount`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

use crate::acceptance::{Accepted, Acceptor};
use crate::queued_delivery::QueuedDelivery;
use crate::store::EventStore;

/// What became of one queued delivery (also the `outcome` of its log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    Stored,
    Duplicate,
    /// Its `rejected` item is written (a bad body received during the outage).
    Rejected,
    /// DynamoDB still fails: left in the queue.
    StorageUnavailable,
    /// Not a queued delivery this drain can read: left in the queue, for the dead-letter queue.
    Unreadable,
}

impl Drained {
    pub fn as_str(self) -> &'static str {
        match self {
            Drained::Stored => "stored",
            Drained::Duplicate => "duplicate",
            Drained::Rejected => "rejected",
            Drained::StorageUnavailable => "storage_unavailable",
            Drained::Unreadable => "unreadable",
        }
    }

    /// Done with: the message may be deleted from the queue.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            Drained::Stored | Drained::Duplicate | Drained::Rejected
        )
    }
}

/// Applies one message body from the spill queue; logs one line (ids only, never the body).
pub async fn drain_one<S: EventStore>(
    acceptor: &Acceptor<S>,
    message_id: &str,
    body: &str,
) -> Drained {
    let queued = match QueuedDelivery::from_json(body) {
        Ok(queued) => queued,
        Err(error) => {
            tracing::error!(message_id, drained = Drained::Unreadable.as_str(), error = %error, "queued message not applied");
            return Drained::Unreadable;
        }
    };
    let request_id = queued.request_id.as_str();
    let received_at = queued.received_at.as_str();
    match acceptor.accept_queued(&queued).await {
        Ok(Accepted::Stored {
            outcome, event_id, ..
        }) => {
            let outcome = match outcome {
                crate::store::PutOutcome::Stored => Drained::Stored,
                crate::store::PutOutcome::Duplicate => Drained::Duplicate,
            };
            tracing::info!(message_id, request_id, received_at, %event_id, drained = outcome.as_str(), "queued delivery applied");
            outcome
        }
        Ok(Accepted::Rejected(rejection)) => {
            tracing::info!(
                message_id,
                request_id,
                received_at,
                drained = Drained::Rejected.as_str(),
                reason = rejection.log_reason,
                "queued delivery kept as rejected"
            );
            Drained::Rejected
        }
        Ok(Accepted::Failed { error, .. }) => {
            tracing::warn!(message_id, request_id, received_at, drained = Drained::StorageUnavailable.as_str(), error = %error, "queued delivery left in the queue");
            Drained::StorageUnavailable
        }
        Err(error) => {
            tracing::error!(message_id, request_id, drained = Drained::Unreadable.as_str(), error = %error, "queued message not applied");
            Drained::Unreadable
        }
    }
}

/// One batch from the event source mapping: every message applied in turn, the ones not done
/// reported as failures (`ReportBatchItemFailures`).
pub async fn drain_batch<S: EventStore>(
    acceptor: &Acceptor<S>,
    event: &SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        if !drain_one(acceptor, message_id, body).await.is_done() {
            response.add_failure(message_id);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;
    use crate::records::{Received, Retention};
    use crate::store::memory::{InMemoryEventStore, StoreOperation};
    use aws_lambda_events::event::sqs::SqsMessage;

    fn message(id: &str, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message.body = Some(body.to_owned());
        message
    }

    fn failed(response: &SqsBatchResponse) -> Vec<&str> {
        let failures = response.batch_item_failures.iter();
        failures.map(|f| f.item_identifier.as_str()).collect()
    }

    fn queued(body: &str) -> String {
        let received = Received::now();
        QueuedDelivery::of(
            Platform::Whatsapp,
            body.as_bytes(),
            "req-q",
            &received,
            None,
        )
        .to_json()
    }

    #[tokio::test]
    async fn only_the_poison_message_and_what_could_not_be_stored_are_reported() {
        let acceptor = Acceptor::new(
            InMemoryEventStore::default(),
            Retention(None),
            crate::contact_key::ContactKey::local_dev(),
        );
        let receipt = r#"{"event_type":"message_read","whatsapp_message_id":"wamid.q","organization_id":"o","status":"read","timestamp":"2026-03-07T10:00:03Z","whatsapp_id":"27830000001"}"#;
        let mut event = SqsEvent::default();
        event.records = vec![
            message("m-ok", &queued(receipt)),
            message("m-poison", "not a queued delivery"),
            message("m-bad-body", &queued("{not json")),
            message("m-again", &queued(receipt)),
        ];
        let response = drain_batch(&acceptor, &event).await;
        assert_eq!(failed(&response), ["m-poison"]);
        assert_eq!(acceptor.store().events().len(), 1, "stored once");
        assert_eq!(acceptor.store().rejected().len(), 1);

        acceptor.store().fail_next(StoreOperation::PutEvent);
        event.records = vec![message(
            "m-later",
            &queued(receipt.replace("03Z", "04Z").as_str()),
        )];
        let response = drain_batch(&acceptor, &event).await;
        assert_eq!(response.batch_item_failures.len(), 1, "left for a retry");
    }

    /// The sample batch in events/spill-drain/ (also for `cargo lambda invoke`): two deliveries
    /// queued during an outage, a bad body and a poison message.
    #[tokio::test]
    async fn the_sample_batch_reports_only_its_poison_message() {
        let event: SqsEvent =
            serde_json::from_str(include_str!("../events/spill-drain/batch-with-poison.json"))
                .unwrap();
        let acceptor = Acceptor::new(
            InMemoryEventStore::default(),
            Retention(None),
            crate::contact_key::ContactKey::local_dev(),
        );
        let response = drain_batch(&acceptor, &event).await;
        assert_eq!(failed(&response), ["c5e8-poison"]);
        let events = acceptor.store().events();
        assert_eq!(events.len(), 2);
        assert!(
            events
                .iter()
                .all(|e| e.received_at == "2026-03-07T10:00:05.123Z")
        );
        assert_eq!(acceptor.store().rejected().len(), 1);
    }
}
