//! The logs of a full run (every sample, duplicates, bad bodies, strangers, wrong routes, an
//! outage) at the default level: one JSON object per line with the documented fields, every
//! outcome's line a valid EMF document with the metrics contract, and never a token, phone number
//! or text.
//!
//! Its own test binary: the production subscriber is installed process-wide, as in the function
//! (a thread-local one can miss events whose callsites other test threads registered first).

#[path = "integration/support/mod.rs"]
#[allow(dead_code, unused_imports)] // shared with tests/integration; this binary uses part of it
mod support;

use flowiq_harness::captured_writer::CapturedWriter;

use flowiq_webhooks::http_handler;
use flowiq_webhooks::metrics::{DEFAULT_NAMESPACE, EVENT_TYPES, MetricsConfig, OUTCOMES};
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::spill::memory::InMemorySpill;
use flowiq_webhooks::store::memory::{InMemoryEventStore, StoreOperation};
use flowiq_webhooks::telemetry;
use flowiq_webhooks::webhook_event::MAX_BODY_BYTES;
use serde_json::{Value, json};

use support::*;

#[tokio::test]
async fn logs_are_json_with_outcomes_and_leak_no_secrets_or_personal_data() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let captured = CapturedWriter::default();
    let writer = captured.clone();
    let metrics = MetricsConfig::from_value(None);
    tracing::subscriber::set_global_default(telemetry::subscriber(move || writer.clone(), metrics))
        .unwrap();

    let mut secrets = vec![
        DEV_TOKEN.to_owned(),
        OTHER_TOKEN.to_owned(),
        "wrong-token-but-long-enough-0123456789".to_owned(),
        // The receiver's contact key (table.receiver uses the development key).
        flowiq_webhooks::contact_key::LOCAL_DEV_CONTACT_KEY.to_owned(),
    ];
    for name in flowiq_harness::samples::delivery_sample_files() {
        let event = sample(&name);
        let payload = sample_payload(&name);
        for field in ["whatsapp_id", "message"] {
            if let Some(text) = payload[field].as_str() {
                secrets.push(text.to_owned());
            }
        }
        assert_eq!(send(&receiver, request(&event)).await.status, 200);
        assert_eq!(send(&receiver, request(&event)).await.status, 200);
        let body = sample_body(&event);
        assert_eq!(
            send(&receiver, delivery("whatsapp", &secrets[2], &body))
                .await
                .status,
            401
        );
    }
    // A rejected body whose error message quotes a phone number and a message text.
    let quoted = r#"{"event_type":"sent_message","organization_id":"o","whatsapp_message_id":"w","timestamp":"2026-03-07T00:00:00Z","whatsapp_id":"27839999999","message":"my private text","read_receipt_received":"27839999999 my private text"}"#;
    let answer = send(&receiver, delivery("whatsapp", DEV_TOKEN, quoted)).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.json["message"]
            .as_str()
            .unwrap()
            .contains("27839999999"),
        "the sender is told"
    );
    secrets.extend(["27839999999".to_owned(), "my private text".to_owned()]);
    // Wrong routes and methods (the token in the path is not logged either), an oversized body.
    let path = format!("/webhooks/sms/{DEV_TOKEN}");
    assert_eq!(
        send(&receiver, v2_request("POST", &path, Some("{}")))
            .await
            .status,
        404
    );
    let path = format!("/webhooks/whatsapp/{DEV_TOKEN}");
    assert_eq!(
        send(&receiver, v2_request("GET", &path, None)).await.status,
        405
    );
    let large = "x".repeat(MAX_BODY_BYTES + 1);
    assert_eq!(
        send(&receiver, delivery("whatsapp", DEV_TOKEN, &large))
            .await
            .status,
        413
    );
    // DynamoDB unavailable: queued in the spill, then the spill unavailable too.
    let outage =
        flowiq_harness::test_table::receiver(InMemoryEventStore::default(), Retention(None))
            .with_spill(InMemorySpill::default());
    let event = sample("whatsapp-message-received.json");
    outage.store().fail_next(StoreOperation::PutEvent);
    let queued = http_handler::handle(&outage, request(&event)).await;
    assert_eq!(queued.status(), 200);
    outage.store().fail_next(StoreOperation::PutEvent);
    outage.spill().set_failing(true);
    let unavailable = http_handler::handle(&outage, request(&event)).await;
    assert_eq!(unavailable.status(), 503);

    let text = captured.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let stored: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "stored").collect();
    assert!(!stored.is_empty());
    for line in &stored {
        for field in [
            "request_id",
            "platform",
            "event_type",
            "event_id",
            "outcome",
            "latency_ms",
            "status",
        ] {
            assert!(!line[field].is_null(), "{field} missing in {line}");
        }
    }
    let rejected = lines.iter().find(|l| l["outcome"] == "rejected").unwrap();
    assert_eq!(
        rejected["reason"],
        "sent_message event: field `read_receipt_received` is missing or invalid"
    );
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the logs contain {secret:?}"
        );
    }

    // Every outcome's line is also an EMF document with the metrics contract, in the same line.
    let deliveries: Vec<&Value> = lines.iter().filter(|l| !l["outcome"].is_null()).collect();
    assert!(deliveries.len() >= 40, "one line per delivery");
    let mut outcomes = std::collections::BTreeSet::new();
    for line in &deliveries {
        if let Err(problem) = contract_problem(line) {
            panic!("not the metrics contract: {problem}: {line}");
        }
        outcomes.insert(line["Outcome"].as_str().unwrap());
        // And the check sees any EMF member of this very line missing or broken.
        for (what, damage) in DAMAGES {
            let mut damaged = (*line).clone();
            damage(damaged.as_object_mut().unwrap());
            if damaged != **line {
                assert!(
                    contract_problem(&damaged).is_err(),
                    "{what} passes: {damaged}"
                );
            }
        }
    }
    assert_eq!(outcomes, OUTCOMES.into_iter().collect(), "every outcome");
    let unknown = deliveries
        .iter()
        .find(|l| l["event_type"] == "contact_updated")
        .expect("the unknown-type sample was delivered");
    assert_eq!(
        unknown["EventType"], "other",
        "unknown types fold into `other`"
    );
    assert_eq!(
        text.lines().count(),
        lines.len(),
        "one JSON object per line"
    );
}

