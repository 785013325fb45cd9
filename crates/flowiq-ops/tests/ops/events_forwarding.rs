//! `flowiq-events forwarding …` against moto's SQS (the forwarding dead-letter queue, holding
//! events as EventBridge puts them there: the whole event, the error in message attributes) and
//! a local HTTP sink (wiremock) standing for the user's endpoint, which fails, then recovers:
//! every event arrives exactly once with its id, in live forwarding's shape (the body is
//! `detail.event`, the id in `X-FlowIQ-Event-Id`), and the endpoint's credential appears in no
//! output and no log line.

use crate::support;
use support::context;

use std::collections::BTreeMap;

use aws_sdk_sqs::types::MessageAttributeValue;
use flowiq_harness::moto_server::MotoServer;
use flowiq_harness::template::Template;
use flowiq_harness::test_table::{TestTable, sdk_config};
use flowiq_ops::events::commands::Context;
use flowiq_ops::events::forwarded_event::EVENT_ID_HEADER;
use flowiq_ops::events::output::Format;
use flowiq_ops::exit_status::ExitStatus;
use flowiq_webhooks::event_detail::{EVENT_SOURCE, EventDetail};
use flowiq_webhooks::records::EventItem;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ORG: &str = "org-forwarding";
/// The endpoint's credential: it must never be printed or logged.
const CREDENTIAL: &str = "fwd-credential-7f3a9c-never-printed";
const TEXT: &str = "Hello from the forwarding test";

/// FlowIQ bodies of three events (one long enough to be stored deflated), in time order.
fn flowiq_bodies() -> Vec<String> {
    let long = "x".repeat(600);
    vec![
        json!({"event_type": "message_received", "whatsapp_message_id": "wamid.f1",
            "organization_id": ORG, "message": TEXT, "message_type": "text",
            "timestamp": "2026-03-07T10:00:01Z", "whatsapp_id": "27830000042", "contact_id": "c-1"})
        .to_string(),
        json!({"event_type": "sent_message", "whatsapp_message_id": "wamid.f2",
            "organization_id": ORG, "message": format!("{TEXT} {long}"), "sender_type": "bot-whatsapp",
            "timestamp": "2026-03-07T10:00:02Z", "whatsapp_id": "27830000042"})
        .to_string(),
        // Odd spacing: what is sent is the JSON value, re-serialised as EventBridge does.
        format!(
            "{{ \"event_type\" : \"message_failed\", \"whatsapp_message_id\":\"wamid.f2\",\
             \"organization_id\":\"{ORG}\",\"status\":\"failed\",\"n\": 1.50,\
             \"timestamp\":\"2026-03-07T10:00:03Z\",\"whatsapp_id\":\"27830000042\"}}"
        ),
    ]
}

/// Stores the bodies and returns each stored event's detail, as the Pipe's enrichment builds it.
async fn store(table: &TestTable) -> Vec<EventDetail> {
    let mut details = Vec::new();
    for body in flowiq_bodies() {
        table.store_delivery(&body).await;
    }
    let queries = context(table).queries;
    for wamid in ["wamid.f1", "wamid.f2"] {
        for item in queries.message_events(wamid).await.unwrap() {
            let item: EventItem = serde_dynamo::from_item(item).unwrap();
            details.push(EventDetail::of(&item).unwrap());
        }
    }
    details.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at));
    assert_eq!(details.len(), 3);
    details
}

/// The EventBridge event the Pipe puts on the bus for `detail` (what the rule's dead-letter
/// queue receives whole).
fn bus_event(detail: &EventDetail) -> String {
    let detail: Value = serde_json::from_str(&detail.to_json()).unwrap();
    json!({"version": "0", "id": format!("eb-{}", detail["event_id"].as_str().unwrap()),
        "detail-type": detail["event_type"], "source": EVENT_SOURCE, "account": "123456789012",
        "time": "2026-03-07T10:00:05Z", "region": "eu-west-1", "resources": [], "detail": detail})
    .to_string()
}

/// Sends `body` to the queue as EventBridge sends a failed event: with the error attributes.
async fn dead_letter(sqs: &aws_sdk_sqs::Client, queue_url: &str, body: &str) {
    let attribute = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .unwrap()
    };
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(body)
        .message_attributes("ERROR_CODE", attribute("SDK_CLIENT_ERROR"))
        .message_attributes(
            "ERROR_MESSAGE",
            attribute("Unable to invoke ApiDestination endpoint: The endpoint responded with 503"),
        )
        .message_attributes("RETRY_ATTEMPTS", attribute("185"))
        .message_attributes(
            "EXHAUSTED_RETRY_CONDITION",
            attribute("MaximumEventAgeInSeconds"),
        )
        .message_attributes(
            "RULE_ARN",
            attribute("arn:aws:events:eu-west-1:123456789012:rule/flowiq-webhooks-forwarding"),
        )
        .send()
        .await
        .unwrap();
}

