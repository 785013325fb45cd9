//! One seed's fault schedule: windows of the delivery period during which calls fail, how often,
//! and which kinds of fault each window mixes. Outside the windows, and once the world quiesces,
//! every call succeeds.

use std::time::Duration;

/// How long FlowIQ sends the seed's deliveries (virtual time); the fault windows fall inside it.
pub const DELIVERY_PERIOD: Duration = Duration::from_secs(600);

/// Every fault the simulation injects, at the port where it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// DynamoDB: throttled after the SDK's retries.
    StoreThrottled,
    /// DynamoDB: 5xx after the SDK's retries.
    StoreServerError,
    /// DynamoDB: the call timed out and the write was not applied.
    StoreTimeoutBeforeApply,
    /// DynamoDB: the write was applied, then the answer was lost (a time-out after the apply).
    StoreTimeoutAfterApply,
    /// DynamoDB: slower than the store budget; the write applies later, after the caller gave up.
    StoreSlowBeyondBudget,
    /// The function instance dies before its write.
    CrashBeforeWrite,
    /// The function instance dies after its write applied, before it answers.
    CrashAfterWrite,
    /// SQS SendMessage fails (nothing enqueued).
    SpillFailed,
    /// SQS SendMessage enqueued the message, then timed out.
    SpillTimeoutAfterEnqueue,
    /// The function instance dies after the spill, before it answers.
    CrashAfterSpill,
    /// The drain applied its batch and died before the deletes.
    DrainCrashAfterApply,
}

impl Fault {
    pub const ALL: [Fault; 11] = [
        Fault::StoreThrottled,
        Fault::StoreServerError,
        Fault::StoreTimeoutBeforeApply,
        Fault::StoreTimeoutAfterApply,
        Fault::StoreSlowBeyondBudget,
        Fault::CrashBeforeWrite,
        Fault::CrashAfterWrite,
        Fault::SpillFailed,
        Fault::SpillTimeoutAfterEnqueue,
        Fault::CrashAfterSpill,
        Fault::DrainCrashAfterApply,
    ];

    /// What a store call can do.
    pub const STORE: [Fault; 7] = [
        Fault::StoreThrottled,
        Fault::StoreServerError,
        Fault::StoreTimeoutBeforeApply,
        Fault::StoreTimeoutAfterApply,
        Fault::StoreSlowBeyondBudget,
        Fault::CrashBeforeWrite,
        Fault::CrashAfterWrite,
    ];

    /// What a spill call can do.
    pub const SPILL: [Fault; 3] = [
        Fault::SpillFailed,
        Fault::SpillTimeoutAfterEnqueue,
        Fault::CrashAfterSpill,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::StoreThrottled => "DynamoDB throttled",
            Fault::StoreServerError => "DynamoDB 5xx",
            Fault::StoreTimeoutBeforeApply => "DynamoDB time-out before the apply",
            Fault::StoreTimeoutAfterApply => "DynamoDB time-out after the apply",
            Fault::StoreSlowBeyondBudget => "DynamoDB slower than the budget",
            Fault::CrashBeforeWrite => "crash before the write",
            Fault::CrashAfterWrite => "crash after the write, before the answer",
            Fault::SpillFailed => "SQS send failed",
            Fault::SpillTimeoutAfterEnqueue => "SQS time-out after the enqueue",
            Fault::CrashAfterSpill => "crash after the spill, before the answer",
            Fault::DrainCrashAfterApply => "drain crash after the apply, before the delete",
        }
    }
}

/// A window of the delivery period with faults.
#[derive(Debug, Clone)]
struct Window {
    from: Duration,
    to: Duration,
    /// Probability that a call in the window fails.
    intensity: f64,
    /// The kinds this window mixes (a call's fault is one of them, uniformly).
    kinds: Vec<Fault>,
}

#[derive(Debug, Clone)]
pub struct FaultPlan {
    windows: Vec<Window>,
}

impl FaultPlan {
    pub fn draw(rng: &mut fastrand::Rng) -> Self {
        let period = DELIVERY_PERIOD.as_millis() as u64;
        let windows = (0..rng.usize(1..=4))
            .map(|_| {
                let from = rng.u64(0..period);
                let length = rng.u64(5_000..150_000);
                let mut kinds: Vec<Fault> = Fault::ALL.into_iter().filter(|_| rng.bool()).collect();
                if kinds.is_empty() {
                    kinds.push(Fault::ALL[rng.usize(..Fault::ALL.len())]);
                }
                Window {
                    from: Duration::from_millis(from),
                    to: Duration::from_millis((from + length).min(period)),
                    intensity: 0.1 + 0.85 * rng.f64(),
                    kinds,
                }
            })
            .collect();
        FaultPlan { windows }
    }

    /// The fault of one call at `now` among `candidates` (the kinds the calling port can have).
    pub fn draw_fault(
        &self,
        rng: &mut fastrand::Rng,
        now: Duration,
        candidates: &[Fault],
    ) -> Option<Fault> {
        let window = self.windows.iter().find(|w| w.from <= now && now < w.to)?;
        let kinds: Vec<Fault> = window
            .kinds
            .iter()
            .copied()
            .filter(|k| candidates.contains(k))
            .collect();
        if kinds.is_empty() || rng.f64() >= window.intensity {
            return None;
        }
        Some(kinds[rng.usize(..kinds.len())])
    }
}
