//! `flowiq-events` message / conversation / list / rejected against DynamoDB Local, on what the
//! receiver stored from real deliveries; the CLI parsed as an operator types it.

use crate::support;
use support::context;

use aws_sdk_dynamodb::types::AttributeValue;
use clap::Parser as _;
use flowiq_harness::test_table::{DEV_TOKEN, TestTable, s};
use flowiq_ops::events::cli::Args;
use flowiq_ops::events::commands::run;
use flowiq_ops::events::error::EventsError;
use flowiq_ops::events::output::Format;
use flowiq_ops::exit_status::ExitStatus;
use flowiq_ops::queries::Contact;
use flowiq_webhooks::delivery::{Delivery, Reply};
use flowiq_webhooks::keys;
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::records::Retention;
use serde_json::{Value, json};

const ORG: &str = "org-inspect";
const ALICE: &str = "27830000001";
/// Alice's conversation in pages of two.
const ALICE_TWO_PER_PAGE: [&str; 7] = [
    "conversation",
    "--org",
    ORG,
    "--contact",
    ALICE,
    "--limit",
    "2",
];

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
    let (result, page1) = events(&table, &ALICE_TWO_PER_PAGE).await;
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
    let mut next = ALICE_TWO_PER_PAGE.to_vec();
    next.extend(["--cursor", &cursor]);
    let (_, page2) = events(&table, &next).await;
    assert_eq!(wamids(&page2), ["wamid.a"]);
    // DynamoDB may or may not know that the page was the last; if not, the next one is empty.
    if let Some(cursor) = page2.last().unwrap()["next_cursor"].as_str() {
        let mut next = ALICE_TWO_PER_PAGE.to_vec();
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

/// Runs `flowiq-events <args>` in table form; the printed text.
async fn table_output(table: &TestTable, args: &[&str]) -> String {
    let args =
        Args::try_parse_from(std::iter::once("flowiq-events").chain(args.iter().copied())).unwrap();
    let mut out = Vec::new();
    let result = run(&args.command, &context(table), Format::Table, &mut out).await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    String::from_utf8(out).unwrap()
}

/// Over the 384 bytes above which the receiver stores a body deflated, with emoji, CJK,
/// combining marks, a no-break space, a line separator, tabs and a CRLF.
fn long_text() -> String {
    "Olá 👋🏽 — 你好，订单 #10458\u{a0}é\u{301}\u{2028}\ttab\r\n  spaced  ".repeat(8)
}

/// `body` exactly as sent: unusual whitespace between the JSON tokens too.
fn raw_body(fields: &str, text: &str) -> String {
    format!(
        "\n\t{{ {fields},\r\n  \"message\" :\t{} }}\n ",
        serde_json::to_string(text).unwrap()
    )
}

#[tokio::test]
async fn long_unicode_bodies_are_shown_whole_in_json_and_tables() {
    let table = TestTable::new().await;
    let text = long_text();
    let wa_body = raw_body(
        &format!(
            r#""event_type":"message_received","whatsapp_message_id":"wamid.long","organization_id":"{ORG}","message_type":"text","timestamp":"2026-03-07T09:00:00Z","whatsapp_id":"{ALICE}""#
        ),
        &text,
    );
    let web_body = raw_body(
        &format!(
            r#""event_type":"message_received","sender_type":"user-web","id":"row-web-1","organization_id":"{ORG}","contact_id":"contact-web-1","created_at":"2026-03-07T09:30:00Z","timestamp":"2026-03-07T09:30:00.512Z""#
        ),
        &text,
    );
    assert!(
        wa_body.len() > 500 && web_body.len() > 500,
        "long enough to be deflated"
    );
    table.store_delivery(&wa_body).await;
    let reply = table
        .receiver(Retention(None))
        .receive(Delivery {
            platform: Platform::Web,
            token: DEV_TOKEN,
            body: web_body.as_bytes(),
            request_id: "req-web",
        })
        .await;
    assert!(matches!(reply, Reply::Accepted { .. }), "{reply:?}");

    // Every line of every command has every attribute, and `body` as sent, byte for byte.
    let assert_event_line = |line: &Value, body: &str| {
        assert_eq!(field(line, "body"), body, "{line}");
        assert!(line.get("body_zd1").is_none(), "{line}");
        for name in [
            "pk",
            "sk",
            "event_id",
            "event_type",
            "platform",
            "received_at",
        ] {
            assert!(!field(line, name).is_empty(), "{name} missing: {line}");
        }
        assert!(
            field(line, "occurred_at").starts_with("2026-03-07T09:"),
            "{line}"
        );
    };
    let (result, lines) = events(&table, &["message", "wamid.long"]).await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(field(&lines[0], "text"), text);
    assert_event_line(&lines[1], &wa_body);
    // The event item really holds the deflated form (what this test is about).
    let stored = table
        .get(field(&lines[1], "pk"), field(&lines[1], "sk"))
        .await
        .unwrap();
    assert!(stored.contains_key("body_zd1") && !stored.contains_key("body"));

    let (result, lines) = events(
        &table,
        &[
            "conversation",
            "--org",
            ORG,
            "--contact",
            "id:contact-web-1",
        ],
    )
    .await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    assert_eq!(field(&lines[0], "kind"), "conversation_item");
    assert_event_line(&lines[0], &web_body);
    assert_eq!(field(&lines[1], "kind"), "page");

    let (result, lines) = events(
        &table,
        &["list", "--org", ORG, "--since", "2026-03-07T00:00:00Z"],
    )
    .await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    let bodies: Vec<&str> = lines.iter().map(|l| field(l, "body")).collect();
    assert_eq!(bodies, [wa_body.as_str(), web_body.as_str()]);
    lines
        .iter()
        .zip([&wa_body, &web_body])
        .for_each(|(line, body)| assert_event_line(line, body));

    // Tables: ids whole, the body's exact size, the text on one line (whitespace folded).
    let shown = table_output(&table, &["message", "wamid.long"]).await;
    assert!(
        shown.contains(&format!("{} bytes", wa_body.len())),
        "{shown}"
    );
    assert!(shown.contains("Olá 👋🏽 — 你好，订单 #10458"), "{shown}");
    let shown = table_output(
        &table,
        &[
            "conversation",
            "--org",
            ORG,
            "--contact",
            "id:contact-web-1",
        ],
    )
    .await;
    assert!(shown.contains("Olá 👋🏽 — 你好"), "the event's text: {shown}");
    assert!(!shown.contains('\t') && !shown.contains('\r'), "{shown:?}");
    let shown = table_output(
        &table,
        &["list", "--org", ORG, "--since", "2026-03-07T00:00:00Z"],
    )
    .await;
    assert!(
        shown.contains("wamid.long") && shown.contains("\n2 events"),
        "{shown}"
    );
}

#[tokio::test]
async fn tables_show_ids_whole_for_the_next_command() {
    let table = TestTable::new().await;
    // Longer than any cut a table makes of free text.
    let wamid = format!(
        "wamid.{}",
        "HBgLMjc4MzAwMDAwMDEVAgARGBIzRjM4QjE5NkJFNjg0QjIx".repeat(3)
    );
    assert!(wamid.len() > 140);
    deliver(
        &table,
        &sent_message(&wamid, "2026-03-07T09:00:00Z", "短い 👋 text"),
    )
    .await;
    let (_, lines) = events(&table, &["message", &wamid]).await;
    let event_id = field(&lines[1], "event_id").to_owned();
    for args in [
        vec!["message", wamid.as_str()],
        vec!["conversation", "--org", ORG, "--contact", ALICE],
        vec!["list", "--org", ORG, "--since", "2026-03-07T00:00:00Z"],
    ] {
        let shown = table_output(&table, &args).await;
        assert!(shown.contains(&wamid), "{args:?}: {shown}");
        if args[0] != "conversation" {
            assert!(shown.contains(&event_id), "{args:?}: {shown}");
        }
    }
}

#[tokio::test]
async fn an_item_that_cannot_be_shown_is_an_error_naming_it() {
    let table = TestTable::new().await;
    let body = raw_body(
        &format!(
            r#""event_type":"sent_message","id":"row-x","whatsapp_message_id":"wamid.bad","organization_id":"{ORG}","sender_type":"bot-whatsapp","timestamp":"2026-03-07T09:00:00Z","whatsapp_id":"{ALICE}""#
        ),
        &long_text(),
    );
    table.store_delivery(&body).await;
    let (_, lines) = events(&table, &["message", "wamid.bad"]).await;
    let (pk, sk) = (
        field(&lines[1], "pk").to_owned(),
        field(&lines[1], "sk").to_owned(),
    );
    // Damage the deflated body, as a bug or a hand edit might.
    table
        .client
        .update_item()
        .table_name(&table.name)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.clone()))
        .update_expression("SET body_zd1 = :b")
        .expression_attribute_values(
            ":b",
            aws_sdk_dynamodb::types::AttributeValue::B(b"not deflate"[..].into()),
        )
        .send()
        .await
        .unwrap();
    for args in [
        vec!["message", "wamid.bad"],
        vec!["list", "--org", ORG, "--since", "2026-03-07T00:00:00Z"],
    ] {
        let (result, _) = events(&table, &args).await;
        let error = result.unwrap_err();
        assert_eq!(error.exit_status(), ExitStatus::Unexpected, "{args:?}");
        let message = error.to_string();
        assert!(
            message.contains(&sk) && message.contains("body"),
            "{message}"
        );
    }
}

