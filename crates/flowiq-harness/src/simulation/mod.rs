//! A deterministic simulation of the delivery path (docs/reliability.md#simulation): the real
//! HTTP handler, [`Receiver`], [`Acceptor`], spill and drain ([`drain_batch`]), driven through
//! their ports by a seeded FlowIQ, function instances that crash, a DynamoDB (the in-memory
//! store) and an SQS with a seeded fault schedule, and the drain's event source mapping. One
//! seed is one run on a single-threaded tokio runtime with a paused clock: every latency,
//! time-out and visibility time-out is virtual, every choice comes from the seed, so a seed
//! replays exactly. The invariants are checked when a 2xx is sent and once the world has
//! quiesced (faults stopped, the drain ran dry): [`invariants`].

mod crash;
mod fault_plan;
mod faulty_store;
pub mod flowiq;
pub mod invariants;
mod simulated_queue;
mod world;

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use flowiq_webhooks::acceptance::Acceptor;
use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::http_handler;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::spill_drain::drain_batch;
use flowiq_webhooks::store::memory::InMemoryEventStore;
use flowiq_webhooks::webhook_tokens::WebhookTokens;
use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt as _};
use tokio::sync::Semaphore;

pub use fault_plan::Fault;
use faulty_store::FaultyStore;
use flowiq::{Answer, Kind, Traffic};
use simulated_queue::{QueueSpill, SimulatedQueue};
use world::World;

/// The spill queue's visibility time-out (template.yaml `SpillQueue`: 6 minutes).
const VISIBILITY: Duration = Duration::from_secs(360);
/// The drain's batch size (the event source mapping's).
const BATCH: usize = 10;
/// A run that has not quiesced after this much virtual time is a failure (the drain never ran
/// dry).
const QUIESCE_LIMIT: Duration = Duration::from_secs(48 * 3_600);

/// A defect planted in a port's adapter or in the drain's event source mapping, to show that the
/// checker catches it. Test-only: the simulation is in the dev-only harness and the defects live
/// in its own components, never in the receiver's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantedBug {
    /// The spill answers success when SQS refused the message (a 2xx for nothing durable).
    AckFailedSpill,
    /// The drain deletes a batch's messages before applying them.
    DeleteBeforeApply,
    /// The store takes a conditional-check failure (a duplicate) for a storage error.
    DuplicateAsError,
}

impl PlantedBug {
    pub const ALL: [PlantedBug; 3] = [
        PlantedBug::AckFailedSpill,
        PlantedBug::DeleteBeforeApply,
        PlantedBug::DuplicateAsError,
    ];

    /// Its name for `SIM_PLANTED_BUG`.
    pub fn slug(self) -> &'static str {
        match self {
            PlantedBug::AckFailedSpill => "ack-failed-spill",
            PlantedBug::DeleteBeforeApply => "delete-before-apply",
            PlantedBug::DuplicateAsError => "duplicate-as-error",
        }
    }

    pub fn from_slug(slug: &str) -> Option<PlantedBug> {
        PlantedBug::ALL.into_iter().find(|bug| bug.slug() == slug)
    }

    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::AckFailedSpill => "2xx when the spill send failed",
            PlantedBug::DeleteBeforeApply => "queue message deleted before it is applied",
            PlantedBug::DuplicateAsError => "conditional-check failure taken for a storage error",
        }
    }
}

/// What one or more seeds did.
#[derive(Debug, Default, Clone)]
pub struct SimReport {
    pub seeds: u64,
    pub deliveries: u64,
    /// Answers by kind: `stored`, `duplicate`, `queued`, `400`, `401`, `404`, `503`, `crashed`.
    pub answers: BTreeMap<&'static str, u64>,
    pub injected: BTreeMap<Fault, u64>,
    /// Messages sent to the spill queue (by the webhook and the poison producer).
    pub queued_messages: u64,
    pub dead_lettered: u64,
    /// The most receives of one message.
    pub most_receives: u32,
    pub events_stored: u64,
    /// Messages whose derived state was compared with the state of all the events FlowIQ sent.
    pub messages_complete: u64,
    pub messages_incomplete: u64,
    /// A digest of every answer and the final state: equal for two runs of one seed.
    pub digest: u64,
}

