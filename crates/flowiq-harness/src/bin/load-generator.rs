//! A bounded load generator for the local function (docs/performance.md, run by scripts/bench):
//! POSTs FlowIQ deliveries built from the sample events to `cargo lambda watch` (loopback only)
//! at 1, 8 and 32 concurrent senders, then checks in DynamoDB Local that every event it sent is
//! stored (0 lost).
//!
//! Each level sends `--requests` deliveries (or stops at `--max-seconds`): new events (a
//! `bench_nonce` field and, for messages, a new WhatsApp message id), every fifth one a
//! redelivery of an earlier one. Prints one line per level and `RESULT {json}` last.
//!
//! ```sh
//! scripts/run-local   # or: cargo lambda watch with its environment
//! cargo run --release -p flowiq-harness --bin load-generator -- --url http://127.0.0.1:9000/lambda-url/flowiq-webhook \
//!     --dynamodb http://127.0.0.1:8000 --table flowiq-events
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use clap::Parser;
use flowiq_harness::stats;
use flowiq_webhooks::keys;
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::webhook_event::WebhookEvent;
use serde_json::{Value, json};

const DEV_TOKEN: &str = "local-dev-token-not-a-secret-0123456789";

#[derive(Parser)]
#[command(about = "Bounded local load against cargo lambda watch (docs/performance.md)")]
struct Cli {
    /// The function's base URL under `cargo lambda watch` (loopback only).
    #[arg(
        long,
        default_value = "http://127.0.0.1:9000/lambda-url/flowiq-webhook"
    )]
    url: String,
    /// DynamoDB Local, to check that every event is stored.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    dynamodb: String,
    #[arg(long, default_value = "flowiq-events")]
    table: String,
    /// Concurrent senders, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    concurrency: Vec<usize>,
    /// Deliveries per run.
    #[arg(long, default_value_t = 1_000)]
    requests: usize,
    /// A run stops sending after this long.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// Sample events to build deliveries from (API Gateway events, as in events/).
    #[arg(long = "event")]
    events: Vec<PathBuf>,
}

/// One delivery to send: the path, the body, and the key its event is stored under.
struct Delivery {
    path: String,
    body: String,
    key: (String, String),
}

#[derive(Default)]
struct Outcome {
    latencies_ms: Vec<f64>,
    statuses: BTreeMap<String, usize>,
    errors: usize,
    /// Keys of the events that were answered 200 (stored or duplicate).
    acknowledged: Vec<(String, String)>,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(err) = run(cli).await {
        eprintln!("load-generator: {err}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let url = reqwest::Url::parse(&cli.url).map_err(|e| format!("--url: {e}"))?;
    if !matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
        return Err("--url must be on loopback: this tool only loads a local function".into());
    }
    let samples = load_samples(&cli.events)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| e.to_string())?;
    let dynamodb = flowiq_harness::test_table::test_client(&cli.dynamodb);

    // The function compiles or starts on the first request: not part of any run.
    let warmup = deliveries(&samples, "warmup", 1)?;
    send_all(
        &http,
        &cli.url,
        Arc::new(warmup),
        1,
        Duration::from_secs(600),
    )
    .await;

    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let mut results = Vec::new();
    for &concurrency in &cli.concurrency {
        let list = deliveries(&samples, &format!("{run_id}-c{concurrency}"), cli.requests)?;
        results.push(one_run(&cli, &http, &dynamodb, list, concurrency).await?);
    }
    println!("RESULT {}", json!({ "mode": "load", "runs": results }));
    Ok(())
}

/// `list` sent by `concurrency` senders; then what was acknowledged but is not in the table.
async fn one_run(
    cli: &Cli,
    http: &reqwest::Client,
    dynamodb: &Client,
    list: Vec<Delivery>,
    concurrency: usize,
) -> Result<Value, String> {
    let started = Instant::now();
    let outcome = send_all(
        http,
        &cli.url,
        Arc::new(list),
        concurrency,
        Duration::from_secs(cli.max_seconds),
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let sent = outcome.latencies_ms.len() + outcome.errors;
    let unique_sent: HashSet<_> = outcome.acknowledged.iter().cloned().collect();
    let missing = missing_keys(dynamodb, &cli.table, &unique_sent).await?;
    let mut sorted = outcome.latencies_ms.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!(
        "{concurrency:>3} senders: {sent} deliveries in {elapsed:.1} s = {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, statuses {:?}, lost {missing}",
        sent as f64 / elapsed,
        percentile(&sorted, 50.0),
        percentile(&sorted, 99.0),
        outcome.statuses
    );
    Ok(json!({
        "concurrency": concurrency,
        "sent": sent,
        "seconds": elapsed,
        "deliveries_per_s": sent as f64 / elapsed,
        "p50_ms": percentile(&sorted, 50.0),
        "p99_ms": percentile(&sorted, 99.0),
        "max_ms": sorted.last().copied().unwrap_or(f64::NAN),
        "statuses": outcome.statuses,
        "errors": outcome.errors + outcome.statuses.iter().filter(|(s, _)| !s.starts_with("200")).map(|(_, n)| n).sum::<usize>(),
        "acknowledged_events": unique_sent.len(),
        "lost": missing,
    }))
}

fn load_samples(paths: &[PathBuf]) -> Result<Vec<(Platform, Value)>, String> {
    if paths.is_empty() {
        return Err("give at least one --event".into());
    }
    paths
        .iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let event: Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let raw_path = event["rawPath"]
                .as_str()
                .or(event["path"].as_str())
                .ok_or_else(|| format!("{}: no path", path.display()))?;
            let (platform, _) = flowiq_webhooks::http_handler::route(raw_path)?;
            let body: Value = serde_json::from_str(event["body"].as_str().unwrap_or("null"))
                .map_err(|e| format!("{}: body: {e}", path.display()))?;
            Ok((platform, body))
        })
        .collect()
}

