//! `drain`: the spill drain from a terminal (after an outage, or locally): receives the queued
//! deliveries from the spill queue, applies each through the receiver's own code
//! ([`flowiq_webhooks::spill_drain::drain_one`]), and deletes only what was applied. At the first
//! message that cannot be applied it stops and makes that message visible again, so that while
//! DynamoDB still fails every message stays in the queue.

use std::io::Write;

use aws_sdk_sqs::Client;
use flowiq_webhooks::acceptance::Acceptor;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::spill_drain::{Drained, drain_one};
use flowiq_webhooks::store::EventStore;
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use serde::Serialize;
use serde_json::json;

use super::cli::DrainArgs;
use super::commands::{Context, queue_url};
use super::error::EventsError;
use super::output::{Format, write_json_line};
use super::sqs_queue::{Handled, consume};
// The soak test reads the depth from here.
pub use super::sqs_queue::queue_depth;
use crate::exit_status::ExitStatus;

/// How long a received message stays hidden from other consumers while this run applies it.
const VISIBILITY_SECONDS: i32 = 60;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    pub stored: usize,
    pub duplicates: usize,
    pub rejected: usize,
    /// Left in the queue because DynamoDB still failed.
    pub storage_unavailable: usize,
    /// Left in the queue because they are not queued deliveries (they end in the dead-letter
    /// queue after the queue's maxReceiveCount).
    pub unreadable: usize,
    /// Messages the queue still holds at the end (visible or in flight).
    pub remaining: u64,
}

impl DrainReport {
    /// 0 only when everything was applied and the queue is empty.
    pub fn exit_status(&self) -> ExitStatus {
        if self.storage_unavailable > 0 {
            ExitStatus::Aws
        } else if self.unreadable > 0 || self.remaining > 0 {
            ExitStatus::Incomplete
        } else {
            ExitStatus::Success
        }
    }
}

pub async fn drain<S: EventStore>(
    sqs: &Client,
    queue_url: &str,
    acceptor: &Acceptor<S>,
) -> Result<DrainReport, EventsError> {
    let mut report = DrainReport::default();
    consume(sqs, queue_url, VISIBILITY_SECONDS, async |message| {
        let message_id = message.message_id.unwrap_or_default();
        let drained = drain_one(acceptor, &message_id, message.body.as_deref().unwrap_or("")).await;
        match drained {
            Drained::Stored => report.stored += 1,
            Drained::Duplicate => report.duplicates += 1,
            Drained::Rejected => report.rejected += 1,
            Drained::StorageUnavailable => report.storage_unavailable += 1,
            Drained::Unreadable => report.unreadable += 1,
        }
        Ok(if drained.is_done() {
            Handled::Delete
        } else {
            Handled::Stop
        })
    })
    .await?;
    report.remaining = queue_depth(sqs, queue_url).await?;
    Ok(report)
}

pub async fn run_drain(
    args: &DrainArgs,
    context: &Context,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let queue_url = queue_url(&args.queue_url)?;
    let queries = &context.queries;
    let store = DynamoDbEventStore::new(queries.client.clone(), &queries.table_name);
    let retention = Retention(args.retention_days.filter(|days| *days > 0));
    let acceptor = Acceptor::new(store, retention, queries.contact_key()?.clone());
    let report = drain(&context.sqs, queue_url, &acceptor).await?;
    match format {
        Format::JsonLines => {
            let mut line = serde_json::to_value(&report).expect("a report serialises");
            line["kind"] = json!("drain_summary");
            line["queue_url"] = json!(queue_url);
            write_json_line(out, &line)?;
        }
        Format::Table => writeln!(
            out,
            "{queue_url}: {} stored, {} duplicates, {} kept as rejected; {} left while DynamoDB \
             fails, {} unreadable; {} still in the queue",
            report.stored,
            report.duplicates,
            report.rejected,
            report.storage_unavailable,
            report.unreadable,
            report.remaining
        )?,
    }
    Ok(report.exit_status())
}
