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
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::time::Instant;

use super::cli::ReplayPacingArgs;
use super::eventbridge_target::{EventBridgeTarget, MAX_BATCH};
use super::forwarded_event::ForwardedEvent;
use super::http_target::PostTarget;
use super::progress;
use super::replay_item::ReplayItem;
use super::send_error::SendError;

pub enum Target {
    /// A receiver's URL: each stored body as FlowIQ sent it.
    Http(PostTarget),
    EventBridge(EventBridgeTarget),
    /// The forwarding endpoint, in live forwarding's shape.
    Forward(PostTarget),
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Http(target) | Target::Forward(target) => target.describe(),
            Target::EventBridge(target) => target.describe(),
        }
    }

    async fn send(&self, batch: &[ReplayItem], retries: &AtomicU64) -> Result<(), SendError> {
        let target = match self {
            Target::EventBridge(target) => return target.send(batch, retries).await,
            Target::Http(target) | Target::Forward(target) => target,
        };
        for ReplayItem { body, event, .. } in batch {
            if let Target::Forward(_) = self {
                let event_type = event.event_type.to_string();
                let forwarded = ForwardedEvent::from_stored(&event.event_id, &event_type, body);
                target
                    .forward(&forwarded.map_err(SendError::Refused)?, retries)
                    .await?;
            } else {
                target.send(&event.event_id, None, body, retries).await?;
            }
        }
        Ok(())
    }
}

/// The outcome of a run (also of a dry run, with nothing sent): the `replay_summary` line.
#[derive(Debug, Default, Serialize)]
#[serde(tag = "kind", rename = "replay_summary")]
pub struct ReplayReport {
    pub dry_run: bool,
    /// Names the run (the X-FlowIQ-Replay header of a replay to a URL).
    pub run_id: String,
    /// Where the events go, as messages show it.
    pub target: String,
    /// Events in the selection.
    pub selected: usize,
    /// Events at or before the `--resume` cursor, not sent.
    #[serde(rename = "skipped_by_resume")]
    pub skipped: usize,
    /// Events after it: what the run sends.
    pub to_send: usize,
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
    pub failed_at: Option<String>,
    pub error: Option<SendError>,
    /// The run was stopped (Ctrl-C) before it was done.
    pub interrupted: bool,
}

impl ReplayReport {
    /// The events after the resume cursor (all without one), still in time order, and the report
    /// of a run that has sent nothing yet.
    fn start(
        events: Vec<ReplayItem>,
        target: &Target,
        pacing: &ReplayPacingArgs,
    ) -> (Vec<ReplayItem>, Self) {
        let selected = events.len();
        let resume = pacing.resume.as_deref();
        let after_resume =
            |event: &ReplayItem| resume.is_none_or(|cursor| event.key.as_str() > cursor);
        let events: Vec<ReplayItem> = events.into_iter().filter(after_resume).collect();
        let report = ReplayReport {
            dry_run: pacing.dry_run,
            target: target.describe(),
            selected,
            skipped: selected - events.len(),
            to_send: events.len(),
            cursor: resume.map(str::to_owned),
            ..ReplayReport::default()
        };
        (events, report)
    }

    /// A batch's result: sent (the cursor moves past it unless an earlier one failed), or the
    /// first failure.
    fn record(
        &mut self,
        batch: &[ReplayItem],
        result: Result<(), SendError>,
        progress: &ProgressBar,
    ) {
        match (result, self.error.is_some()) {
            (Ok(()), false) => {
                self.sent += batch.len();
                self.cursor = batch.last().map(|event| event.key.clone());
                progress.inc(batch.len() as u64);
            }
            (Ok(()), true) => self.sent_after_failure += batch.len(),
            // Reported by the caller, once: the summary names it.
            (Err(error), false) => {
                self.failed_at = batch.first().map(|event| event.key.clone());
                self.error = Some(error);
            }
            // A later failure while stopping: the first one is what the report names.
            (Err(error), true) => tracing::error!("{error}"),
        }
    }
}

/// Sends `events` after the resume cursor (all without one) to `target` as `pacing` says, or
/// only counts them (a dry run); `doing` names the run on the progress bar. When `stop`
/// resolves (Ctrl-C), the run ends at once; the report says so.
pub async fn replay(
    events: Vec<ReplayItem>,
    target: &Target,
    pacing: &ReplayPacingArgs,
    doing: &str,
    stop: impl Future<Output = ()>,
) -> ReplayReport {
    let (events, mut report) = ReplayReport::start(events, target, pacing);
    if pacing.dry_run {
        return report;
    }
    let progress = progress::bar(events.len() as u64, doing);
    let retries = AtomicU64::new(0);
    // Each batch waits inside its own future for its start slot, so batches in flight keep
    // being polled meanwhile. Slots are `len / rate` apart and never in the past: a pause (full
    // concurrency, a slow target) is not made up for with a burst.
    let interval = Duration::from_secs_f64(1.0 / pacing.rate);
    let mut next_slot = Instant::now();
    let mut in_flight = FuturesOrdered::new();
    let batch_size = if let Target::EventBridge(_) = target {
        MAX_BATCH
    } else {
        1
    };
    let mut batches = events.chunks(batch_size);
    let mut stop = std::pin::pin!(stop);
    loop {
        // Start batches while there is room, none has failed, and batches are left.
        while in_flight.len() < usize::from(pacing.concurrency) && report.error.is_none() {
            let Some(batch) = batches.next() else { break };
            let slot = next_slot.max(Instant::now());
            next_slot = slot + interval * batch.len() as u32;
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
        report.record(batch, result, &progress);
    }
    report.retries = retries.load(Ordering::Relaxed);
    progress.finish_and_clear();
    report
}
