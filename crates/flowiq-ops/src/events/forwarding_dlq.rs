//! The forwarding dead-letter queue (template.yaml, `ForwardingDeadLetterQueue`): what EventBridge
//! could not deliver to the user's endpoint. Each message is the whole EventBridge event (its
//! `detail` the Pipe's), with why it failed in message attributes (`ERROR_CODE`,
//! `ERROR_MESSAGE`, `RETRY_ATTEMPTS`, `EXHAUSTED_RETRY_CONDITION`, `RULE_ARN`, `TARGET_ARN`:
//! EventBridge User Guide, "Using dead-letter queues").
//!
//! - [`list`] shows the messages without consuming them: each is hidden while the listing runs,
//!   then made visible again.
//! - [`redrive`] sends each one to the endpoint as live forwarding does ([`ForwardedEvent`]) and
//!   deletes it only after a 2xx. At the first event the endpoint does not take (after the
//!   retries) it stops and makes the rest visible again: at least once, and each event once
//!   when the endpoint has recovered. A message that is not a forwarded event stays in the queue
//!   and is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::Message;
use serde::Serialize;

use super::error::EventsError;
use super::forwarded_event::ForwardedEvent;
use super::http_target::PostTarget;
use super::send_error::SendError;
use super::sqs_queue::{Handled, consume, queue_depth};
use crate::exit_status::ExitStatus;

/// How long `list` hides each message it has seen, so that it sees each once.
const LIST_VISIBILITY_SECONDS: i32 = 120;
/// How long `redrive` hides a message while sending it (the sends' retries fit in it).
const REDRIVE_VISIBILITY_SECONDS: i32 = 300;

/// One message of the queue, as `list` shows it: ids, type, time and the error; never the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename = "forwarding_dead_letter")]
pub struct DeadLetter {
    pub message_id: String,
    /// `None` when the message is not a FlowIQ event from the bus.
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    /// The EventBridge event's `time`.
    pub time: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub retry_attempts: Option<String>,
    pub exhausted_retry_condition: Option<String>,
    /// Why the message is not a forwarded event, if it is not.
    pub unreadable: Option<String>,
}

impl DeadLetter {
    fn of(message: &Message) -> Self {
        let attribute = |name: &str| {
            let attributes = message.message_attributes.as_ref()?;
            attributes.get(name)?.string_value.clone()
        };
        let body = message.body.as_deref().unwrap_or("");
        let event = ForwardedEvent::from_bus_event(body);
        let time = serde_json::from_str::<serde_json::Value>(body).ok();
        DeadLetter {
            message_id: message.message_id.clone().unwrap_or_default(),
            event_id: event.as_ref().ok().map(|e| e.event_id.clone()),
            event_type: event.as_ref().ok().map(|e| e.event_type.clone()),
            time: time.and_then(|event| Some(event["time"].as_str()?.to_owned())),
            error_code: attribute("ERROR_CODE"),
            error_message: attribute("ERROR_MESSAGE"),
            retry_attempts: attribute("RETRY_ATTEMPTS"),
            exhausted_retry_condition: attribute("EXHAUSTED_RETRY_CONDITION"),
            unreadable: event.err().map(|e| e.to_string()),
        }
    }
}

/// At most `limit` messages of the queue, in the order SQS returns them; the queue is unchanged.
pub async fn list(
    sqs: &Client,
    queue_url: &str,
    limit: usize,
) -> Result<Vec<DeadLetter>, EventsError> {
    let mut letters = Vec::new();
    let mut seen = BTreeSet::new();
    consume(sqs, queue_url, LIST_VISIBILITY_SECONDS, async |message| {
        // Seen before: its visibility ran out while listing; everything was seen.
        let id = message.message_id.clone().unwrap_or_default();
        if !seen.insert(id) || letters.len() == limit {
            return Ok(Handled::Stop);
        }
        letters.push(DeadLetter::of(&message));
        Ok(Handled::Keep)
    })
    .await?;
    Ok(letters)
}

#[derive(Debug, Default, Serialize)]
#[serde(tag = "kind", rename = "redrive_summary")]
pub struct RedriveReport {
    /// The endpoint, as messages show it.
    pub target: String,
    /// Events the endpoint took (2xx), deleted from the queue.
    pub sent: usize,
    /// Their event ids, in the order sent.
    pub event_ids: Vec<String>,
    /// Messages left in the queue because they are not forwarded events: (message id, why).
    pub unreadable: BTreeMap<String, String>,
    /// Retries of sends, all events together.
    pub retries: u64,
    /// The event the endpoint did not take, and why; the run stopped there.
    pub failed_at: Option<String>,
    pub error: Option<SendError>,
    /// Messages the queue still holds at the end.
    pub remaining: u64,
}

impl RedriveReport {
    /// 0 only when everything was sent and nothing unreadable was found.
    pub fn exit_status(&self) -> ExitStatus {
        match &self.error {
            Some(error) => error.exit_status(),
            None if !self.unreadable.is_empty() => ExitStatus::Incomplete,
            None => ExitStatus::Success,
        }
    }
}

/// Sends the queue's events to `target`, deleting each after its 2xx.
pub async fn redrive(
    sqs: &Client,
    queue_url: &str,
    target: &PostTarget,
) -> Result<RedriveReport, EventsError> {
    let mut report = RedriveReport {
        target: target.describe(),
        ..RedriveReport::default()
    };
    let retries = AtomicU64::new(0);
    // Unreadable messages stay hidden for the rest of the run, then are made visible again.
    consume(
        sqs,
        queue_url,
        REDRIVE_VISIBILITY_SECONDS,
        async |message| {
            let message_id = message.message_id.unwrap_or_default();
            let event = match ForwardedEvent::from_bus_event(message.body.as_deref().unwrap_or(""))
            {
                Ok(event) => event,
                Err(problem) => {
                    tracing::warn!(message_id = %message_id, "left in the queue: {problem}");
                    report.unreadable.insert(message_id, problem.to_string());
                    return Ok(Handled::Keep);
                }
            };
            if let Err(error) = target.forward(&event, &retries).await {
                report.failed_at = Some(event.event_id);
                report.error = Some(error);
                return Ok(Handled::Stop);
            }
            report.sent += 1;
            report.event_ids.push(event.event_id);
            Ok(Handled::Delete)
        },
    )
    .await?;
    report.retries = retries.load(Ordering::Relaxed);
    report.remaining = queue_depth(sqs, queue_url).await?;
    Ok(report)
}
