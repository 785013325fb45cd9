//! Replay to an EventBridge bus: PutEvents in batches of at most 10 entries, each entry as the
//! stack's Pipe makes it (`source` flowiq.webhooks, `detail-type` the FlowIQ event_type, `detail`
//! the Pipe's JSON object).
//!
//! The SDK retries a failed request itself (throttling, 5xx, connection errors). PutEvents can
//! also fail some entries of a successful request: those with a throttling or internal error code
//! are sent again (only those), with backoff; any other entry error is a refusal.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{DisplayErrorContext, SdkError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::replay_item::{EVENT_SOURCE, ReplayItem};
use super::send_error::SendError;
use crate::retry::RetryPolicy;

/// PutEvents accepts at most 10 entries per request.
pub const MAX_BATCH: usize = 10;

pub struct EventBridgeTarget {
    client: Client,
    bus: String,
    retry: RetryPolicy,
}

impl EventBridgeTarget {
    pub fn new(client: Client, bus: impl Into<String>, retry: RetryPolicy) -> Self {
        EventBridgeTarget {
            client,
            bus: bus.into(),
            retry,
        }
    }

    pub fn describe(&self) -> String {
        format!("event bus {}", self.bus)
    }

    /// The entry the Pipe would put for this event.
    pub fn entry(&self, item: &ReplayItem) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(&item.event_type)
            .detail(item.detail().to_string())
            .build()
    }

    pub async fn send(&self, batch: &[ReplayItem], retries: &AtomicU64) -> Result<(), SendError> {
        debug_assert!(batch.len() <= MAX_BATCH);
        let mut pending: Vec<&ReplayItem> = batch.iter().collect();
        let mut rng = fastrand::Rng::new();
        let mut attempt = 1;
        loop {
            let entries: Vec<PutEventsRequestEntry> =
                pending.iter().map(|item| self.entry(item)).collect();
            let output = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| request_error(&err, &self.bus))?;
            let mut again = Vec::new();
            let mut last_error = String::new();
            for (item, result) in pending.iter().zip(output.entries()) {
                let Some(code) = result.error_code() else {
                    continue;
                };
                let message = result.error_message().unwrap_or("");
                last_error = format!("PutEvents entry error {code}: {message}");
                if retryable(code) {
                    again.push(*item);
                } else {
                    return Err(SendError::Refused(format!(
                        "event {}: {last_error}",
                        item.event_id
                    )));
                }
            }
            if again.is_empty() {
                return Ok(());
            }
            if attempt >= self.retry.max_attempts {
                return Err(SendError::Unreachable(format!(
                    "{} after {attempt} attempts: {last_error}",
                    self.describe()
                )));
            }
            let wait = self.retry.delay(attempt, None, &mut rng);
            tracing::warn!(
                "{} of {} entries failed ({last_error}); retrying them in {} ms",
                again.len(),
                pending.len(),
                wait.as_millis()
            );
            retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            pending = again;
            attempt += 1;
        }
    }
}

/// Entry error codes worth another try: throttling and EventBridge's internal failures.
fn retryable(code: &str) -> bool {
    code.contains("Throttl") || code.contains("Internal") || code.contains("Unavailable")
}

fn request_error<E, R>(err: &SdkError<E, R>, bus: &str) -> SendError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = format!("PutEvents to {bus}: {}", DisplayErrorContext(err));
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => SendError::Unreachable(message),
        _ => SendError::Aws(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_internal_errors_are_retried() {
        assert!(retryable("ThrottlingException"));
        assert!(retryable("InternalFailure"));
        assert!(!retryable("MalformedDetail"));
        assert!(!retryable("AccessDeniedException"));
    }
}
