//! The simulated world every component shares: the seeded random source (drawn in the
//! deterministic order the single-threaded runtime polls the components), the fault plan, what
//! was injected, and what the table and the queue durably hold (for the invariant that a 2xx is
//! durable at the moment it is sent).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::PlantedBug;
use super::fault_plan::{Fault, FaultPlan};

pub struct World {
    rng: Mutex<fastrand::Rng>,
    pub plan: FaultPlan,
    pub bug: Option<PlantedBug>,
    pub start: Instant,
    state: Mutex<WorldState>,
}

#[derive(Default)]
struct WorldState {
    /// Faults injected, by kind.
    injected: HashMap<Fault, u64>,
    /// Event ids the table holds, and the rejected bodies it keeps.
    table_events: HashSet<String>,
    table_rejected: HashSet<String>,
    /// Set once every delivery is answered: no fault after that (the world quiesces).
    quiescing: bool,
    violations: Vec<String>,
}

impl World {
    pub fn new(seed: u64, bug: Option<PlantedBug>) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let plan = FaultPlan::draw(&mut rng);
        World {
            rng: Mutex::new(rng),
            plan,
            bug,
            start: Instant::now(),
            state: Mutex::new(WorldState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WorldState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn with_rng<T>(&self, f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
        f(&mut self.rng.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A random duration in `[low, high)` milliseconds.
    pub fn millis(&self, low: u64, high: u64) -> Duration {
        Duration::from_millis(self.with_rng(|rng| rng.u64(low..high)))
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The fault (or none) for one call of a component, by the plan at the current time.
    pub fn fault_for(&self, candidates: &[Fault]) -> Option<Fault> {
        if self.state().quiescing {
            return None;
        }
        let now = self.elapsed();
        let fault = self.with_rng(|rng| self.plan.draw_fault(rng, now, candidates))?;
        *self.state().injected.entry(fault).or_default() += 1;
        Some(fault)
    }

    pub fn quiesce(&self) {
        self.state().quiescing = true;
    }

    pub fn is_quiescing(&self) -> bool {
        self.state().quiescing
    }

    pub fn injected(&self) -> HashMap<Fault, u64> {
        self.state().injected.clone()
    }

    pub fn table_stored_event(&self, event_id: &str) {
        self.state().table_events.insert(event_id.to_owned());
    }

    pub fn table_kept_rejected(&self, body: &str) {
        self.state().table_rejected.insert(body.to_owned());
    }

    pub fn table_holds_event(&self, event_id: &str) -> bool {
        self.state().table_events.contains(event_id)
    }

    pub fn table_holds_rejected(&self, body: &str) -> bool {
        self.state().table_rejected.contains(body)
    }

    pub fn violation(&self, what: String) {
        self.state().violations.push(what);
    }

    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.state().violations)
    }
}
