//! `flowiq-events` message / conversation / list / rejected against DynamoDB Local, on what the
//! receiver stored from real deliveries; the CLI parsed as an operator types it.

use clap::Parser as _;
use flowiq_harness::test_table::{DEV_TOKEN, TestTable};
use flowiq_ops::events::cli::Args;
use flowiq_ops::events::commands::{Context, run};
use flowiq_ops::events::error::EventsError;
use flowiq_ops::events::exit::ExitStatus;
use flowiq_ops::events::output::Format;
use flowiq_ops::queries::EventQueries;
use flowiq_webhooks::delivery::{Delivery, Reply};
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::records::Retention;
use serde_json::{Value, json};

const ORG: &str = "org-inspect";
const ALICE: &str = "27830000001";

fn context(table: &TestTable) -> Context {
    let eventbridge = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    );
    Context {
        queries: EventQueries::new(table.client.clone(), &table.name),
        dynamodb: table.client.clone(),
        eventbridge,
    }
}

/// Runs `flowiq-events <args>` (parsed by clap) in JSON-lines form.
async fn events(table: &TestTable, args: &[&str]) -> (Result<ExitStatus, EventsError>, Vec<Value>) {
    let args =
        Args::try_parse_from(std::iter::once("flowiq-events").chain(args.iter().copied())).unwrap();
    let mut out = Vec::new();
    let result = run(&args.command, &context(table), Format::JsonLines, &mut out).await;
    let lines = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (result, lines)
}

async fn deliver(table: &TestTable, body: &Value) {
    let body = body.to_string();
    table.store_delivery(&body).await;
}

fn sent_message(wamid: &str, at: &str, text: &str) -> Value {
    json!({"event_type": "sent_message", "id": format!("row-{wamid}"), "whatsapp_message_id": wamid,
           "organization_id": ORG, "message": text, "sender_type": "bot-whatsapp",
           "timestamp": at, "whatsapp_id": ALICE})
}

fn receipt(event_type: &str, wamid: &str, at: &str) -> Value {
    json!({"event_type": event_type, "whatsapp_message_id": wamid, "organization_id": ORG,
           "status": event_type.trim_start_matches("message_"), "timestamp": at, "whatsapp_id": ALICE})
}

fn field<'a>(line: &'a Value, name: &str) -> &'a str {
    line[name].as_str().unwrap_or("")
}

