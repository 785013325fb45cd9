//! `reprocess-rejected`: stored rejected bodies run through the receiver's current validation
//! and storage again — the receiver's own [`Acceptor`], not a copy of its logic — so a body
//! that now passes is stored exactly as a delivery of it would be (same event id, same event
//! item, same message update; `received_at` is the time of reprocessing, as for a redelivery).
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
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::records::{EventItem, MessageUpdate, Received, RejectedItem, Retention};
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use flowiq_webhooks::store::{EventStore, PutOutcome, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::output::stored_body_bytes_if_any;
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
pub fn skip_reason(item: &Item) -> Option<Skip> {
    if !["body", "body_bytes", "body_zd1"]
        .iter()
        .any(|name| item.contains_key(*name))
    {
        return Some(Skip::NoBody);
    }
    match text(item, "reprocess_outcome") {
        "stored" | "duplicate" => Some(Skip::AlreadyDone),
        _ => None,
    }
}

/// The store the reprocessing receiver writes through: events and message updates go to
/// DynamoDB as for a delivery; the receiver's "store this rejection" is dropped, because the
/// rejected item already exists (its reason is updated instead).
pub struct NoRejectedWrites(pub DynamoDbEventStore);

impl EventStore for NoRejectedWrites {
    async fn put_event(&self, item: EventItem) -> Result<PutOutcome, StoreError> {
        self.0.put_event(item).await
    }

    async fn update_message(&self, update: &MessageUpdate) -> Result<(), StoreError> {
        self.0.update_message(update).await
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
        let received_at = text(item, "received_at").to_owned();
        let result = self.reprocess_inner(item).await;
        Reprocessed {
            pk,
            sk,
            received_at,
            result,
        }
    }

    async fn reprocess_inner(&self, item: &Item) -> Result<(Outcome, Detail), String> {
        let platform: Platform = text(item, "platform")
            .parse()
            .map_err(|_| "the rejected item has no valid platform".to_owned())?;
        let body = stored_body_bytes_if_any(item)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the rejected item keeps no body".to_owned())?;
        let body = body.as_slice();
        let retention = Retention(self.retention_days.or_else(|| retention_of(item)));
        let received = Received::now();
        let delivery = AuthenticatedDelivery {
            platform,
            body,
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
        self.record(item, outcome, &detail).await?;
        Ok((outcome, detail))
    }

    /// Sets `reprocessed_at`, `reprocess_outcome` and `event_id` or the new `reason` (the first
    /// reason is kept as `original_reason`) on the rejected item, if it still exists.
    async fn record(&self, item: &Item, outcome: Outcome, detail: &Detail) -> Result<(), String> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .key(keys::PK, s(text(item, keys::PK)))
            .key(keys::SK, s(text(item, keys::SK)))
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

/// The retention the function used for this item: `expires_at` − `received_at`, in days.
fn retention_of(item: &Item) -> Option<u32> {
    // Items written since rejected bodies have a retention of their own say the events' (0:
    // forever); older ones had the events' retention as their own `expires_at`.
    if let Some(days) = item.get("event_retention_days") {
        let days: u32 = days.as_n().ok()?.parse().ok()?;
        return (days > 0).then_some(days);
    }
    let expires_at: i64 = item.get("expires_at")?.as_n().ok()?.parse().ok()?;
    let received = OffsetDateTime::parse(text(item, "received_at"), &Rfc3339).ok()?;
    let seconds = expires_at - received.unix_timestamp();
    u32::try_from((seconds + 43_200) / 86_400).ok()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_read_back_from_the_item() {
        let item: Item = [
            ("received_at", s("2026-03-07T10:00:00.123Z")),
            ("expires_at", AttributeValue::N("1775469600".into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        // 2026-03-07T10:00:00Z + 30 days = 1775469600.
        assert_eq!(retention_of(&item), Some(30));
        assert_eq!(retention_of(&Item::new()), None);
    }
}
