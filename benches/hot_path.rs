//! The CPU work of one delivery, without I/O (docs/performance.md; target ≤ 10 µs per event), for
//! every sample event in events/ but the stream record:
//!
//! - `hot_path/<sample>`: route + authenticate (`WebhookTokens::verify`) + parse and validate
//!   (`WebhookEvent::parse`, which computes the event id) + the time of receipt + the items
//!   (`records::event_item`) + the conversion of the event item to DynamoDB attribute values
//!   (`serde_dynamo::to_item`), as `delivery::Receiver::receive` and the DynamoDB
//!   store do them.
//! - `handler/<sample>`: the whole `http_handler::handle` on a `lambda_http::Request` with a store
//!   that does nothing (routing, the reply's JSON; no log subscriber installed).
//!
//! `cargo bench --bench hot_path` (the whole run takes about two minutes).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::http_handler;
use flowiq_webhooks::records::{EventItem, Received, RejectedItem, Retention, event_item};

use flowiq_webhooks::store::{EventStore, PutOutcome, StoreError};
use flowiq_webhooks::webhook_event::WebhookEvent;
use flowiq_webhooks::webhook_tokens::WebhookTokens;
use serde_json::Value;

const DEV_TOKEN: &str = "local-dev-token-not-a-secret-0123456789";
/// As deployed during a rotation: the token is checked against two.
const TOKENS: &str =
    "local-dev-token-not-a-secret-0123456789,rotation-token-also-not-secret-98765432";

struct Sample {
    name: String,
    /// The whole API Gateway event, as JSON.
    event: String,
    path: String,
    body: String,
}

fn samples() -> Vec<Sample> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name().unwrap() != "dynamodb-stream.json"
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let event = std::fs::read_to_string(&path).unwrap();
            let json: Value = serde_json::from_str(&event).unwrap();
            Sample {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                path: json["rawPath"]
                    .as_str()
                    .or(json["path"].as_str())
                    .unwrap()
                    .to_owned(),
                // As the function receives it: API Gateway's base64 decoded by lambda_http.
                body: String::from_utf8(
                    flowiq_webhooks::http_event::request_from_json(&event)
                        .unwrap()
                        .body()
                        .to_vec(),
                )
                .unwrap(),
                event,
            }
        })
        .collect()
}

/// What `Receiver::receive` and `DynamoDbEventStore::put_event` compute before the first byte goes
/// to DynamoDB.
fn hot_path(tokens: &WebhookTokens, path: &str, body: &[u8]) -> HashMap<String, AttributeValue> {
    let (platform, token) = http_handler::route(path).unwrap();
    assert!(tokens.verify(token));
    let received = Received::now();
    let event = WebhookEvent::parse(platform, body).unwrap();
    let body = std::str::from_utf8(body).unwrap();
    let item = event_item(
        event,
        body,
        &received,
        Retention(None),
        &flowiq_webhooks::contact_key::ContactKey::local_dev(),
    );
    serde_dynamo::to_item(item).unwrap()
}

/// A store that stores nothing: the handler without I/O.
struct NoStore;

impl EventStore for NoStore {
    async fn put_event(&self, item: EventItem) -> Result<PutOutcome, StoreError> {
        black_box(item);
        Ok(PutOutcome::Stored)
    }

    async fn put_rejected(&self, item: &RejectedItem) -> Result<(), StoreError> {
        black_box(item);
        Ok(())
    }
}

fn benches(c: &mut Criterion) {
    let samples = samples();
    let tokens = WebhookTokens::parse(TOKENS).unwrap();
    assert!(tokens.verify(DEV_TOKEN));

    let mut group = c.benchmark_group("hot_path");
    for sample in &samples {
        group.bench_function(&sample.name, |b| {
            b.iter(|| {
                hot_path(
                    &tokens,
                    black_box(&sample.path),
                    black_box(sample.body.as_bytes()),
                )
            })
        });
    }
    group.finish();

    // Timers on, as in the function: the receiver bounds its writes with a deadline.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let receiver = Receiver::new(
        NoStore,
        WebhookTokens::parse(TOKENS).unwrap(),
        Retention(None),
        flowiq_webhooks::contact_key::ContactKey::local_dev(),
    );
    let mut group = c.benchmark_group("handler");
    for sample in &samples {
        group.bench_function(&sample.name, |b| {
            b.to_async(&runtime).iter_batched(
                || flowiq_webhooks::http_event::request_from_json(&sample.event).unwrap(),
                |request| async {
                    let response = http_handler::handle(&receiver, request).await;
                    assert_eq!(response.status(), 200);
                    response
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = hot;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = benches
}
criterion_main!(hot);