impl SimReport {
    pub fn add(&mut self, other: &SimReport) {
        self.seeds += other.seeds;
        self.deliveries += other.deliveries;
        for (kind, n) in &other.answers {
            *self.answers.entry(kind).or_default() += n;
        }
        for (fault, n) in &other.injected {
            *self.injected.entry(*fault).or_default() += n;
        }
        self.queued_messages += other.queued_messages;
        self.dead_lettered += other.dead_lettered;
        self.most_receives = self.most_receives.max(other.most_receives);
        self.events_stored += other.events_stored;
        self.messages_complete += other.messages_complete;
        self.messages_incomplete += other.messages_incomplete;
        self.digest ^= other.digest;
    }
}

/// One seed's run: its report and the invariants it broke.
#[derive(Debug)]
pub struct SeedOutcome {
    pub seed: u64,
    pub report: SimReport,
    pub violations: Vec<String>,
}

/// Runs one seed with about `deliveries` deliveries.
pub fn run_seed(seed: u64, deliveries: usize, bug: Option<PlantedBug>) -> SeedOutcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(simulate(seed, deliveries, bug))
    }));
    match run {
        Ok((report, violations)) => SeedOutcome {
            seed,
            report,
            violations,
        },
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic".to_owned());
            SeedOutcome {
                seed,
                report: SimReport::default(),
                violations: vec![format!("the code under test panicked: {message}")],
            }
        }
    }
}

struct Parts {
    world: Arc<World>,
    traffic: Arc<Traffic>,
    queue: Arc<SimulatedQueue>,
    receiver: Receiver<FaultyStore, QueueSpill>,
    instances: Semaphore,
}

async fn simulate(
    seed: u64,
    deliveries: usize,
    bug: Option<PlantedBug>,
) -> (SimReport, Vec<String>) {
    let (parts, table, drains) = build_world(seed, deliveries, bug);
    let answers = run_until_quiet(&parts, &table, drains).await;
    let mut violations = parts.world.take_violations();
    let end = invariants::EndState {
        events: table.events(),
        rejected: table.rejected(),
        queue_depth: parts.queue.depth(),
        dead_letters: parts
            .queue
            .dead_letters()
            .into_iter()
            .map(|m| m.body)
            .collect(),
    };
    let mut checked = invariants::check(&parts.traffic, &answers, &end);
    violations.append(&mut checked.violations);
    (report(seed, &answers, &checked, &parts), violations)
}

/// The seeded world: FlowIQ's traffic, 1-16 function instances, 1-2 drains, a queue that
/// dead-letters after 3-10 receives, and the table behind the fault schedule.
fn build_world(
    seed: u64,
    deliveries: usize,
    bug: Option<PlantedBug>,
) -> (Arc<Parts>, Arc<InMemoryEventStore>, usize) {
    let world = Arc::new(World::new(seed, bug));
    let traffic = Arc::new(world.with_rng(|rng| flowiq::traffic(rng, deliveries)));
    let (instances, drains, max_receive_count) =
        world.with_rng(|rng| (rng.usize(1..=16), rng.usize(1..=2), rng.u32(3..=10)));
    let table = Arc::new(InMemoryEventStore::default());
    let queue = Arc::new(SimulatedQueue::new(max_receive_count));
    let tokens = WebhookTokens::parse(flowiq::TOKEN).expect("a valid token");
    let receiver = Receiver::new(
        FaultyStore::new(Arc::clone(&table), Arc::clone(&world)),
        tokens,
        Retention(None),
        flowiq_webhooks::contact_key::ContactKey::local_dev(),
    )
    .with_spill(QueueSpill {
        queue: Arc::clone(&queue),
        world: Arc::clone(&world),
    });
    let parts = Arc::new(Parts {
        world,
        traffic,
        queue,
        receiver,
        instances: Semaphore::new(instances),
    });
    (parts, table, drains)
}

