//! Storage faults (without a spill queue): an outage in the middle of a load, storage that hangs,
//! and a crash right after the write. Whatever happens, a 2xx means stored, everything else is a
//! retryable 503, and redelivering what failed converges to the exact expected table.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::records::{EventItem, RejectedItem, Retention};
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use flowiq_webhooks::store::{EventStore, PutOutcome, StoreError};
use flowiq_webhooks::webhook_event::WebhookEvent;
use flowiq_webhooks::webhook_tokens::WebhookTokens;
use futures::StreamExt;

use crate::support::dynamodb_local::PrivateDynamoDbLocal;
use crate::support::scenario::{generate, verify};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_mid_load_loses_nothing_and_redelivery_converges() {
    let mut dynamodb = PrivateDynamoDbLocal::start();
    let table = TestTable::on(&dynamodb.endpoint()).await;
    let receiver = table.receiver(Retention(None));
    let scenario = generate(7, 600, 0.2);
    let answered = Arc::new(AtomicUsize::new(0));

    let load = {
        let answered = Arc::clone(&answered);
        let deliveries = scenario.deliveries.clone();
        let receiver = table.receiver(Retention(None));
        tokio::spawn(async move {
            futures::stream::iter(deliveries)
                .map(|body| {
                    let (receiver, answered) = (&receiver, &answered);
                    async move {
                        let answer = send(receiver, delivery("whatsapp", DEV_TOKEN, &body)).await;
                        answered.fetch_add(1, Ordering::Relaxed);
                        (body, answer.status)
                    }
                })
                .buffer_unordered(8)
                .collect::<Vec<_>>()
                .await
        })
    };
    // Stop DynamoDB Local a third of the way in, start it again a few seconds later.
    while answered.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut dynamodb = tokio::task::spawn_blocking(move || {
        dynamodb.stop();
        std::thread::sleep(Duration::from_secs(2));
        dynamodb.restart();
        dynamodb
    })
    .await
    .unwrap();
    let answers = load.await.unwrap();

    let failed: Vec<&String> = answers
        .iter()
        .filter(|(_, status)| *status != 200)
        .map(|(body, _)| body)
        .collect();
    assert!(
        answers
            .iter()
            .all(|(_, status)| *status == 200 || *status == 503),
        "only 200 or 503"
    );
    assert!(!failed.is_empty(), "the outage was felt");
    // Every acknowledged delivery is in the table (maybe stored from another copy of it).
    let stored: std::collections::BTreeSet<String> = table
        .items_of_type("event")
        .await
        .iter()
        .map(|e| s(e, "event_id").to_owned())
        .collect();
    for (body, _) in answers.iter().filter(|(_, status)| *status == 200) {
        let event_id = WebhookEvent::parse(Platform::Whatsapp, body.as_bytes())
            .unwrap()
            .event_id;
        assert!(
            stored.contains(event_id.as_str()),
            "acknowledged but not stored: {body}"
        );
    }
    // FlowIQ redelivers what failed; the table converges to exactly the expected one.
    for body in failed {
        let answer = send(&receiver, delivery("whatsapp", DEV_TOKEN, body)).await;
        assert_eq!(answer.status, 200, "{}", answer.json);
    }
    let verified = verify(&table, &scenario).await;
    println!(
        "outage: {} deliveries, {} answered 503 during the outage, all redelivered; {} events, {} messages",
        answers.len(),
        answers.iter().filter(|(_, s)| *s == 503).count(),
        verified.events,
        verified.messages
    );
    dynamodb.stop();
}

#[tokio::test]
async fn storage_that_hangs_gets_a_503_well_before_api_gateways_30_seconds() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in listener.incoming() {
            held.push(connection);
        }
    });
    let receiver = Receiver::new(
        DynamoDbEventStore::new(client_for(&format!("http://127.0.0.1:{port}")), "hanging"),
        WebhookTokens::parse(DEV_TOKEN).unwrap(),
        Retention(None),
        flowiq_webhooks::contact_key::ContactKey::local_dev(),
    );
    let started = Instant::now();
    let answer = send(&receiver, request(&sample("whatsapp-message-read.json"))).await;
    let elapsed = started.elapsed();
    assert_eq!(answer.status, 503);
    // A functional deadline, not a speed figure: API Gateway gives up at 30 s and answers 504
    // without telling FlowIQ whether to retry. The store budget ends it at 2.5 s.
    assert!(
        elapsed < Duration::from_secs(20),
        "answered after {elapsed:?}"
    );
}

/// The real DynamoDB store, whose event write applies but whose answer is lost while `failing`
/// is set: the state a process killed right after its one write leaves behind.
struct CrashAfterTheWrite {
    inner: DynamoDbEventStore,
    failing: AtomicBool,
}

impl EventStore for CrashAfterTheWrite {
    async fn put_event(&self, item: EventItem) -> Result<PutOutcome, StoreError> {
        let outcome = self.inner.put_event(item).await?;
        if self.failing.load(Ordering::Relaxed) {
            return Err(StoreError::Request {
                operation: "PutItem",
                message: "process killed".into(),
                source: "process killed".into(),
            });
        }
        Ok(outcome)
    }

    async fn put_rejected(&self, item: &RejectedItem) -> Result<(), StoreError> {
        self.inner.put_rejected(item).await
    }
}

#[tokio::test]
async fn a_crash_after_the_write_is_a_duplicate_on_redelivery_and_the_state_is_whole() {
    let files = [
        "whatsapp-sent-message.json",
        "whatsapp-message-delivered.json",
        "whatsapp-message-read.json",
    ];
    // Reference: the same deliveries without a fault.
    let clean = TestTable::new().await;
    let clean_receiver = clean.receiver(Retention(None));
    for file in files {
        assert_eq!(
            send(&clean_receiver, request(&sample(file))).await.status,
            200
        );
    }

    let table = TestTable::new().await;
    let store = CrashAfterTheWrite {
        inner: DynamoDbEventStore::new(table.client.clone(), &table.name),
        failing: AtomicBool::new(true),
    };
    let receiver = Receiver::new(
        store,
        WebhookTokens::parse(DEV_TOKEN).unwrap(),
        Retention(None),
        flowiq_webhooks::contact_key::ContactKey::local_dev(),
    );
    for file in files {
        let answer = send_to(&receiver, request(&sample(file))).await;
        assert_eq!(answer, 503, "not acknowledged: the answer was lost");
    }
    let wamid = sample_payload("whatsapp-sent-message.json")["whatsapp_message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // One write per delivery: the stored events are the whole state, nothing to repair.
    assert_eq!(table.message(&wamid).await, clean.message(&wamid).await);

    // FlowIQ retries; this time the process survives: duplicates, nothing new.
    receiver.store().failing.store(false, Ordering::Relaxed);
    for file in files {
        assert_eq!(send_to(&receiver, request(&sample(file))).await, 200);
    }
    assert_eq!(table.message(&wamid).await, clean.message(&wamid).await);
    assert_eq!(
        table.items_of_type("event").await.len(),
        files.len(),
        "and no event twice"
    );
}

async fn send_to<S: EventStore>(receiver: &Receiver<S>, request: lambda_http::Request) -> u16 {
    flowiq_webhooks::http_handler::handle(receiver, request)
        .await
        .status()
        .as_u16()
}