/// A number's conversation is found under its keyed hash (what the receiver writes now) and under
/// the plain key of items stored before numbers were hashed (nothing migrates them): newest
/// first, the hashed partition's entries, then the plain one's, pages crossing from one to the
/// other. No index key holds the number.
#[tokio::test]
async fn a_number_is_found_under_its_keyed_hash_and_under_its_old_plain_key() {
    let table = TestTable::new().await;
    for (wamid, at) in [
        ("wamid.new", "2026-03-07T11:00:00Z"),
        ("wamid.old1", "2026-03-07T09:00:00Z"),
        ("wamid.old2", "2026-03-07T08:00:00Z"),
    ] {
        deliver(&table, &sent_message(wamid, at, "hello")).await;
    }
    let plain = keys::plain_whatsapp_contact_pk(ORG, ALICE);
    for item in table.items_of_type("event").await {
        assert!(!s(&item, "contact_pk").contains(ALICE), "{item:?}");
        assert!(s(&item, "contact_pk").contains("#wah:"), "{item:?}");
        if s(&item, "whatsapp_message_id").starts_with("wamid.old") {
            // As the receiver stored it before the upgrade.
            table
                .client
                .update_item()
                .table_name(&table.name)
                .key("pk", AttributeValue::S(s(&item, "pk").to_owned()))
                .key("sk", AttributeValue::S(s(&item, "sk").to_owned()))
                .update_expression("SET contact_pk = :plain")
                .expression_attribute_values(":plain", AttributeValue::S(plain.clone()))
                .send()
                .await
                .unwrap();
        }
    }

    let wamids = |page: &[Value]| -> Vec<String> {
        page.iter()
            .filter(|l| field(l, "kind") == "conversation_item")
            .map(|l| field(l, "whatsapp_message_id").to_owned())
            .collect()
    };
    let (result, page1) = events(&table, &ALICE_TWO_PER_PAGE).await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    assert_eq!(wamids(&page1), ["wamid.new", "wamid.old1"]);
    let cursor = field(page1.last().unwrap(), "next_cursor").to_owned();
    let mut next = ALICE_TWO_PER_PAGE.to_vec();
    next.extend(["--cursor", &cursor]);
    let (result, page2) = events(&table, &next).await;
    assert_eq!(result.unwrap(), ExitStatus::Success);
    assert_eq!(wamids(&page2), ["wamid.old2"]);
    if let Some(cursor) = page2.last().unwrap()["next_cursor"].as_str() {
        let mut next = ALICE_TWO_PER_PAGE.to_vec();
        next.extend(["--cursor", cursor]);
        assert!(wamids(&events(&table, &next).await.1).is_empty());
    }
    // All pages at once (what a replay of the conversation selects): oldest first, both keys.
    let alice = Contact::WhatsappId(ALICE.to_owned());
    let mut queries = support::context(&table).queries;
    let all = queries
        .conversation(ORG, &alice)
        .await
        .unwrap()
        .iter()
        .map(|i| s(i, "whatsapp_message_id").to_owned())
        .collect::<Vec<_>>();
    assert_eq!(all, ["wamid.old2", "wamid.old1", "wamid.new"]);

    // Another key finds only the old plain entries: the hashed ones need this stack's key.
    let other = flowiq_webhooks::contact_key::ContactKey::new(&"x".repeat(40)).unwrap();
    queries.contact_key = Some(other);
    let found = queries.conversation(ORG, &alice).await.unwrap();
    assert_eq!(found.len(), 2);
}