/// `count` deliveries: new events, every fifth a redelivery of the previous one.
fn deliveries(
    samples: &[(Platform, Value)],
    run: &str,
    count: usize,
) -> Result<Vec<Delivery>, String> {
    let mut out: Vec<Delivery> = Vec::with_capacity(count);
    for i in 0..count {
        if i % 5 == 4 {
            let previous = &out[i - 1];
            out.push(Delivery {
                path: previous.path.clone(),
                body: previous.body.clone(),
                key: previous.key.clone(),
            });
            continue;
        }
        let (platform, payload) = &samples[i % samples.len()];
        let mut payload = payload.clone();
        let nonce = format!("{run}-{i}");
        if let Some(Value::String(wamid)) = payload.get_mut("whatsapp_message_id") {
            wamid.push_str(&format!(".{nonce}"));
        }
        payload["bench_nonce"] = nonce.into();
        let body = payload.to_string();
        let event = WebhookEvent::parse(*platform, body.as_bytes())
            .map_err(|e| format!("a generated body does not parse: {e}"))?;
        let key = keys::event_key(
            event.whatsapp_message_id.as_deref(),
            event.occurred_at.as_deref(),
            &event.event_id,
        );
        out.push(Delivery {
            path: format!("/webhooks/{}/{DEV_TOKEN}", platform.as_str()),
            body,
            key,
        });
    }
    Ok(out)
}

async fn send_all(
    http: &reqwest::Client,
    base: &str,
    list: Arc<Vec<Delivery>>,
    concurrency: usize,
    limit: Duration,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + limit;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, base, list, next) = (
            http.clone(),
            base.to_owned(),
            Arc::clone(&list),
            Arc::clone(&next),
        );
        workers.push(tokio::spawn(async move {
            let mut outcome = Outcome::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= list.len() || Instant::now() > deadline {
                    return outcome;
                }
                let delivery = &list[i];
                let started = Instant::now();
                let answer = http
                    .post(format!("{base}{}", delivery.path))
                    .header("content-type", "application/json")
                    .body(delivery.body.clone())
                    .send()
                    .await;
                match answer {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body: Value = response.json().await.unwrap_or(Value::Null);
                        outcome
                            .latencies_ms
                            .push(started.elapsed().as_secs_f64() * 1000.0);
                        let label = format!("{status} {}", body["status"].as_str().unwrap_or(""));
                        *outcome.statuses.entry(label).or_default() += 1;
                        if status == 200 {
                            outcome.acknowledged.push(delivery.key.clone());
                        }
                    }
                    Err(_) => outcome.errors += 1,
                }
            }
        }));
    }
    let mut total = Outcome::default();
    for worker in workers {
        let outcome = worker.await.expect("a sender panicked");
        total.latencies_ms.extend(outcome.latencies_ms);
        for (status, n) in outcome.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
        total.errors += outcome.errors;
        total.acknowledged.extend(outcome.acknowledged);
    }
    total
}

/// How many of `keys` have no item in the table (consistent reads, 100 at a time).
async fn missing_keys(
    client: &Client,
    table: &str,
    expected: &HashSet<(String, String)>,
) -> Result<usize, String> {
    let mut found = HashSet::new();
    let all: Vec<_> = expected.iter().collect();
    for chunk in all.chunks(100) {
        let mut pending: Vec<HashMap<String, AttributeValue>> = chunk
            .iter()
            .map(|(pk, sk)| {
                HashMap::from([
                    (keys::PK.to_owned(), AttributeValue::S(pk.clone())),
                    (keys::SK.to_owned(), AttributeValue::S(sk.clone())),
                ])
            })
            .collect();
        while !pending.is_empty() {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .projection_expression("pk, sk")
                .build()
                .map_err(|e| e.to_string())?;
            let output = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "BatchGetItem: {}",
                        aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                    )
                })?;
            for item in output
                .responses
                .unwrap_or_default()
                .remove(table)
                .unwrap_or_default()
            {
                if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                    (item.get(keys::PK), item.get(keys::SK))
                {
                    found.insert((pk.clone(), sk.clone()));
                }
            }
            if let Some(mut unprocessed) = output.unprocessed_keys
                && let Some(rest) = unprocessed.remove(table)
            {
                pending = rest.keys;
            }
        }
    }
    Ok(expected.len() - found.len())
}

/// Rounded to hundredths of a millisecond for the report.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    (stats::percentile(sorted, p) * 100.0).round() / 100.0
}
