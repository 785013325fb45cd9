//! The analytics archive's named queries, run on a dataset with known answers: three broadcasts
//! with chosen fates (receipts dropped, redelivered, out of order), a helpdesk day of inbound
//! messages answered after known delays. Everything goes through the real receiver into DynamoDB
//! Local, out of the table's stream and through the Pipe's enrichment (`pipe_enrichment::enrich`)
//! as the archive gets it; the rows are loaded into DuckDB with the archive's schema as
//! template.yaml declares it, and every named query in template.yaml runs there, transpiled from
//! Athena's SQL by sqlglot (tests/analytics/run_queries.py). The expected numbers below are
//! worked out from the dataset by hand, in the comments; a query that returns nothing fails.
//!
//! Needs ANALYTICS_PYTHON (a Python with duckdb and sqlglot), which scripts/test sets up.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use aws_lambda_events::event::dynamodb::Event;
use flowiq_harness::template::{Template, text};
use flowiq_webhooks::pipe_enrichment::enrich;
use flowiq_webhooks::records::Retention;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::*;

const ORG_A: &str = "org-a";
const ORG_B: &str = "org-b";

/// One FlowIQ delivery: its platform and body.
struct Post {
    platform: &'static str,
    body: Value,
}

fn at(base: &str, seconds: i64) -> String {
    let base =
        time::OffsetDateTime::parse(base, &time::format_description::well_known::Rfc3339).unwrap();
    flowiq_webhooks::clock::format_sortable(base + time::Duration::seconds(seconds)).unwrap()
}

fn receipt(org: &str, wamid: &str, event_type: &str, status: &str, timestamp: String) -> Post {
    Post {
        platform: "whatsapp",
        body: json!({"event_type": event_type, "organization_id": org, "whatsapp_message_id": wamid,
            "status": status, "timestamp": timestamp, "whatsapp_id": "27830000001"}),
    }
}

fn sent(org: &str, wamid: &str, at: &str) -> Post {
    receipt(org, wamid, "message_sent", "sent", at.to_owned())
}

fn delivered(org: &str, wamid: &str, at: String) -> Post {
    receipt(org, wamid, "message_delivered", "delivered", at)
}

fn read(org: &str, wamid: &str, at: String) -> Post {
    receipt(org, wamid, "message_read", "read", at)
}

fn failed(org: &str, wamid: &str, kind: &str, at: String) -> Post {
    receipt(org, wamid, "message_failed", kind, at)
}

fn sent_message(org: &str, wamid: &str, contact: &str, broadcast: Option<&str>, at: &str) -> Post {
    Post {
        platform: "whatsapp",
        body: json!({"event_type": "sent_message", "organization_id": org,
            "whatsapp_message_id": wamid, "whatsapp_id": "27830000001", "contact_id": contact,
            "message": "Spring sale: 20% off until Sunday", "sender_type": if broadcast.is_some() { "broadcast" } else { "human-whatsapp" },
            "broadcast_id": broadcast, "created_at": at, "timestamp": at}),
    }
}

/// The dataset, in the order FlowIQ delivers it, and the deliveries it sends twice.
struct Dataset {
    posts: Vec<Post>,
    /// Messages whose archive rows Firehose delivers twice (it delivers at least once).
    archived_twice: Vec<String>,
}