/// Every delivery sent and answered, the poison messages put on the queue, then the faults
/// stopped and the drains run dry (or [`QUIESCE_LIMIT`] passed: a violation). Returns FlowIQ's
/// answers in the order of `traffic.deliveries`.
async fn run_until_quiet(
    parts: &Arc<Parts>,
    table: &Arc<InMemoryEventStore>,
    drains: usize,
) -> Vec<Answer> {
    let (world, queue) = (&parts.world, &parts.queue);
    let acceptor = Arc::new(Acceptor::new(
        FaultyStore::new(Arc::clone(table), Arc::clone(world)),
        Retention(None),
        flowiq_webhooks::contact_key::ContactKey::local_dev(),
    ));
    let senders: Vec<_> = (0..parts.traffic.deliveries.len())
        .map(|i| tokio::spawn(deliver(Arc::clone(parts), i)))
        .collect();
    let poison = put_poison(parts);
    let pollers: Vec<_> = (0..drains)
        .map(|_| {
            tokio::spawn(poll(
                Arc::clone(world),
                Arc::clone(queue),
                Arc::clone(&acceptor),
            ))
        })
        .collect();

    let mut answers = Vec::with_capacity(senders.len());
    for sender in senders {
        answers.push(match sender.await {
            Ok(answer) => answer,
            Err(error) => {
                crash::expect_simulated_crash(error);
                Answer::Crashed
            }
        });
    }
    poison.await.expect("the poison producer never fails");
    world.quiesce();
    let drained = tokio::time::timeout(QUIESCE_LIMIT, async {
        for poller in pollers {
            poller.await.expect("the drain's poller never fails");
        }
    })
    .await;
    if drained.is_err() {
        world.violation(format!(
            "the drain did not run dry within {} h: {} messages left",
            QUIESCE_LIMIT.as_secs() / 3_600,
            queue.depth()
        ));
    }
    // Writes still in flight (slower than the budget) land.
    tokio::time::sleep(Duration::from_secs(10)).await;
    answers
}

/// The poison messages another producer puts on the spill queue, each at its moment.
fn put_poison(parts: &Arc<Parts>) -> tokio::task::JoinHandle<()> {
    let parts = Arc::clone(parts);
    tokio::spawn(async move {
        let mut poison = parts.traffic.poison.clone();
        poison.sort_by_key(|(at, _)| *at);
        for (at, body) in poison {
            tokio::time::sleep_until(parts.world.start + at).await;
            parts.queue.send(body, None);
        }
    })
}

/// The seed's counts, and a digest of everything it did: a replay (`SIM_SEED`) must match it.
fn report(
    seed: u64,
    answers: &[Answer],
    checked: &invariants::Checked,
    parts: &Parts,
) -> SimReport {
    let mut report = SimReport {
        seeds: 1,
        deliveries: answers.len() as u64,
        events_stored: checked.events_stored,
        messages_complete: checked.messages_complete,
        messages_incomplete: checked.messages_incomplete,
        ..SimReport::default()
    };
    let mut digest = DefaultHasher::new();
    seed.hash(&mut digest);
    for answer in answers {
        answer.hash(&mut digest);
        let kind = match answer {
            Answer::Crashed => "crashed",
            Answer::Status(200, Some(status)) if status == "stored" => "stored",
            Answer::Status(200, Some(status)) if status == "duplicate" => "duplicate",
            Answer::Status(200, _) => "queued",
            Answer::Status(400, _) => "400",
            Answer::Status(401, _) => "401",
            Answer::Status(404, _) => "404",
            Answer::Status(_, _) => "503",
        };
        *report.answers.entry(kind).or_default() += 1;
    }
    report.injected = parts.world.injected().into_iter().collect();
    let (sent, redriven, most_receives) = parts.queue.counts();
    (sent, redriven, most_receives, checked.events_stored).hash(&mut digest);
    report
        .injected
        .iter()
        .for_each(|entry| entry.hash(&mut digest));
    report.queued_messages = sent;
    report.dead_lettered = redriven;
    report.most_receives = most_receives;
    report.digest = digest.finish();
    report
}

