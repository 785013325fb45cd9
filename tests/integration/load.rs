//! The load scenario: deliveries over many messages and contacts, 30 % duplicates, shuffled, 32
//! concurrent senders, through the real handler into DynamoDB Local. Afterwards every unique event
//! is stored exactly once, every message equals its in-memory merge, and nothing got a 5xx.
//!
//! CI runs 2,000 deliveries; the documented run (docs/reliability.md) uses 10,000:
//! `LOAD_DELIVERIES=10000 cargo test --release --test integration load -- --nocapture`

use std::time::Instant;

use flowiq_webhooks::records::Retention;
use futures::StreamExt;

use crate::support::scenario::{generate, verify};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_with_duplicates_in_any_order_are_stored_exactly_once() {
    let total: usize = std::env::var("LOAD_DELIVERIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let scenario = generate(42, total, 0.30);
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));

    let started = Instant::now();
    let answers: Vec<(u16, String)> = futures::stream::iter(&scenario.deliveries)
        .map(|body| async {
            let answer = send(&receiver, delivery("whatsapp", DEV_TOKEN, body)).await;
            (
                answer.status,
                answer.json["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let by_status = |status: u16| answers.iter().filter(|(s, _)| *s == status).count();
    assert_eq!(
        by_status(200),
        total,
        "every delivery is acknowledged, none gets a 5xx"
    );
    let stored = answers
        .iter()
        .filter(|(_, outcome)| outcome == "stored")
        .count();
    assert_eq!(
        stored,
        scenario.unique.len(),
        "each unique event is answered `stored` exactly once"
    );
    let verified = verify(&table, &scenario).await;
    println!(
        "load: {total} deliveries ({} unique events, {} duplicates) over {} messages, 32 senders: \
         {:.1} s, {:.0} deliveries/s, 0 errors; table: {} events, {} messages, 0 downgrades",
        scenario.unique.len(),
        total - scenario.unique.len(),
        verified.messages,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        verified.events,
        verified.messages,
    );
}
