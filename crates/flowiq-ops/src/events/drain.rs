//! `drain`: the spill drain from a terminal (after an outage, or locally): receives the queued
//! deliveries from the spill queue, applies each through the receiver's own code
//! ([`flowiq_webhooks::spill_drain::drain_one`]), and deletes only what was applied. At the first
//! message that cannot be applied it stops and makes that message visible again, so that while
//! DynamoDB still fails every message stays in the queue.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;
use flowiq_webhooks::acceptance::Acceptor;
use flowiq_webhooks::spill_drain::{Drained, drain_one};
use flowiq_webhooks::store::EventStore;
use serde::Serialize;

use super::error::EventsError;
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
    'queue: loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(VISIBILITY_SECONDS)
            .send()
            .await
            .map_err(|e| aws_error("SQS ReceiveMessage", &e))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        let mut stopped = false;
        for message in messages {
            let receipt = message.receipt_handle.unwrap_or_default();
            if stopped {
                release(sqs, queue_url, &receipt).await?;
                continue;
            }
            let message_id = message.message_id.unwrap_or_default();
            let drained =
                drain_one(acceptor, &message_id, message.body.as_deref().unwrap_or("")).await;
            match drained {
                Drained::Stored => report.stored += 1,
                Drained::Duplicate => report.duplicates += 1,
                Drained::Rejected => report.rejected += 1,
                Drained::StorageUnavailable => report.storage_unavailable += 1,
                Drained::Unreadable => report.unreadable += 1,
            }
            if drained.is_done() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(&receipt)
                    .send()
                    .await
                    .map_err(|e| aws_error("SQS DeleteMessage", &e))?;
            } else {
                release(sqs, queue_url, &receipt).await?;
                stopped = true;
            }
        }
        if stopped {
            break 'queue;
        }
    }
    report.remaining = queue_depth(sqs, queue_url).await?;
    Ok(report)
}

/// Makes a message visible again at once: it stays in the queue for the next try.
async fn release(sqs: &Client, queue_url: &str, receipt: &str) -> Result<(), EventsError> {
    sqs.change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(receipt)
        .visibility_timeout(0)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_error("SQS ChangeMessageVisibility", &e))
}

/// Messages waiting plus messages in flight.
pub async fn queue_depth(sqs: &Client, queue_url: &str) -> Result<u64, EventsError> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| aws_error("SQS GetQueueAttributes", &e))?
        .attributes
        .unwrap_or_default();
    Ok([
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .filter_map(|name| attributes.get(name)?.parse::<u64>().ok())
    .sum())
}

fn aws_error<E: std::error::Error + 'static>(operation: &'static str, error: &E) -> EventsError {
    EventsError::Aws {
        operation,
        message: DisplayErrorContext(error).to_string(),
    }
}
