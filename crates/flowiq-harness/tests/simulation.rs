//! The deterministic simulation of the delivery path (docs/reliability.md#simulation).
//!
//! - `SIM_SEEDS` (default 1,000) seeds from `SIM_FIRST_SEED` (default 0), about
//!   `SIM_DELIVERIES` (default 1,000) deliveries each: at least a million per run.
//! - `SIM_SEED=<n>`: replays seed n alone, and prints what it did; with
//!   `SIM_PLANTED_BUG=<ack-failed-spill|delete-before-apply|duplicate-as-error>`, with that
//!   defect planted.
//! - `SIM_THREADS` (default: the available cores, at most 2): seeds run in parallel.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use flowiq_harness::simulation::{Fault, PlantedBug, SeedOutcome, SimReport, run_seed};

fn env(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
        Err(_) => default,
    }
}

fn threads() -> usize {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    env("SIM_THREADS", available as u64) as usize
}

/// Runs `seeds` in parallel; stops early at the first failing seed when `stop_at_failure`.
fn run_seeds(
    seeds: std::ops::Range<u64>,
    deliveries: usize,
    bug: Option<PlantedBug>,
    stop_at_failure: bool,
) -> (SimReport, Vec<SeedOutcome>) {
    let next = AtomicU64::new(seeds.start);
    let total = Mutex::new(SimReport::default());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads() {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= seeds.end {
                        return;
                    }
                    let outcome = run_seed(seed, deliveries, bug);
                    total.lock().unwrap().add(&outcome.report);
                    if !outcome.violations.is_empty() {
                        failures.lock().unwrap().push(outcome);
                        if stop_at_failure {
                            next.store(seeds.end, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort_by_key(|f| f.seed);
    (total.into_inner().unwrap(), failures)
}

fn describe(report: &SimReport) -> String {
    let faults: Vec<String> = report
        .injected
        .iter()
        .map(|(fault, n)| format!("{}: {n}", fault.name()))
        .collect();
    format!(
        "{} seeds, {} deliveries; answers {:?}; faults injected: {}; {} messages queued, {} to the DLQ, at most {} receives of one message; {} events stored; {} messages compared with their true state, {} missing an event FlowIQ lost or was refused",
        report.seeds,
        report.deliveries,
        report.answers,
        faults.join(", "),
        report.queued_messages,
        report.dead_lettered,
        report.most_receives,
        report.events_stored,
        report.messages_complete,
        report.messages_incomplete,
    )
}

fn failure_text(failures: &[SeedOutcome]) -> String {
    let first = &failures[0];
    let shown: Vec<&String> = first.violations.iter().take(5).collect();
    format!(
        "{} failing seeds; the first, seed {} ({} violations, replay it with SIM_SEED={}): {shown:#?}",
        failures.len(),
        first.seed,
        first.violations.len(),
        first.seed
    )
}

#[test]
fn every_invariant_holds_over_a_million_simulated_deliveries() {
    let deliveries = env("SIM_DELIVERIES", 1_000) as usize;
    if let Ok(seed) = std::env::var("SIM_SEED") {
        let seed: u64 = seed.parse().expect("SIM_SEED is a number");
        let bug = std::env::var("SIM_PLANTED_BUG").ok().map(|slug| {
            PlantedBug::from_slug(&slug).unwrap_or_else(|| {
                let known: Vec<&str> = PlantedBug::ALL.iter().map(|b| b.slug()).collect();
                panic!("SIM_PLANTED_BUG={slug:?} is none of {known:?}")
            })
        });
        let outcome = run_seed(seed, deliveries, bug);
        println!("seed {seed}: {}", describe(&outcome.report));
        assert!(
            outcome.violations.is_empty(),
            "seed {seed}: {:#?}",
            outcome.violations
        );
        return;
    }
    let first = env("SIM_FIRST_SEED", 0);
    let seeds = env("SIM_SEEDS", 1_000);
    let started = Instant::now();
    let (report, failures) = run_seeds(first..first + seeds, deliveries, None, false);
    let elapsed = started.elapsed();
    println!(
        "simulation: {} in {:.1} s ({:.0} deliveries/s)",
        describe(&report),
        elapsed.as_secs_f64(),
        report.deliveries as f64 / elapsed.as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failure_text(&failures));
    // The run reached what it is meant to explore.
    if seeds >= 1_000 {
        assert!(report.deliveries >= seeds * deliveries as u64);
        for fault in Fault::ALL {
            assert!(
                report.injected.get(&fault).copied().unwrap_or(0) > 0,
                "never injected: {}",
                fault.name()
            );
        }
        for answer in [
            "stored",
            "duplicate",
            "queued",
            "400",
            "401",
            "404",
            "503",
            "crashed",
        ] {
            assert!(
                report.answers.get(answer).copied().unwrap_or(0) > 0,
                "never answered {answer}"
            );
        }
        assert!(
            report.dead_lettered > 0,
            "no poison message reached the DLQ"
        );
        assert!(report.messages_complete > 0 && report.messages_incomplete > 0);
    }
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [7, 1_234] {
        let first = run_seed(seed, 500, None);
        let again = run_seed(seed, 500, None);
        assert_eq!(
            (first.report.digest, first.report.deliveries),
            (again.report.digest, again.report.deliveries),
            "seed {seed}"
        );
        assert_eq!(first.report.answers, again.report.answers);
        assert_eq!(first.report.injected, again.report.injected);
        assert_ne!(
            first.report.digest,
            run_seed(seed + 1, 500, None).report.digest
        );
    }
}

/// Each planted defect breaks an invariant within a few seeds: the checker can fail. The seed
/// that caught each, and how many seeds it took, are in docs/reliability.md.
#[test]
fn the_checker_catches_each_planted_bug() {
    let deliveries = env("SIM_DELIVERIES", 1_000) as usize;
    for bug in PlantedBug::ALL {
        // One seed at a time, in order: the first failing seed is the one recorded.
        let mut caught = None;
        for seed in 0..200 {
            let outcome = run_seed(seed, deliveries, Some(bug));
            if !outcome.violations.is_empty() {
                caught = Some(outcome);
                break;
            }
        }
        let outcome = caught.unwrap_or_else(|| panic!("{}: not caught in 200 seeds", bug.name()));
        println!(
            "planted bug \"{}\": caught by seed {} (after {} seeds; replay: SIM_SEED={} SIM_PLANTED_BUG={}): {}",
            bug.name(),
            outcome.seed,
            outcome.seed + 1,
            outcome.seed,
            bug.slug(),
            outcome.violations[0]
        );
    }
}
