//! Replay to an EventBridge bus: PutEvents in batches of at most 10 entries, each entry as the
//! stack's Pipe makes it (`source` flowiq.webhooks, `detail-type` the FlowIQ event_type, `detail`
//! the [`flowiq_webhooks::event_detail::EventDetail`] its enrichment builds).
//!
//! The SDK retries a failed request itself (throttling, 5xx, connection errors). PutEvents can
//! also fail some entries of a successful request: those with a throttling or internal error code
//! are sent again (only those), with [`crate::retry`]'s backoff; any other entry error is a
//! refusal.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{DisplayErrorContext, SdkError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::replay_item::ReplayItem;
use super::send_error::SendError;
use crate::retry::{RetryPolicy, Transient};
use flowiq_webhooks::event_detail::{EVENT_SOURCE, EventDetail};

/// PutEvents accepts at most 10 entries per request.
pub const MAX_BATCH: usize = 10;

pub struct EventBridgeTarget {
    pub client: Client,
    pub bus: String,
    pub retry: RetryPolicy,
}

impl EventBridgeTarget {
    pub fn describe(&self) -> String {
        format!("event bus {}", self.bus)
    }

    /// The entry the Pipe would put for this event. An event whose detail cannot be built (its
    /// body no longer reads back) is refused, naming it, as the Pipe's enrichment refuses it.
    fn entry(&self, item: &ReplayItem) -> Result<PutEventsRequestEntry, SendError> {
        let detail = EventDetail::of(&item.event).map_err(|e| SendError::Refused(e.to_string()))?;
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(item.event.event_type.to_string())
            .detail(detail.to_json())
            .build())
    }

    pub async fn send(&self, batch: &[ReplayItem], retries: &AtomicU64) -> Result<(), SendError> {
        debug_assert!(batch.len() <= MAX_BATCH);
        // What is still to be put: the whole batch, then the entries that failed retryably.
        let pending = Mutex::new(batch.iter().collect::<Vec<_>>());
        let notify = |failure: &Transient, _, wait: Duration| {
            let wait = wait.as_millis();
            tracing::warn!("{}; retrying them in {wait} ms", failure.problem);
            retries.fetch_add(1, Ordering::Relaxed);
        };
        let outcome = self.retry.run(|| self.put(&pending), notify).await;
        outcome.unwrap_or_else(|exhausted| Err(SendError::exhausted(&self.describe(), exhausted)))
    }

    /// One PutEvents of the pending entries. `Err` when some failed with a retryable code: they
    /// are then the pending ones. A failed request is final: the SDK has retried it already.
    async fn put(
        &self,
        pending: &Mutex<Vec<&ReplayItem>>,
    ) -> Result<Result<(), SendError>, Transient> {
        let items = pending.lock().expect("not poisoned").clone();
        let entries = match items.iter().map(|item| self.entry(item)).collect() {
            Ok(entries) => entries,
            Err(refused) => return Ok(Err(refused)),
        };
        let put = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await;
        let output = match put {
            Ok(output) => output,
            Err(err) => return Ok(Err(request_error(&err, &self.bus))),
        };
        let mut again = Vec::new();
        let mut last_error = String::new();
        for (item, result) in items.iter().zip(output.entries()) {
            let Some(code) = result.error_code() else {
                continue;
            };
            let message = result.error_message().unwrap_or("");
            last_error = format!("PutEvents entry error {code}: {message}");
            if !retryable(code) {
                let refused = format!("event {}: {last_error}", item.event.event_id);
                return Ok(Err(SendError::Refused(refused)));
            }
            again.push(*item);
        }
        if again.is_empty() {
            return Ok(Ok(()));
        }
        let (failed, all) = (again.len(), items.len());
        let problem = format!("{failed} of {all} entries failed ({last_error})");
        *pending.lock().expect("not poisoned") = again;
        Err(Transient::new(problem))
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
    use std::sync::Arc;

    use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};

    use flowiq_webhooks::platform::Platform;
    use flowiq_webhooks::records::{Received, Retention, event_item};
    use flowiq_webhooks::webhook_event::WebhookEvent;

    use super::*;

    #[test]
    fn throttling_and_internal_errors_are_retried() {
        assert!(retryable("ThrottlingException"));
        assert!(retryable("InternalFailure"));
        assert!(!retryable("MalformedDetail"));
        assert!(!retryable("AccessDeniedException"));
    }

    /// A stored receipt of message `e<n>`; the mocks below name entries by that message id.
    fn item(n: u32) -> ReplayItem {
        let body = format!(
            r#"{{"event_type":"message_read","organization_id":"org-1","whatsapp_message_id":"e{n}","status":"read","timestamp":"2026-03-07T10:00:0{n}.000Z"}}"#
        );
        let event = WebhookEvent::parse(Platform::Whatsapp, body.as_bytes()).unwrap();
        let received = Received::at(time::OffsetDateTime::UNIX_EPOCH);
        let stored = event_item(
            event,
            &body,
            &received,
            Retention(None),
            &flowiq_webhooks::contact_key::ContactKey::local_dev(),
        );
        let item = serde_dynamo::to_item(stored).unwrap();
        ReplayItem::from_item(&item).unwrap().unwrap()
    }

    /// A PutEvents that fails the entries `errors` names (by event id, with that error code), each
    /// as many times as given (`u32::MAX`: always); records the event ids of every request.
    fn target(
        errors: &[(&'static str, &'static str, u32)],
        max_attempts: u32,
    ) -> (EventBridgeTarget, Arc<Mutex<Vec<Vec<String>>>>) {
        let requests = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
        let failures = Arc::new(Mutex::new(errors.to_vec()));
        let seen = requests.clone();
        let rule = mock!(Client::put_events).then_compute_output(move |input| {
            let mut failures = failures.lock().unwrap();
            let mut ids = Vec::new();
            let results: Vec<PutEventsResultEntry> = input
                .entries()
                .iter()
                .map(|entry| {
                    let detail: serde_json::Value =
                        serde_json::from_str(entry.detail().unwrap()).unwrap();
                    let id = detail["whatsapp_message_id"].as_str().unwrap().to_owned();
                    let failure = failures
                        .iter_mut()
                        .find(|(failing, _, times)| *failing == id && *times > 0);
                    ids.push(id);
                    match failure {
                        Some((_, code, times)) => {
                            *times = times.saturating_sub(1);
                            PutEventsResultEntry::builder()
                                .error_code(*code)
                                .error_message("mocked")
                                .build()
                        }
                        None => PutEventsResultEntry::builder().event_id("ok").build(),
                    }
                })
                .collect();
            seen.lock().unwrap().push(ids);
            let failed = results.iter().filter(|r| r.error_code().is_some()).count();
            PutEventsOutput::builder()
                .set_entries(Some(results))
                .failed_entry_count(failed as i32)
                .build()
        });
        let client = Client::from_conf(
            aws_sdk_eventbridge::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("test", "test", None, None, "test"))
                .http_client(create_mock_http_client())
                .interceptor(
                    MockResponseInterceptor::new()
                        .rule_mode(RuleMode::MatchAny)
                        .with_rule(&rule),
                )
                .build(),
        );
        let retry = RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let bus = "bus".to_owned();
        (EventBridgeTarget { client, bus, retry }, requests)
    }

    fn ids(requests: &Mutex<Vec<Vec<String>>>) -> Vec<Vec<String>> {
        requests.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn only_the_entries_that_failed_retryably_are_put_again() {
        let (target, requests) = target(
            &[
                ("e2", "ThrottlingException", 1),
                ("e4", "InternalFailure", 1),
            ],
            5,
        );
        let retries = AtomicU64::new(0);
        let batch: Vec<ReplayItem> = (1..=4).map(item).collect();
        assert_eq!(target.send(&batch, &retries).await, Ok(()));
        assert_eq!(
            ids(&requests),
            [vec!["e1", "e2", "e3", "e4"], vec!["e2", "e4"]]
        );
        assert_eq!(retries.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn an_entry_refused_for_good_stops_the_batch_without_a_retry() {
        let (target, requests) = target(&[("e2", "MalformedDetail", u32::MAX)], 5);
        let retries = AtomicU64::new(0);
        let batch: Vec<ReplayItem> = (1..=3).map(item).collect();
        let error = target.send(&batch, &retries).await.unwrap_err();
        assert!(
            matches!(&error, SendError::Refused(why) if why.contains(&format!("event {}", batch[1].event.event_id)) && why.contains("MalformedDetail")),
            "{error:?}"
        );
        assert_eq!(ids(&requests).len(), 1);
        assert_eq!(retries.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn entries_throttled_until_the_attempts_run_out_make_the_bus_unreachable() {
        let (target, requests) = target(&[("e1", "ThrottlingException", u32::MAX)], 3);
        let retries = AtomicU64::new(0);
        let batch = [item(1), item(2)];
        let error = target.send(&batch, &retries).await.unwrap_err();
        assert_eq!(
            error,
            SendError::Unreachable(
                "event bus bus after 3 attempts: 1 of 1 entries failed (PutEvents entry error \
                 ThrottlingException: mocked)"
                    .into()
            )
        );
        assert_eq!(ids(&requests), [vec!["e1", "e2"], vec!["e1"], vec!["e1"]]);
        assert_eq!(retries.load(Ordering::Relaxed), 2);
    }
}
