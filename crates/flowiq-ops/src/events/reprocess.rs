//! `reprocess-rejected`: stored rejected bodies run through the receiver's current validation
//! and storage again — the receiver's own [`Acceptor`], not a copy of its logic — so a body
//! that now passes is stored exactly as a delivery of it would be (same event id, same event
//! item; `received_at` is the time of reprocessing, as for a redelivery).
//! Then the outcome is recorded on the `rejected` item, which stays.
//!
//! A body that still fails is not stored again as a new `rejected` item: the receiver's
//! rejection write goes to [`NoRejectedWrites`], and the new reason is set on the existing item.

use std::io::Write;
use std::time::Duration;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_webhooks::acceptance::{Accepted, Acceptor, AuthenticatedDelivery};
use flowiq_webhooks::clock::now_sortable;
use flowiq_webhooks::keys;
use flowiq_webhooks::records::{EventItem, Received, RejectedItem, Retention};
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use flowiq_webhooks::store::{EventStore, PutOutcome, StoreError};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::cli::ReprocessArgs;
use super::commands::Context;
use super::error::EventsError;
use super::inspect::rejected_table;
use super::output::{Format, write_items, write_json_line, write_table};
use super::progress;
use crate::exit_status::ExitStatus;
use crate::queries::{Item, text};

/// How long the writes of one reprocessed body may take.
const REPROCESS_BUDGET: Duration = Duration::from_secs(30);

/// What became of a rejected delivery: recorded on it as `reprocess_outcome` (all but `error`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Now valid, and stored as a new event.
    Stored,
    /// Now valid; the event was already stored (e.g. FlowIQ delivered it again in between).
    Duplicate,
    /// Still refused by the current validation; `reason` is updated.
    StillInvalid,
    /// Not reprocessed: the item does not read back, or a write failed.
    #[default]
    Error,
}

/// One rejected delivery, reprocessed: its line of output.
#[derive(Debug, Default, Serialize)]
#[serde(tag = "kind", rename = "reprocessed")]
struct Reprocessed {
    pk: String,
    sk: String,
    received_at: String,
    outcome: Outcome,
    /// The event's id (stored, duplicate).
    event_id: Option<String>,
    /// The new reason (still invalid).
    reason: Option<String>,
    /// Why it was not reprocessed (error).
    error: Option<String>,
}