fn dataset() -> Dataset {
    let mut posts = Vec::new();
    let mut archived_twice = Vec::new();

    // Broadcast b-1, Tuesday 2026-03-03 (org-a), 200 messages, one a second from 10:00:
    //   0..120 read: delivered after 2 s, read after 60 s (300 s for i % 5 == 4); the
    //     delivered receipt of 0..10 and the sent receipt of 10..15 never arrive; 20..30's read
    //     receipt is delivered twice; 40..60's receipts arrive in reverse order;
    //   120..160 delivered after 10 s; 160..180 failed; 180..190 undelivered;
    //   190..200 sent and nothing after.
    for i in 0..200 {
        let wamid = format!("wamid.b1-{i:03}");
        let t0 = at("2026-03-03T10:00:00Z", i);
        let contact = format!("bc-{i:03}");
        posts.push(sent_message(ORG_A, &wamid, &contact, Some("b-1"), &t0));
        let mut receipts = Vec::new();
        match i {
            0..120 => {
                if !(10..15).contains(&i) {
                    receipts.push(sent(ORG_A, &wamid, &t0));
                }
                if i >= 10 {
                    receipts.push(delivered(ORG_A, &wamid, at(&t0, 2)));
                }
                let delay = if i % 5 == 4 { 300 } else { 60 };
                receipts.push(read(ORG_A, &wamid, at(&t0, delay)));
                if (20..30).contains(&i) {
                    receipts.push(read(ORG_A, &wamid, at(&t0, delay)));
                }
            }
            120..160 => {
                receipts.push(sent(ORG_A, &wamid, &t0));
                receipts.push(delivered(ORG_A, &wamid, at(&t0, 10)));
            }
            160..190 => {
                let kind = if i < 180 { "failed" } else { "undelivered" };
                receipts.push(sent(ORG_A, &wamid, &t0));
                receipts.push(failed(ORG_A, &wamid, kind, at(&t0, 5)));
            }
            _ => receipts.push(sent(ORG_A, &wamid, &t0)),
        }
        if (40..60).contains(&i) {
            receipts.reverse();
        }
        if (30..40).contains(&i) {
            archived_twice.push(wamid);
        }
        posts.extend(receipts);
    }

    // Broadcast b-2, 2026-03-04 (org-a), 150 messages from 09:00: all sent, delivered after 3 s
    //   but 140..150 (failed after 4 s); 0..100 read after 120 s; 130..140 drew a warning
    //   (after 1 s) before their delivery.
    for i in 0..150 {
        let wamid = format!("wamid.b2-{i:03}");
        let t0 = at("2026-03-04T09:00:00Z", i);
        posts.push(sent_message(
            ORG_A,
            &wamid,
            &format!("bc-{i:03}"),
            Some("b-2"),
            &t0,
        ));
        posts.push(sent(ORG_A, &wamid, &t0));
        if (130..140).contains(&i) {
            posts.push(failed(ORG_A, &wamid, "warning", at(&t0, 1)));
        }
        if i < 140 {
            posts.push(delivered(ORG_A, &wamid, at(&t0, 3)));
        } else {
            posts.push(failed(ORG_A, &wamid, "failed", at(&t0, 4)));
        }
        if i < 100 {
            posts.push(read(ORG_A, &wamid, at(&t0, 120)));
        }
    }

    // Broadcast b-3, 2026-03-04 (org-b), 100 messages from 12:00: all sent; 0..80 delivered
    //   after 4 s, 0..50 of them read after 600 s; 80..90 undelivered; 90..95 delivered only
    //   after 30 hours; 95..100 nothing after sent.
    for i in 0..100 {
        let wamid = format!("wamid.b3-{i:03}");
        let t0 = at("2026-03-04T12:00:00Z", i);
        posts.push(sent_message(
            ORG_B,
            &wamid,
            &format!("bc-{i:03}"),
            Some("b-3"),
            &t0,
        ));
        posts.push(sent(ORG_B, &wamid, &t0));
        match i {
            0..80 => posts.push(delivered(ORG_B, &wamid, at(&t0, 4))),
            80..90 => posts.push(failed(ORG_B, &wamid, "undelivered", at(&t0, 6))),
            90..95 => posts.push(delivered(ORG_B, &wamid, at(&t0, 30 * 3600))),
            _ => {}
        }
        if i < 50 {
            posts.push(read(ORG_B, &wamid, at(&t0, 600)));
        }
    }

    // Helpdesk, 2026-03-05 (org-a, WhatsApp): contact k (1..=20) writes at 08:00 + k × 10 min:
    //   text for k <= 12, image 13..=16, location 17..=18, audio 19..=20; k <= 5 write a second
    //   text 10 s later (the same turn). An agent answers k <= 10 after 60 s, 11..=18 after
    //   300 s (counted from the turn's first message); 19 and 20 get no answer. Contact 1 writes
    //   again 30 min after its answer: a new turn, unanswered. Each answer is sent, delivered
    //   (1 s) and read (30 s).
    for k in 1..=20i64 {
        let contact = format!("c-{k:02}");
        let t = at("2026-03-05T08:00:00Z", k * 600);
        let kind = match k {
            1..=12 => "text",
            13..=16 => "image",
            17..=18 => "location",
            _ => "audio",
        };
        let inbound = |n: u32, when: &str, kind: &str| Post {
            platform: "whatsapp",
            body: json!({"event_type": "message_received", "organization_id": ORG_A,
                "whatsapp_message_id": format!("wamid.in-{k:02}-{n}"), "whatsapp_id": "27830000002",
                "contact_id": contact, "message_type": kind, "message": "where is my order?",
                "timestamp": when}),
        };
        posts.push(inbound(1, &t, kind));
        if k <= 5 {
            posts.push(inbound(2, &at(&t, 10), "text"));
        }
        let delay = match k {
            1..=10 => Some(60),
            11..=18 => Some(300),
            _ => None,
        };
        if let Some(delay) = delay {
            let wamid = format!("wamid.reply-{k:02}");
            let answered = at(&t, delay);
            posts.push(sent_message(ORG_A, &wamid, &contact, None, &answered));
            posts.push(sent(ORG_A, &wamid, &answered));
            posts.push(delivered(ORG_A, &wamid, at(&answered, 1)));
            posts.push(read(ORG_A, &wamid, at(&answered, 30)));
        }
        if k == 1 {
            posts.push(inbound(3, &at(&t, 60 + 1800), "text"));
        }
    }

    // Web chat, 2026-03-05 (org-b): visitor w (1..=5) writes at 14:00 + w min; the bot answers
    //   5 s later.
    for w in 1..=5i64 {
        let contact = format!("w-{w}");
        let t = at("2026-03-05T14:00:00Z", w * 60);
        posts.push(Post {
            platform: "web",
            body: json!({"event_type": "message_received", "sender_type": "user-web",
                "id": format!("in-{w}"), "organization_id": ORG_B, "contact_id": contact,
                "message": format!("question {w}"), "created_at": t, "timestamp": t}),
        });
        let answered = at(&t, 5);
        posts.push(Post {
            platform: "web",
            body: json!({"event_type": "sent_message", "sender_type": "bot-web",
                "id": format!("out-{w}"), "organization_id": ORG_B, "contact_id": contact,
                "message": format!("answer {w}"), "created_at": answered, "timestamp": answered}),
        });
    }
    Dataset {
        posts,
        archived_twice,
    }
}

