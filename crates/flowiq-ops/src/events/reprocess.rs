//! `reprocess-rejected`: stored rejected bodies run through the receiver's current validation
//! and storage again — the receiver's own [`Acceptor`], not a copy of its logic — so a body
//! that now passes is stored exactly as a delivery of it would be (same event id, same event
//! item; `received_at` is the time of reprocessing, as for a redelivery).
//! Then the outcome is recorded on the `rejected` item, which stays.
//!
//! A body that still fails is not stored again as a new `rejected` item: the receiver's
//! rejection write goes to [`NoRejectedWrites`], and the new reason is set on the existing item.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_webhooks::acceptance::{Accepted, Acceptor, AuthenticatedDelivery};
use flowiq_webhooks::clock::now_sortable;
use flowiq_webhooks::contact_key::ContactKey;
use flowiq_webhooks::keys;
use flowiq_webhooks::records::{EventItem, Received, RejectedItem, Retention};
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use flowiq_webhooks::store::{EventStore, PutOutcome, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::queries::{Item, text};

/// The outcome recorded on a `rejected` item (`reprocess_outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Now valid, and stored as a new event.
    Stored,
    /// Now valid; the event was already stored (e.g. FlowIQ delivered it again in between).
    Duplicate,
    /// Still refused by the current validation; `reason` is updated.
    StillInvalid,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Duplicate => "duplicate",
            Outcome::StillInvalid => "still_invalid",
        }
    }
}

/// One rejected delivery, reprocessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reprocessed {
    pub pk: String,
    pub sk: String,
    pub received_at: String,
    pub result: Result<(Outcome, Detail), String>,
}

/// The event id (stored, duplicate) or the new reason (still invalid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    EventId(String),
    Reason(String),
}

/// Why a rejected item is not reprocessed at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Its body was over the size limit and never kept.
    NoBody,
    /// Already stored (or found a duplicate) by an earlier run.
    AlreadyDone,
}

/// Which rejected items to reprocess: those with a body and not yet stored by an earlier run.
/// An item that does not read as a rejected item is not skipped: reprocessing it says why.
pub fn skip_reason(item: &Item) -> Option<Skip> {
    if rejected_item(item).is_ok_and(|rejected| !rejected.keeps_body()) {
        return Some(Skip::NoBody);
    }
    match text(item, "reprocess_outcome") {
        "stored" | "duplicate" => Some(Skip::AlreadyDone),
        _ => None,
    }
}

/// The store the reprocessing receiver writes through: events go to DynamoDB as for a delivery;
/// the receiver's "store this rejection" is dropped, because the rejected item already exists
/// (its reason is updated instead).
pub struct NoRejectedWrites(pub DynamoDbEventStore);

impl EventStore for NoRejectedWrites {
    async fn put_event(&self, item: EventItem) -> Result<PutOutcome, StoreError> {
        self.0.put_event(item).await
    }

    async fn put_rejected(&self, _item: &RejectedItem) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How long the writes of one reprocessed body may take.
const REPROCESS_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Reprocessor {
    client: Client,
    table_name: String,
    /// Overrides the retention derived from each rejected item.
    retention_days: Option<u32>,
    /// The stored events' contact keys are the receiver's.
    contact_key: ContactKey,
}

impl Reprocessor {
    pub fn new(
        client: Client,
        table_name: impl Into<String>,
        retention_days: Option<u32>,
        contact_key: ContactKey,
    ) -> Self {
        Reprocessor {
            client,
            table_name: table_name.into(),
            retention_days,
            contact_key,
        }
    }

    /// The body was authenticated when it was first received: no token check here.
    fn acceptor(&self, retention: Retention) -> Acceptor<NoRejectedWrites> {
        let store = DynamoDbEventStore::new(self.client.clone(), &self.table_name);
        // No sender is waiting: the SDK's own timeouts bound each write.
        Acceptor::new(NoRejectedWrites(store), retention, self.contact_key.clone())
            .with_budget(REPROCESS_BUDGET)
    }

    /// Reprocesses one rejected item (with its body) and records the outcome on it.
    pub async fn reprocess(&self, item: &Item) -> Reprocessed {
        let pk = text(item, keys::PK).to_owned();
        let sk = text(item, keys::SK).to_owned();
        let (received_at, result) = match rejected_item(item) {
            Ok(rejected) => (
                rejected.received_at.clone(),
                self.reprocess_inner(&rejected).await,
            ),
            Err(problem) => (String::new(), Err(problem)),
        };
        Reprocessed {
            pk,
            sk,
            received_at,
            result,
        }
    }