/// The CloudWatch Embedded Metric Format specification's rules for one document (limits from the
/// specification: 30 dimensions per set, 100 metrics per directive, 1 KB dimension values).
fn emf_problem(line: &Value) -> Result<(), String> {
    let root = line.as_object().ok_or("not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no `_aws` object")?;
    aws.get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("`_aws.Timestamp` is not a number of milliseconds")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("`_aws.CloudWatchMetrics` is not a non-empty array")?;
    for directive in directives {
        let namespace = directive["Namespace"].as_str().ok_or("no Namespace")?;
        if namespace.is_empty() || namespace.len() > 255 {
            return Err(format!("Namespace {namespace:?} is not 1-255 characters"));
        }
        for set in directive["Dimensions"]
            .as_array()
            .ok_or("no Dimensions array")?
        {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err("more than 30 dimensions in a set".into());
            }
            for key in set {
                let key = key.as_str().ok_or("a dimension key is not a string")?;
                let value = root.get(key).and_then(Value::as_str);
                match value {
                    Some(v) if !v.is_empty() && v.len() <= 1024 => {}
                    _ => return Err(format!("dimension {key} is not a top-level string member")),
                }
            }
        }
        let metrics = directive["Metrics"].as_array().ok_or("no Metrics array")?;
        if metrics.is_empty() || metrics.len() > 100 {
            return Err("Metrics must have 1 to 100 entries".into());
        }
        for metric in metrics {
            let name = metric["Name"].as_str().ok_or("a metric has no Name")?;
            if !root.get(name).is_some_and(Value::is_number) {
                return Err(format!("metric {name} is not a top-level number"));
            }
            let unit = metric["Unit"].as_str().unwrap_or("None");
            if !["Count", "Milliseconds", "None"].contains(&unit) {
                return Err(format!("unexpected unit {unit}"));
            }
        }
    }
    Ok(())
}

