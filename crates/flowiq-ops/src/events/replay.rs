//! Replay: the selected events sent to a target in time order, at least once.
//!
//! - Order: batches are started in time order (one event per batch for a URL, up to 10 for
//!   EventBridge). With `concurrency` 1 each waits for the previous one; with more, several are
//!   in flight and may arrive out of order.
//! - Rate: at most `rate` events per second are started.
//! - At least once: a send is retried (see the targets) and an event counts as sent only on
//!   success. The run stops starting new sends at the first event that fails for good; the
//!   cursor is the last event before which everything was sent, so `--resume <cursor>` sends
//!   the failed one and everything after it (events in flight at the failure may be sent twice).
//! - Resume: only events strictly after the cursor are selected.
//! - Interruption (Ctrl-C): the run stops at once; sends in flight are abandoned (they may have
//!   arrived: a resume sends them again) and the cursor is reported as after a failure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesOrdered;
use tokio::time::Instant;

use super::cursor::ReplayCursor;
use super::eventbridge_target::{EventBridgeTarget, MAX_BATCH};
use super::forward_target::ForwardTarget;
use super::forwarded_event::ForwardedEvent;
use super::http_target::HttpTarget;
use super::progress::Progress;
use super::replay_item::ReplayItem;
use super::send_error::SendError;

pub enum Target {
    Http(HttpTarget),
    EventBridge(EventBridgeTarget),
    /// The forwarding endpoint, in live forwarding's shape.
    Forward(ForwardTarget),
}

impl Target {
    fn batch_size(&self) -> usize {
        match self {
            Target::Http(_) | Target::Forward(_) => 1,
            Target::EventBridge(_) => MAX_BATCH,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Target::Http(target) => target.describe(),
            Target::EventBridge(target) => target.describe(),
            Target::Forward(target) => target.describe(),
        }
    }

    async fn send(&self, batch: &[ReplayItem], retries: &AtomicU64) -> Result<(), SendError> {
        match self {
            Target::Http(target) => {
                for item in batch {
                    target.send(item, retries).await?;
                }
                Ok(())
            }
            Target::EventBridge(target) => target.send(batch, retries).await,
            Target::Forward(target) => {
                for item in batch {
                    let event =
                        ForwardedEvent::from_stored(&item.event_id, &item.event_type, &item.body)
                            .map_err(SendError::Refused)?;
                    target.send(&event, retries).await?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Events started per second; `None`: no limit.
    pub rate: Option<f64>,
    /// Batches in flight at once (at least 1).
    pub concurrency: usize,
    pub resume: Option<ReplayCursor>,
}

/// The outcome of a run (also of a dry run, with nothing sent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Events in the selection.
    pub selected: usize,
    /// Events at or before the `--resume` cursor, not sent.
    pub skipped: usize,
    /// Events sent, counted up to the first failure.
    pub sent: usize,
    /// Events that were in flight when another one failed and were sent all the same; a resume
    /// sends them again.
    pub sent_after_failure: usize,
    /// Retries of sends, all events together.
    pub retries: u64,
    /// Resume after this (the last event before which everything was sent); `None` when
    /// nothing was sent in this run nor resumed from.
    pub cursor: Option<String>,
    /// The event that failed for good, and why.
    pub failure: Option<(String, SendError)>,
    /// The run was stopped (Ctrl-C) before it was done.
    pub interrupted: bool,
}

impl ReplayReport {
    /// A batch's result: sent (the cursor moves past it unless an earlier one failed), or the
    /// first failure.
    fn record(&mut self, batch: &[ReplayItem], result: Result<(), SendError>, progress: &Progress) {
        match (result, self.failure.is_some()) {
            (Ok(()), false) => {
                self.sent += batch.len();
                self.cursor = batch.last().map(|event| event.key.clone());
                progress.advance(batch.len() as u64);
            }
            (Ok(()), true) => self.sent_after_failure += batch.len(),
            // Reported by the caller, once: the summary names it.
            (Err(error), false) => {
                let first = batch.first().map(|e| e.key.clone()).unwrap_or_default();
                self.failure = Some((first, error));
            }
            // A later failure while stopping: the first one is what the report names.
            (Err(error), true) => tracing::error!("{error}"),
        }
    }
}

/// The events after `resume` (all when `None`), still in time order.
pub fn after_cursor(events: Vec<ReplayItem>, resume: Option<&ReplayCursor>) -> Vec<ReplayItem> {
    match resume {
        Some(cursor) => events
            .into_iter()
            .filter(|event| event.key.as_str() > cursor.as_str())
            .collect(),
        None => events,
    }
}

/// Counts what a replay would send, sends nothing.
pub fn dry_run(events: &[ReplayItem], options: &ReplayOptions) -> ReplayReport {
    let remaining = after_cursor(events.to_vec(), options.resume.as_ref());
    ReplayReport {
        selected: events.len(),
        skipped: events.len() - remaining.len(),
        cursor: options.resume.as_ref().map(|c| c.as_str().to_owned()),
        ..ReplayReport::default()
    }
}

/// Sends `events` (after the resume cursor) to `target`. When `stop` resolves (Ctrl-C), the run
/// ends at once; the report says so.
pub async fn replay(
    events: Vec<ReplayItem>,
    target: &Target,
    options: &ReplayOptions,
    progress: &Progress,
    stop: impl Future<Output = ()>,
) -> ReplayReport {
    let selected = events.len();
    let events = after_cursor(events, options.resume.as_ref());
    let mut report = ReplayReport {
        selected,
        skipped: selected - events.len(),
        cursor: options.resume.as_ref().map(|c| c.as_str().to_owned()),
        ..ReplayReport::default()
    };
    let retries = AtomicU64::new(0);
    // Each batch waits inside its own future for its start slot, so batches in flight keep
    // being polled meanwhile. Slots are `len / rate` apart and never in the past: a pause (full
    // concurrency, a slow target) is not made up for with a burst.
    let interval = options.rate.map(|rate| Duration::from_secs_f64(1.0 / rate));
    let mut next_slot = Instant::now();
    let concurrency = options.concurrency.max(1);
    let mut in_flight = FuturesOrdered::new();
    let mut batches = events.chunks(target.batch_size());
    let mut stop = std::pin::pin!(stop);

    loop {
        // Start batches while there is room, none has failed, and batches are left.
        while in_flight.len() < concurrency && report.failure.is_none() {
            let Some(batch) = batches.next() else { break };
            let slot = next_slot.max(Instant::now());
            if let Some(interval) = interval {
                next_slot = slot + interval * batch.len() as u32;
            }
            let retries = &retries;
            in_flight.push_back(async move {
                tokio::time::sleep_until(slot).await;
                (batch, target.send(batch, retries).await)
            });
        }
        let next = tokio::select! {
            next = in_flight.next() => next,
            () = &mut stop => {
                report.interrupted = true;
                break;
            }
        };
        let Some((batch, result)) = next else {
            break;
        };
        report.record(batch, result, progress);
    }
    report.retries = retries.load(Ordering::Relaxed);
    progress.finish();
    report
}