    async fn reprocess_inner(&self, rejected: &RejectedItem) -> Result<(Outcome, Detail), String> {
        let body = rejected
            .raw_body()
            .map_err(|e| format!("the rejected item's body does not read back: {e}"))?
            .ok_or_else(|| "the rejected item keeps no body".to_owned())?;
        let retention = Retention(self.retention_days.or_else(|| retention_of(rejected)));
        let received = Received::now();
        let delivery = AuthenticatedDelivery {
            platform: rejected.platform,
            body: &body,
            request_id: "reprocess-rejected",
            received: &received,
        };
        let (outcome, detail) = match self.acceptor(retention).accept(delivery).await {
            Accepted::Stored {
                outcome, event_id, ..
            } => {
                let outcome = match outcome {
                    PutOutcome::Stored => Outcome::Stored,
                    PutOutcome::Duplicate => Outcome::Duplicate,
                };
                (outcome, Detail::EventId(event_id.into_string()))
            }
            Accepted::Rejected(rejection) => {
                (Outcome::StillInvalid, Detail::Reason(rejection.reason))
            }
            Accepted::Failed { error, .. } => return Err(error.to_string()),
        };
        self.record(rejected, outcome, &detail).await?;
        Ok((outcome, detail))
    }

    /// Sets `reprocessed_at`, `reprocess_outcome` and `event_id` or the new `reason` (the first
    /// reason is kept as `original_reason`) on the rejected item, if it still exists.
    async fn record(
        &self,
        rejected: &RejectedItem,
        outcome: Outcome,
        detail: &Detail,
    ) -> Result<(), String> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .key(keys::PK, s(&rejected.pk))
            .key(keys::SK, s(&rejected.sk))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":at", s(&now_sortable()))
            .expression_attribute_values(":outcome", s(outcome.as_str()));
        update = match detail {
            Detail::EventId(id) => update
                .update_expression(
                    "SET reprocessed_at = :at, reprocess_outcome = :outcome, event_id = :id",
                )
                .expression_attribute_values(":id", s(id)),
            Detail::Reason(reason) => update
                .update_expression(
                    "SET reprocessed_at = :at, reprocess_outcome = :outcome, \
                     original_reason = if_not_exists(original_reason, reason), reason = :reason",
                )
                .expression_attribute_values(":reason", s(reason)),
        };
        update.send().await.map(|_| ()).map_err(|err| {
            format!(
                "DynamoDB UpdateItem of the rejected item failed: {}",
                DisplayErrorContext(&err)
            )
        })
    }
}

/// A table item as the receiver wrote it.
fn rejected_item(item: &Item) -> Result<RejectedItem, String> {
    serde_dynamo::from_item(item.clone()).map_err(|e| format!("not a readable rejected item: {e}"))
}

/// The retention the function used for this item: `expires_at` − `received_at`, in days.
fn retention_of(rejected: &RejectedItem) -> Option<u32> {
    // Items written since rejected bodies have a retention of their own say the events' (0:
    // forever); older ones had the events' retention as their own `expires_at`.
    if let Some(days) = rejected.event_retention_days {
        return (days > 0).then_some(days);
    }
    let expires_at = rejected.expires_at?;
    let received = OffsetDateTime::parse(&rejected.received_at, &Rfc3339).ok()?;
    let seconds = expires_at - received.unix_timestamp();
    u32::try_from((seconds + 43_200) / 86_400).ok()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowiq_webhooks::platform::Platform;

    #[test]
    fn retention_is_read_back_from_the_item() {
        use flowiq_webhooks::records::{RejectedRetention, Rejection, rejected_record};
        let received =
            Received::at(OffsetDateTime::parse("2026-03-07T10:00:00.123Z", &Rfc3339).unwrap());
        let retention = RejectedRetention::default_for(Retention(Some(7)));
        let mut item = rejected_record(
            Platform::Web,
            b"{}",
            "req-1",
            Rejection::InvalidBody,
            "reason".to_owned(),
            &received,
            retention,
        );
        assert_eq!(
            retention_of(&item),
            Some(7),
            "the events' retention, as written"
        );
        item.event_retention_days = Some(0);
        assert_eq!(retention_of(&item), None, "0: forever");
        // Written before `event_retention_days`: the events' retention was the item's own.
        // 2026-03-07T10:00:00Z + 30 days = 1775469600.
        item.event_retention_days = None;
        item.expires_at = Some(1_775_469_600);
        assert_eq!(retention_of(&item), Some(30));
        item.expires_at = None;
        assert_eq!(retention_of(&item), None);
    }
}