/// The `reprocess_summary` line: its counts also make the table's last line.
#[derive(Default, Serialize)]
#[serde(tag = "kind", rename = "reprocess_summary")]
struct Summary {
    dry_run: bool,
    rejected: usize,
    to_reprocess: usize,
    skipped: usize,
    stored: usize,
    duplicate: usize,
    still_invalid: usize,
    failed: usize,
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

pub async fn run_reprocess(
    args: &ReprocessArgs,
    context: &Context,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let since = args.since.as_deref();
    let items = context.queries.rejected_deliveries(since, true).await?;
    let todo: Vec<&Item> = items.iter().filter(|item| wanted(item)).collect();
    let mut summary = Summary {
        dry_run: args.dry_run,
        rejected: items.len(),
        to_reprocess: todo.len(),
        skipped: items.len() - todo.len(),
        ..Summary::default()
    };
    if args.dry_run {
        print_candidates(&todo, &summary, format, out)?;
        return Ok(ExitStatus::Success);
    }
    // The events it stores get the receiver's contact keys.
    context.queries.contact_key()?;
    let progress = progress::bar(todo.len() as u64, "reprocessing");
    let mut results = Vec::with_capacity(todo.len());
    for item in todo {
        results.push(reprocess(context, args.retention_days, item).await);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let count = |outcome| results.iter().filter(|r| r.outcome == outcome).count();
    summary.stored = count(Outcome::Stored);
    summary.duplicate = count(Outcome::Duplicate);
    summary.still_invalid = count(Outcome::StillInvalid);
    summary.failed = count(Outcome::Error);
    print_reprocessed(&results, &summary, format, out)?;
    Ok(match summary.failed {
        0 => ExitStatus::Success,
        _ => ExitStatus::Incomplete,
    })
}

/// Which rejected items to reprocess: those with a body and not yet stored (or found a
/// duplicate) by an earlier run. An item that does not read as a rejected item is reprocessed:
/// that says why it cannot be.
fn wanted(item: &Item) -> bool {
    let no_body = rejected_item(item).is_ok_and(|rejected| !rejected.keeps_body());
    !no_body && !matches!(text(item, "reprocess_outcome"), "stored" | "duplicate")
}

/// Reprocesses one rejected item (with its body) and records the outcome on it; `retention_days`
/// overrides the retention derived from the item.
async fn reprocess(context: &Context, retention_days: Option<u32>, item: &Item) -> Reprocessed {
    let mut done = Reprocessed {
        pk: text(item, keys::PK).to_owned(),
        sk: text(item, keys::SK).to_owned(),
        ..Reprocessed::default()
    };
    match reprocess_into(context, retention_days, item, &mut done).await {
        Ok(()) => done,
        Err(error) => Reprocessed {
            pk: done.pk,
            sk: done.sk,
            received_at: done.received_at,
            error: Some(error),
            ..Reprocessed::default()
        },
    }
}

async fn reprocess_into(
    context: &Context,
    retention_days: Option<u32>,
    item: &Item,
    done: &mut Reprocessed,
) -> Result<(), String> {
    let rejected = rejected_item(item)?;
    done.received_at.clone_from(&rejected.received_at);
    let body = rejected
        .raw_body()
        .map_err(|e| format!("the rejected item's body does not read back: {e}"))?
        .ok_or_else(|| "the rejected item keeps no body".to_owned())?;
    let retention = Retention(retention_days.or_else(|| retention_of(&rejected)));
    let received = Received::now();
    // The body was authenticated when it was first received: no token check here.
    let delivery = AuthenticatedDelivery {
        platform: rejected.platform,
        body: &body,
        request_id: "reprocess-rejected",
        received: &received,
    };
    let queries = &context.queries;
    let store = DynamoDbEventStore::new(queries.client.clone(), &queries.table_name);
    let contact_key = queries.contact_key().map_err(|e| e.to_string())?.clone();
    // No sender is waiting: the SDK's own timeouts bound each write.
    let acceptor = Acceptor::new(NoRejectedWrites(store), retention, contact_key);
    let stored = |outcome, event_id: flowiq_webhooks::event_id::EventId| {
        (outcome, Some(event_id.into_string()), None)
    };
    (done.outcome, done.event_id, done.reason) = match acceptor
        .with_budget(REPROCESS_BUDGET)
        .accept(delivery)
        .await
    {
        Accepted::Stored {
            outcome: PutOutcome::Stored,
            event_id,
            ..
        } => stored(Outcome::Stored, event_id),
        Accepted::Stored { event_id, .. } => stored(Outcome::Duplicate, event_id),
        Accepted::Rejected(rejection) => (Outcome::StillInvalid, None, Some(rejection.reason)),
        Accepted::Failed { error, .. } => return Err(error.to_string()),
    };
    record(context, &rejected, done).await
}

/// Sets `reprocessed_at`, `reprocess_outcome` and `event_id` or the new `reason` (the first
/// reason is kept as `original_reason`) on the rejected item, if it still exists.
async fn record(
    context: &Context,
    rejected: &RejectedItem,
    done: &Reprocessed,
) -> Result<(), String> {
    let outcome = serde_dynamo::to_attribute_value(done.outcome).expect("an outcome serialises");
    // The first reason is kept as `original_reason`.
    let (set, value) = match (&done.event_id, &done.reason) {
        (Some(id), _) => ("event_id = :value", id.as_str()),
        (None, reason) => (
            "original_reason = if_not_exists(original_reason, reason), reason = :value",
            reason.as_deref().unwrap_or_default(),
        ),
    };
    let set = format!("SET reprocessed_at = :at, reprocess_outcome = :outcome, {set}");
    let update = (context.queries.client.update_item())
        .table_name(&context.queries.table_name)
        .key(keys::PK, s(&rejected.pk))
        .key(keys::SK, s(&rejected.sk))
        .condition_expression("attribute_exists(#pk)")
        .update_expression(set)
        .expression_attribute_names("#pk", keys::PK)
        .expression_attribute_values(":at", s(&now_sortable()))
        .expression_attribute_values(":outcome", outcome)
        .expression_attribute_values(":value", s(value));
    update.send().await.map_err(|err| {
        let context = DisplayErrorContext(&err);
        format!("DynamoDB UpdateItem of the rejected item failed: {context}")
    })?;
    Ok(())
}

/// Each reprocessed delivery (a line, or a table row) and the counts.
fn print_reprocessed(
    results: &[Reprocessed],
    summary: &Summary,
    format: Format,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if format == Format::JsonLines {
        results
            .iter()
            .try_for_each(|line| write_json_line(out, line))?;
        return write_json_line(out, summary);
    }
    let rows: Vec<Vec<String>> = (results.iter())
        .map(|r| {
            let outcome = serde_json::to_value(r.outcome).expect("an outcome serialises");
            let outcome = outcome.as_str().unwrap_or_default().to_owned();
            let why = r
                .reason
                .as_ref()
                .or(r.error.as_ref())
                .cloned()
                .unwrap_or_default();
            let event_id = r.event_id.clone().unwrap_or_default();
            vec![r.received_at.clone(), outcome, event_id, why]
        })
        .collect();
    if !rows.is_empty() {
        let headers = ["received_at", "outcome", "event_id", "reason / error"];
        write_table(out, &headers, &rows, Some(100))?;
    }
    writeln!(
        out,
        "{} rejected deliveries: {} stored, {} duplicate, {} still invalid, {} failed, {} \
         skipped (no body kept, or already stored)",
        summary.rejected,
        summary.stored,
        summary.duplicate,
        summary.still_invalid,
        summary.failed,
        summary.skipped
    )
}

/// `reprocess-rejected --dry-run`: each delivery that would be reprocessed, as `rejected` shows
/// it (JSON: the item without its body, kind `reprocess_candidate`), then the counts.
fn print_candidates(
    todo: &[&Item],
    summary: &Summary,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    if format == Format::JsonLines {
        for item in todo {
            let mut item = (*item).clone();
            item.remove("body");
            item.remove("body_bytes");
            write_items(out, "reprocess_candidate", [&item])?;
        }
        return Ok(write_json_line(out, summary)?);
    }
    if !todo.is_empty() {
        rejected_table(out, todo.iter().copied())?;
    }
    writeln!(
        out,
        "dry run: would reprocess {} of {} rejected deliveries ({} skipped: no body kept, or \
         already stored)",
        summary.to_reprocess, summary.rejected, summary.skipped,
    )?;
    Ok(())
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