/// Outcomes whose delivery never reached the store: no `StoreLatency` (docs/operations.md#metrics).
const NOT_STORED: [&str; 3] = ["unauthorized", "not_found", "method_not_allowed"];

/// The function's metrics contract for one delivery line (docs/operations.md#metrics, what the
/// dashboard charts): `Deliveries` by `Outcome` and by `EventType`, `StoreLatency` when the store
/// was called, in the default namespace.
fn contract_problem(line: &Value) -> Result<(), String> {
    emf_problem(line)?;
    let outcome = line["outcome"].as_str().ok_or("no `outcome`")?;
    if line["Outcome"] != outcome || !OUTCOMES.contains(&outcome) {
        return Err(format!("Outcome is not {outcome:?}, one of {OUTCOMES:?}"));
    }
    let event_type = match line["event_type"].as_str() {
        None => "none",
        Some(name) if EVENT_TYPES.contains(&name) => name,
        Some(_) => "other",
    };
    if line["EventType"] != event_type {
        return Err(format!("EventType is not {event_type:?}"));
    }
    if line["Deliveries"] != 1 {
        return Err("Deliveries is not 1".into());
    }
    let mut expected = vec![json!({"Namespace": DEFAULT_NAMESPACE,
        "Dimensions": [["Outcome"], ["EventType"]], "Metrics": [{"Name": "Deliveries", "Unit": "Count"}]})];
    let stored = !NOT_STORED.contains(&outcome);
    if stored {
        expected.push(json!({"Namespace": DEFAULT_NAMESPACE,
            "Dimensions": [[]], "Metrics": [{"Name": "StoreLatency", "Unit": "Milliseconds"}]}));
    }
    let directives = line["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    if directives.len() != expected.len() || !expected.iter().all(|d| directives.contains(d)) {
        return Err(format!("the directives are not {expected:?}"));
    }
    if line.get("StoreLatency").is_some() != stored {
        return Err(format!("StoreLatency is there only when stored ({stored})"));
    }
    Ok(())
}

/// Ways to break a line's EMF members; the contract check must refuse each.
type Damage = fn(&mut serde_json::Map<String, Value>);
const DAMAGES: [(&str, Damage); 13] = [
    ("no _aws", |l| {
        l.remove("_aws");
    }),
    ("no Timestamp", |l| {
        l["_aws"].as_object_mut().unwrap().remove("Timestamp");
    }),
    ("a directive less", |l| {
        l["_aws"]["CloudWatchMetrics"].as_array_mut().unwrap().pop();
    }),
    ("another namespace", |l| {
        l["_aws"]["CloudWatchMetrics"][0]["Namespace"] = "Other".into()
    }),
    ("a dimension less", |l| {
        l["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([["Outcome"]])
    }),
    ("no Outcome", |l| {
        l.remove("Outcome");
    }),
    ("another Outcome", |l| l["Outcome"] = "saved".into()),
    ("no EventType", |l| {
        l.remove("EventType");
    }),
    ("another EventType", |l| l["EventType"] = "calls".into()),
    ("no Deliveries", |l| {
        l.remove("Deliveries");
    }),
    ("Deliveries as text", |l| l["Deliveries"] = "1".into()),
    ("no StoreLatency", |l| {
        l.remove("StoreLatency");
    }),
    ("StoreLatency as text", |l| {
        l.insert("StoreLatency".into(), "1".into());
    }),
];