/// One delivery from FlowIQ to the real HTTP handler, on one of the function's instances.
async fn deliver(parts: Arc<Parts>, i: usize) -> Answer {
    let world = &parts.world;
    let delivery = &parts.traffic.deliveries[i];
    tokio::time::sleep_until(world.start + delivery.at).await;
    let _instance = parts.instances.acquire().await.expect("never closed");
    let mut request =
        Request::new(Body::from(delivery.body.clone())).with_raw_http_path(delivery.path.as_str());
    *request.method_mut() = Method::POST;
    let response = http_handler::handle(&parts.receiver, request).await;
    let status = response.status().as_u16();
    let json: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
    let outcome = json["status"].as_str().map(str::to_owned);
    // Invariant 3, at the moment of the answer: a 2xx (and a 400, which says the body is kept)
    // is durable in the table or the queue.
    let identity = match delivery.kind {
        Kind::Event(n) => Some(parts.traffic.events[n].event_id.as_str()),
        Kind::BadBody => Some(delivery.body.as_str()),
        Kind::Stranger { .. } => None,
    };
    let expected = match delivery.kind {
        Kind::Event(_) => [200, 503].contains(&status),
        Kind::BadBody => [400, 503].contains(&status),
        Kind::Stranger { not_found } => status == if not_found { 404 } else { 401 },
    };
    if !expected {
        world.violation(format!(
            "answer: delivery {i} ({:?}) answered {status}",
            delivery.kind
        ));
    }
    if let (Some(identity), 200 | 400) = (identity, status) {
        let durable = match delivery.kind {
            Kind::Event(_) => world.table_holds_event(identity),
            _ => world.table_holds_rejected(identity),
        } || parts.queue.holds(identity);
        if !durable {
            world.violation(format!(
                "3: delivery {i} ({:?}) answered {status} {} at {:?} but is neither in the table nor in the queue",
                delivery.kind,
                outcome.as_deref().unwrap_or(""),
                world.elapsed()
            ));
        }
    }
    Answer::Status(status, outcome)
}

/// The drain's event source mapping: receives batches, invokes the real drain, deletes what it
/// applied (all but the partial batch response's failures); a crashed invocation deletes nothing.
/// Returns once the world quiesced and the queue is empty.
async fn poll(world: Arc<World>, queue: Arc<SimulatedQueue>, acceptor: Arc<Acceptor<FaultyStore>>) {
    loop {
        let batch = queue.receive(&world, BATCH, VISIBILITY);
        if batch.is_empty() {
            if world.is_quiescing() && queue.depth() == 0 {
                return;
            }
            // Long polling: up to 20 s.
            tokio::time::sleep(world.millis(1_000, 20_000)).await;
            continue;
        }
        if world.bug == Some(PlantedBug::DeleteBeforeApply) {
            for message in &batch {
                queue.delete(&message.message_id, message.receipt);
            }
        }
        let mut event = SqsEvent::default();
        event.records = batch
            .iter()
            .map(|received| {
                let mut message = SqsMessage::default();
                message.message_id = Some(received.message_id.clone());
                message.body = Some(received.body.clone());
                message
            })
            .collect();
        let invocation = tokio::spawn({
            let acceptor = Arc::clone(&acceptor);
            async move { drain_batch(&acceptor, &event).await }
        });
        let response = match invocation.await {
            Ok(response) => response,
            Err(error) => {
                crash::expect_simulated_crash(error);
                continue;
            }
        };
        if world.fault_for(&[Fault::DrainCrashAfterApply]).is_some() {
            continue;
        }
        let failed: HashSet<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for message in &batch {
            if !failed.contains(message.message_id.as_str()) {
                queue.delete(&message.message_id, message.receipt);
            }
        }
    }
}