#[tokio::test]
async fn message_conversation_and_list_show_what_the_receiver_stored() {
    let table = TestTable::new().await;
    // Out of order, as FlowIQ may deliver them.
    for body in [
        receipt("message_read", "wamid.a", "2026-03-07T10:00:03Z"),
        sent_message("wamid.a", "2026-03-07T10:00:00Z", "Your order shipped"),
        receipt("message_delivered", "wamid.a", "2026-03-07T10:00:02Z"),
        receipt("message_failed", "wamid.c", "2026-03-07T12:00:01Z"),
        sent_message("wamid.b", "2026-03-07T11:00:00Z", "Second"),
        sent_message("wamid.c", "2026-03-07T12:00:00Z", "Third"),
    ] {
        deliver(&table, &body).await;
    }

    // message: the state first, then its events oldest first, bodies included.
    let (result, lines) = events(&table, &["message", "wamid.a"]).await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    assert_eq!(field(&lines[0], "kind"), "message");
    assert_eq!(field(&lines[0], "status"), "read");
    assert_eq!(field(&lines[0], "text"), "Your order shipped");
    assert_eq!(lines[0]["status_history"].as_array().unwrap().len(), 3);
    let types: Vec<&str> = lines[1..].iter().map(|l| field(l, "event_type")).collect();
    assert_eq!(types, ["sent_message", "message_delivered", "message_read"]);
    assert!(lines[1..].iter().all(|l| field(l, "kind") == "event"));
    let body: Value = serde_json::from_str(field(&lines[1], "body")).unwrap();
    assert_eq!(
        body,
        sent_message("wamid.a", "2026-03-07T10:00:00Z", "Your order shipped")
    );

    // conversation: newest first, two per page, the cursor continues.
    let contact = [
        "conversation",
        "--org",
        ORG,
        "--contact",
        ALICE,
        "--limit",
        "2",
    ];
    let (result, page1) = events(&table, &contact).await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    let wamids = |page: &[Value]| -> Vec<String> {
        page.iter()
            .filter(|l| field(l, "kind") == "conversation_item")
            .map(|l| field(l, "whatsapp_message_id").to_owned())
            .collect()
    };
    assert_eq!(wamids(&page1), ["wamid.c", "wamid.b"]);
    assert_eq!(
        field(&page1[0], "status"),
        "failed",
        "full items, not index entries"
    );
    let cursor = field(page1.last().unwrap(), "next_cursor").to_owned();
    assert!(!cursor.is_empty(), "{page1:?}");
    let mut next = contact.to_vec();
    next.extend(["--cursor", &cursor]);
    let (_, page2) = events(&table, &next).await;
    assert_eq!(wamids(&page2), ["wamid.a"]);
    // DynamoDB may or may not know that the page was the last; if not, the next one is empty.
    if let Some(cursor) = page2.last().unwrap()["next_cursor"].as_str() {
        let mut next = contact.to_vec();
        next.extend(["--cursor", cursor]);
        assert!(wamids(&events(&table, &next).await.1).is_empty());
    }

    // list: the organization's events in [since, until), all shards merged in time order.
    let (result, lines) = events(
        &table,
        &[
            "list",
            "--org",
            ORG,
            "--since",
            "2026-03-07T10:00:01Z",
            "--until",
            "2026-03-07T12:00:01Z",
        ],
    )
    .await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    let listed: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (field(l, "occurred_at"), field(l, "event_type")))
        .collect();
    assert_eq!(
        listed,
        [
            ("2026-03-07T10:00:02.000Z", "message_delivered"),
            ("2026-03-07T10:00:03.000Z", "message_read"),
            ("2026-03-07T11:00:00.000Z", "sent_message"),
            ("2026-03-07T12:00:00.000Z", "sent_message"),
        ]
    );
    // --type filters (repeatable); no --until: no end.
    let (_, lines) = events(
        &table,
        &[
            "list",
            "--org",
            ORG,
            "--since",
            "2026-03-07T00:00:00Z",
            "--type",
            "message_failed",
            "--type",
            "message_read",
        ],
    )
    .await;
    let types: Vec<&str> = lines.iter().map(|l| field(l, "event_type")).collect();
    assert_eq!(types, ["message_read", "message_failed"]);

    // Unknown ids: "not found" (exit 3) with a message naming what was looked for.
    for args in [
        vec!["message", "wamid.nope"],
        vec!["list", "--org", "org-unknown", "--since", "7d"],
        vec!["conversation", "--org", "org-unknown", "--contact", ALICE],
    ] {
        let (result, lines) = events(&table, &args).await;
        let error = result.unwrap_err();
        assert_eq!(error.exit_status(), ExitStatus::NotFound, "{args:?}");
        assert!(lines.is_empty());
        let message = error.to_string();
        assert!(
            message.contains("nope") || message.contains("org-unknown"),
            "{message}"
        );
        assert!(!message.contains(ALICE), "never the number: {message}");
    }
}

#[tokio::test]
async fn rejected_lists_reason_size_and_time_without_bodies() {
    let table = TestTable::new().await;
    deliver(
        &table,
        &sent_message("wamid.ok", "2026-03-07T10:00:00Z", "fine"),
    )
    .await;
    let receiver = table.receiver(Retention(None));
    for body in [&b"{not json"[..], br#"{"event_type": 7}"#] {
        let reply = receiver
            .receive(Delivery {
                platform: Platform::Whatsapp,
                token: DEV_TOKEN,
                body,
                request_id: "req-1",
            })
            .await;
        assert!(matches!(reply, Reply::Rejected { .. }), "{reply:?}");
    }
    let (result, lines) = events(&table, &["rejected"]).await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let mut sizes: Vec<i64> = lines
        .iter()
        .map(|l| l["body_size"].as_i64().unwrap())
        .collect();
    sizes.sort();
    assert_eq!(sizes, [9, 17]);
    for line in &lines {
        assert_eq!(field(line, "kind"), "rejected");
        assert!(!field(line, "reason").is_empty());
        assert_eq!(line["status_code"], 400);
        assert!(field(line, "received_at").starts_with("20"));
        assert!(line.get("body").is_none(), "the listing leaves bodies out");
    }
    // --since after them: none (and that is not an error).
    let (result, lines) = events(&table, &["rejected", "--since", "2999-01-01T00:00:00Z"]).await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    assert!(lines.is_empty());
}