/// ANALYTICS_PYTHON, or a failure that says how to get it.
fn analytics_python() -> String {
    std::env::var("ANALYTICS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "ANALYTICS_PYTHON is not set: the analytics queries run on DuckDB with sqlglot. Run \
             scripts/test, or: bash -c 'source scripts/lib.sh && ensure_analytics_python' and \
             ANALYTICS_PYTHON=.local/venv-analytics/bin/python"
        )
    })
}

/// What run_queries.py prints for one query: column names and rows.
#[derive(Debug, serde::Deserialize)]
struct QueryResult {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl QueryResult {
    /// The rows as `column -> value` maps, with dates and numbers as text for comparison.
    fn records(&self) -> Vec<BTreeMap<&str, String>> {
        let records = self.rows.iter().map(|row| {
            let cells = self.columns.iter().zip(row);
            cells.map(|(c, v)| (c.as_str(), cell(v))).collect()
        });
        records.collect()
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        Value::Number(n) => match n.as_f64() {
            // 60.0 and 60 are the same number.
            Some(f) if f.fract() == 0.0 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Expected rows: `column=value` pairs, one row per line; each row must equal the query's row at
/// the same position, in every listed column, and there must be as many rows.
fn assert_rows(name: &str, result: &QueryResult, expected: &str) {
    let records = result.records();
    let expected: Vec<&str> = expected.trim().lines().map(str::trim).collect();
    assert!(!records.is_empty(), "{name} returned nothing");
    assert_eq!(records.len(), expected.len(), "{name}: {:#?}", records);
    for (record, line) in records.iter().zip(expected) {
        for pair in line.split_whitespace() {
            let (column, value) = pair.split_once('=').unwrap();
            let actual = record
                .get(column)
                .unwrap_or_else(|| panic!("{name} has no {column}"));
            assert_eq!(actual, value, "{name}, {column} of {record:?}");
        }
    }
}

#[tokio::test]
async fn every_named_query_gives_the_known_answers_of_the_dataset() {
    let python = analytics_python();
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let dataset = dataset();

    // Through the real receiver, eight at a time: the order they are stored in does not matter,
    // the queries order events by their own times.
    let answers: Vec<Answer> = futures::stream::iter(dataset.posts.iter())
        .map(|post| {
            send(
                &receiver,
                delivery(post.platform, DEV_TOKEN, &post.body.to_string()),
            )
        })
        .buffered(8)
        .collect()
        .await;
    let mut outcomes = BTreeMap::new();
    for answer in &answers {
        *outcomes
            .entry(answer.json["status"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    // 10 read receipts of b-1 were delivered twice.
    let posted = dataset.posts.len();
    assert_eq!(outcomes["duplicate"], 10, "{outcomes:?}");
    assert_eq!(outcomes["stored"], posted - 10, "{outcomes:?}");

    // Out of the stream, through the Pipe's filter (INSERTs of event items) and enrichment.
    let event: Event = serde_json::from_value(read_stream_as_lambda_event(&table).await).unwrap();
    let inserts: Vec<_> = event
        .records
        .into_iter()
        .filter(|r| r.event_name == "INSERT")
        .collect();
    let details = enrich(&inserts).expect("every stored event enriches");
    assert_eq!(details.len(), posted - 10);

    // The archive's rows: each detail with its arrival day (Firehose's prefix: the day it got
    // it, here the day the receiver stored it), those of b-1's 30..40 twice.
    let directory = tempdir();
    let rows_path = directory.join("rows.jsonl");
    let mut rows = String::new();
    let mut days = Vec::new();
    for detail in &details {
        let mut row: Value = serde_json::from_str(&detail.to_json()).unwrap();
        let dt = detail.received_at[..10].to_owned();
        row["dt"] = dt.clone().into();
        days.push(dt);
        let line = format!("{row}\n");
        rows.push_str(&line);
        let twice = detail.whatsapp_message_id.as_ref();
        if twice.is_some_and(|w| dataset.archived_twice.contains(w)) {
            rows.push_str(&line);
        }
    }
    std::fs::write(&rows_path, rows).unwrap();
    days.sort();

    // The schema and the queries, as template.yaml declares them (personal data off).
    let stack = Template::repository()
        .deploy(&[("EnableAnalyticsArchive", "true")])
        .unwrap();
    let table_input = &stack.properties("AnalyticsEventsTable")["TableInput"];
    let columns: Vec<(String, String)> = table_input["StorageDescriptor"]["Columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (text(&c["Name"]).unwrap(), text(&c["Type"]).unwrap()))
        .collect();
    assert!(!columns.iter().any(|(name, _)| name == "text"));
    let queries: BTreeMap<String, String> = stack
        .of_type("AWS::Athena::NamedQuery")
        .map(|(_, q)| {
            let q = &q["Properties"];
            (text(&q["Name"]).unwrap(), text(&q["QueryString"]).unwrap())
        })
        .collect();
    assert_eq!(queries.len(), 6);

    let spec = json!({
        "columns": columns,
        "rows": rows_path,
        "queries": queries,
        "parameters": [days.first().unwrap(), days.last().unwrap()],
        "parquet": std::env::var("ANALYTICS_PARQUET_DIR").ok(),
    });
    let spec_path = directory.join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/analytics/run_queries.py"
    );
    let output = Command::new(&python)
        .arg(script)
        .arg(&spec_path)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (ANALYTICS_PYTHON)"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "run_queries.py failed: {stderr}");
    let mut printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    if let Ok(parquet) = std::env::var("ANALYTICS_PARQUET_DIR") {
        // scripts/analytics-scan-estimate reads these (docs/analytics.md: the example results
        // and the bytes scanned).
        let scan = printed["scan"].take();
        std::fs::write(format!("{parquet}/scan.json"), scan.to_string()).unwrap();
        printed = printed["results"].take();
        std::fs::write(format!("{parquet}/results.json"), printed.to_string()).unwrap();
    }
    let results: BTreeMap<String, QueryResult> = serde_json::from_value(printed).unwrap();

    // b-1: sent = any of sent/delivered/read (200); delivered = delivered or read (120 + 40);
    // failed = failed or undelivered (30). Sent -> delivered: 110 at 2 s (10..15 counted from
    // the sent_message, their sent receipt lost), 40 at 10 s. Sent -> read: 96 at 60 s, 24 at
    // 300 s. b-2: 140 delivered at 3 s, 100 read at 120 s. b-3: 80 delivered at 4 s and 5 after
    // 30 h (under 10 %: the p90 stays 4 s), 50 read at 600 s.
    assert_rows(
        "broadcast-funnel",
        &results["broadcast-funnel"],
        "
        broadcast_id=b-1 messages=200 sent=200 delivered=160 read=120 failed=30 delivery_rate=0.8 read_rate=0.75 failure_rate=0.15 median_seconds_to_delivered=2 p90_seconds_to_delivered=10 median_seconds_to_read=60 p90_seconds_to_read=300
        broadcast_id=b-2 messages=150 sent=150 delivered=140 read=100 failed=10 delivery_rate=0.9333 read_rate=0.7143 failure_rate=0.0667 median_seconds_to_delivered=3 p90_seconds_to_delivered=3 median_seconds_to_read=120 p90_seconds_to_read=120
        broadcast_id=b-3 messages=100 sent=100 delivered=85 read=50 failed=10 delivery_rate=0.85 read_rate=0.5882 failure_rate=0.1 median_seconds_to_delivered=4 p90_seconds_to_delivered=4 median_seconds_to_read=600 p90_seconds_to_read=600
        ",
    );
    // Per day of a message's first event; 2026-03-05 holds the 18 helpdesk answers (web
    // messages have no WhatsApp id and are not in it).
    assert_rows(
        "daily-delivery",
        &results["daily-delivery"],
        "
        day=2026-03-03 organization_id=org-a messages=200 delivered=160 read=120 failed=30 delivery_rate=0.8 read_rate=0.75 failure_rate=0.15
        day=2026-03-04 organization_id=org-a messages=150 delivered=140 read=100 failed=10 delivery_rate=0.9333 read_rate=0.7143 failure_rate=0.0667
        day=2026-03-04 organization_id=org-b messages=100 delivered=85 read=50 failed=10 delivery_rate=0.85 read_rate=0.5882 failure_rate=0.1
        day=2026-03-05 organization_id=org-a messages=18 delivered=18 read=18 failed=0 delivery_rate=1 read_rate=1 failure_rate=0
        ",
    );
    assert_rows(
        "failures-by-kind",
        &results["failures-by-kind"],
        "
        day=2026-03-03 organization_id=org-a failure=failed messages=20 receipts=20
        day=2026-03-03 organization_id=org-a failure=undelivered messages=10 receipts=10
        day=2026-03-04 organization_id=org-a failure=failed messages=10 receipts=10
        day=2026-03-04 organization_id=org-a failure=warning messages=10 receipts=10
        day=2026-03-04 organization_id=org-b failure=undelivered messages=10 receipts=10
        ",
    );
    // b-1: 5 without sent (10..15), 10 read without delivered (0..10), 10 stuck (190..200):
    // 175 / 200 complete. b-3: 95..100 never moved on, 90..95 only after 30 h: 10 stuck.
    assert_rows(
        "lost-receipts",
        &results["lost-receipts"],
        "
        day=2026-03-03 organization_id=org-a messages=200 missing_sent=5 missing_delivered=10 stuck_in_sent=10 complete_rate=0.875
        day=2026-03-04 organization_id=org-a messages=150 missing_sent=0 missing_delivered=0 stuck_in_sent=0 complete_rate=1
        day=2026-03-04 organization_id=org-b messages=100 missing_sent=0 missing_delivered=0 stuck_in_sent=10 complete_rate=0.9
        day=2026-03-05 organization_id=org-a messages=18 missing_sent=0 missing_delivered=0 stuck_in_sent=0 complete_rate=1
        ",
    );
    // Text: 12 first messages, 5 second ones, contact 1's later one.
    assert_rows(
        "inbound-volume",
        &results["inbound-volume"],
        "
        day=2026-03-05 platform=web message_type=null messages=5
        day=2026-03-05 platform=whatsapp message_type=audio messages=2
        day=2026-03-05 platform=whatsapp message_type=image messages=4
        day=2026-03-05 platform=whatsapp message_type=location messages=2
        day=2026-03-05 platform=whatsapp message_type=text messages=18
        ",
    );
    // org-a: 20 first turns and contact 1's second (unanswered); 10 answered in 60 s, 8 in
    // 300 s. org-b: 5 web turns answered in 5 s. Broadcasts are not answers.
    assert_rows(
        "first-response-time",
        &results["first-response-time"],
        "
        day=2026-03-05 organization_id=org-a customer_turns=21 answered=18 median_seconds=60 p90_seconds=300
        day=2026-03-05 organization_id=org-b customer_turns=5 answered=5 median_seconds=5 p90_seconds=5
        ",
    );
    std::fs::remove_dir_all(&directory).ok();
}

fn tempdir() -> PathBuf {
    let directory = std::env::temp_dir().join(format!(
        "flowiq-analytics-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&directory).unwrap();
    directory
}