struct Run {
    status: ExitStatus,
    lines: Vec<Value>,
    text: String,
    logs: String,
}

/// Runs `flowiq-events --json <args>` with `context`, capturing stdout and the log lines.
async fn events(context: &Context, args: &[&str]) -> Run {
    let (status, text, logs) = support::run_events(context, Format::JsonLines, args).await;
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Run {
        status,
        lines,
        text,
        logs,
    }
}

/// What the sink received: event id header -> (body as JSON, credential header) per request.
async fn received(sink: &MockServer) -> Vec<(String, Value, Option<String>)> {
    let requests: Vec<Request> = sink.received_requests().await.unwrap();
    requests
        .iter()
        .map(|r| {
            let header = |name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(header("content-type").as_deref(), Some("application/json"));
            (
                header(EVENT_ID_HEADER).expect("every request has the event id"),
                serde_json::from_slice(&r.body).unwrap(),
                header("x-api-key"),
            )
        })
        .collect()
}

fn credential_file() -> tempfile_path::TempPath {
    tempfile_path::TempPath::with(CREDENTIAL)
}

/// A file for the credential, removed at the end (no extra crate for one file).
mod tempfile_path {
    pub struct TempPath(pub std::path::PathBuf);
    impl TempPath {
        pub fn with(content: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "flowiq-forwarding-credential-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::write(&path, format!("{content}\n")).unwrap();
            TempPath(path)
        }
        pub fn as_str(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[tokio::test]
async fn the_dead_letter_queue_is_listed_then_redriven_each_event_once_after_the_endpoint_recovers()
{
    let table = TestTable::new().await;
    let details = store(&table).await;
    let moto = MotoServer::start();
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&moto.endpoint()));
    let queue_url = sqs
        .create_queue()
        .queue_name("flowiq-forwarding-dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for detail in &details {
        dead_letter(&sqs, &queue_url, &bus_event(detail)).await;
    }
    // Something else in the queue is reported and left there, never sent.
    dead_letter(&sqs, &queue_url, "{\"not\": \"an event\"}").await;
    let context = Context {
        sqs: sqs.clone(),
        ..context(&table)
    };
    let credential = credential_file();
    let sink = MockServer::start().await;
    let url = format!("{}/flowiq", sink.uri());
    let redrive = [
        "forwarding",
        "redrive",
        "--queue-url",
        &queue_url,
        "--to-url",
        &url,
        "--allow-http",
        "--auth-header",
        "x-api-key",
        "--auth-value-file",
        credential.as_str(),
        "--max-attempts",
        "2",
    ];

    // The listing: ids, types, errors; the queue unchanged.
    let list = events(&context, &["forwarding", "list", "--queue-url", &queue_url]).await;
    assert_eq!(list.status, ExitStatus::Success);
    let listed: BTreeMap<Option<String>, &Value> = list
        .lines
        .iter()
        .map(|l| (l["event_id"].as_str().map(str::to_owned), l))
        .collect();
    assert_eq!(listed.len(), 4, "{}", list.text);
    for detail in &details {
        let line = listed[&Some(detail.event_id.clone())];
        assert_eq!(line["kind"], "forwarding_dead_letter");
        assert_eq!(line["event_type"], detail.event_type.as_str());
        assert_eq!(line["error_code"], "SDK_CLIENT_ERROR");
        assert_eq!(line["retry_attempts"], "185");
        assert_eq!(line["time"], "2026-03-07T10:00:05Z");
        assert!(line["unreadable"].is_null());
    }
    let other = listed[&None];
    assert_eq!(
        other["unreadable"],
        "the message is not a FlowIQ event from the bus: no detail.event object"
    );
    // No content in a listing (ids and errors only).
    assert!(!list.text.contains(TEXT) && !list.text.contains("27830000042"));
    assert_eq!(
        events(&context, &["forwarding", "list", "--queue-url", &queue_url])
            .await
            .lines
            .len(),
        4
    );

    // The endpoint is down: nothing is deleted; the run says where it stopped.
    Mock::given(method("POST"))
        .and(path("/flowiq"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&sink)
        .await;
    let down = events(&context, &redrive).await;
    assert_eq!(down.status, ExitStatus::Unreachable, "{}", down.text);
    let summary = &down.lines[0];
    assert_eq!(summary["kind"], "redrive_summary");
    assert_eq!(summary["sent"], 0);
    assert_eq!(summary["remaining"], 4);
    assert_eq!(summary["retries"], 1);
    assert!(
        summary["error"].as_str().unwrap().contains("HTTP 503"),
        "{summary}"
    );
    assert_eq!(received(&sink).await.len(), 2, "one event, two attempts");

    // It recovers: each event exactly once, with its id, its FlowIQ event as the body and the
    // credential; the queue keeps only what is not an event.
    sink.reset().await;
    Mock::given(method("POST"))
        .and(path("/flowiq"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&sink)
        .await;
    let up = events(&context, &redrive).await;
    assert_eq!(
        up.status,
        ExitStatus::Incomplete,
        "the unreadable message is reported"
    );
    let summary = &up.lines[0];
    assert_eq!(
        (summary["sent"].as_u64(), summary["remaining"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(summary["unreadable"].as_object().unwrap().len(), 1);
    let got = received(&sink).await;
    let mut ids: Vec<&str> = got.iter().map(|(id, _, _)| id.as_str()).collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = details.iter().map(|d| d.event_id.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected, "each event exactly once");
    let bodies = flowiq_bodies();
    for (id, body, credential) in &got {
        let detail = details.iter().find(|d| &d.event_id == id).unwrap();
        let index = details
            .iter()
            .position(|d| d.event_id == detail.event_id)
            .unwrap();
        let sent: Value = serde_json::from_str(&bodies[index]).unwrap();
        assert_eq!(body, &sent, "json.loads of what FlowIQ sent");
        assert_eq!(credential.as_deref(), Some(CREDENTIAL));
    }
    // A third run has nothing to send.
    sink.reset().await;
    let again = events(&context, &redrive).await;
    assert_eq!(again.lines[0]["sent"], 0);
    assert!(received(&sink).await.is_empty());

    for run in [&list, &down, &up, &again] {
        assert!(!run.text.contains(CREDENTIAL), "{}", run.text);
        assert!(!run.logs.contains(CREDENTIAL), "{}", run.logs);
        assert!(!run.logs.contains(TEXT), "{}", run.logs);
    }
}

#[tokio::test]
async fn a_replay_sends_stored_events_in_the_shape_of_live_forwarding() {
    let table = TestTable::new().await;
    let details = store(&table).await;
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/flowiq"))
        .respond_with(ResponseTemplate::new(200))
        .expect(3)
        .mount(&sink)
        .await;
    let url = format!("{}/flowiq", sink.uri());
    let credential = credential_file();
    let run = events(
        &context(&table),
        &[
            "forwarding",
            "replay",
            "list",
            "--org",
            ORG,
            "--since",
            "2026-03-07T10:00:00Z",
            "--until",
            "2026-03-07T11:00:00Z",
            "--to-url",
            &url,
            "--allow-http",
            "--auth-header",
            "x-api-key",
            "--auth-value-file",
            credential.as_str(),
        ],
    )
    .await;
    assert_eq!(run.status, ExitStatus::Success, "{}", run.text);
    assert_eq!(run.lines[0]["kind"], "replay_summary");
    assert_eq!(run.lines[0]["sent"], 3);
    // In time order, each with its id, the FlowIQ event and the credential.
    let got = received(&sink).await;
    let bodies = flowiq_bodies();
    for (index, (id, body, key)) in got.iter().enumerate() {
        assert_eq!(id, &details[index].event_id);
        assert_eq!(
            body,
            &serde_json::from_str::<Value>(&bodies[index]).unwrap()
        );
        assert_eq!(key.as_deref(), Some(CREDENTIAL));
    }
    // The same request a re-drive of the same event's bus event makes: one shape.
    let forwarded = flowiq_ops::events::forwarded_event::ForwardedEvent::from_bus_event(
        &bus_event(&details[2]),
    )
    .unwrap();
    let request = &sink.received_requests().await.unwrap()[2];
    assert_eq!(
        String::from_utf8(request.body.clone()).unwrap(),
        forwarded.body
    );
    assert!(!run.text.contains(CREDENTIAL) && !run.logs.contains(CREDENTIAL));
}

/// The CLI's event id header is the one the stack's rule sends.
#[test]
fn the_event_id_header_is_the_rules() {
    let stack = Template::repository()
        .deploy(&[
            ("ForwardingUrl", "https://app.example.com/x"),
            (
                "ForwardingAuthSecretArn",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf",
            ),
        ])
        .unwrap();
    let headers =
        &stack.properties("ForwardingRule")["Targets"][0]["HttpParameters"]["HeaderParameters"];
    assert_eq!(*headers, json!({EVENT_ID_HEADER: "$.detail.event_id"}));
}
