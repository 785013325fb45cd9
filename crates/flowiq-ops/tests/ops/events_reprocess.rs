//! `flowiq-events reprocess-rejected` against DynamoDB Local: stored rejected bodies go through
//! the receiver again; those that now pass are stored as a delivery would store them, the
//! outcome is recorded on the rejected item, and those that still fail keep a new reason.

use crate::support;

use clap::Parser as _;
use flowiq_harness::test_table::{TestTable, s, stored_body};
use flowiq_ops::events::cli::Args;
use flowiq_ops::events::commands::run;
use flowiq_ops::events::output::Format;
use flowiq_ops::exit_status::ExitStatus;
use flowiq_webhooks::delivery::Rejection;
use flowiq_webhooks::keys;
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::records::{Received, RejectedRetention, Retention, rejected_record};
use flowiq_webhooks::store::EventStore as _;
use flowiq_webhooks::webhook_event::WebhookEvent;
use serde_json::{Value, json};
use time::macros::datetime;

async fn reprocess(table: &TestTable, args: &[&str]) -> (ExitStatus, Vec<Value>) {
    let (status, out) = reprocess_as(table, args, Format::JsonLines).await;
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (status, lines)
}

async fn reprocess_as(table: &TestTable, args: &[&str], format: Format) -> (ExitStatus, String) {
    let args =
        Args::try_parse_from(std::iter::once("flowiq-events").chain(args.iter().copied())).unwrap();
    let context = support::context(table);
    let mut out = Vec::new();
    let status = run(&args.command, &context, format, &mut out)
        .await
        .unwrap();
    (status, String::from_utf8(out).unwrap())
}

/// A `rejected` item as an older receiver would have written it.
async fn store_rejected(
    table: &TestTable,
    body: &[u8],
    rejection: Rejection,
    reason: &str,
) -> String {
    let received = Received::at(datetime!(2026-03-07 09:00:00 UTC));
    let item = rejected_record(
        Platform::Whatsapp,
        body,
        "req-old",
        rejection,
        reason.to_owned(),
        &received,
        RejectedRetention::new(Retention(Some(30)), Retention(Some(30))),
    );
    table.store().put_rejected(&item).await.unwrap();
    item.pk
}

/// A long `rejected` body as receivers before issue 27 kept it: as text in `body`.
async fn store_rejected_as_text(table: &TestTable, body: &str) -> String {
    let received = Received::at(datetime!(2026-03-07 09:00:01 UTC));
    let mut item = rejected_record(
        Platform::Whatsapp,
        body.as_bytes(),
        "req-older",
        Rejection::InvalidBody,
        "refused long ago".to_owned(),
        &received,
        RejectedRetention::new(Retention(Some(30)), Retention(Some(30))),
    );
    item.body_zd1 = None;
    item.body = Some(body.to_owned());
    item.event_retention_days = None;
    table.store().put_rejected(&item).await.unwrap();
    item.pk
}

#[tokio::test]
async fn bodies_that_now_pass_are_stored_as_a_delivery_and_the_rest_keep_a_new_reason() {
    let table = TestTable::new().await;
    let text = format!("Hello again {}", "and again ".repeat(40));
    let now_valid =
        json!({"event_type": "sent_message", "id": "row-1", "whatsapp_message_id": "wamid.rp1",
        "organization_id": "org-rp", "message": text,
        "sender_type": "bot-whatsapp", "timestamp": "2026-03-07T08:59:00Z",
        "whatsapp_id": "27830000077"})
        .to_string();
    // Long enough to be kept deflated (`body_zd1`)...
    assert!(now_valid.len() > flowiq_webhooks::stored_body::DEFLATE_ABOVE);
    // ...and one kept as text, as receivers before issue 27 kept every rejected body.
    let old_form = json!({"event_type": "sent_message", "id": "row-3",
        "whatsapp_message_id": "wamid.rp3", "organization_id": "org-rp",
        "message": "older ".repeat(80), "sender_type": "bot-whatsapp",
        "timestamp": "2026-03-07T08:57:00Z", "whatsapp_id": "27830000077"})
    .to_string();
    let delivered_since = json!({"event_type": "message_read", "whatsapp_message_id": "wamid.rp2",
        "organization_id": "org-rp", "status": "read", "timestamp": "2026-03-07T08:58:00Z",
        "whatsapp_id": "27830000077"})
    .to_string();
    let still_invalid = br#"{"event_type": 7}"#;

    let valid_pk = store_rejected(
        &table,
        now_valid.as_bytes(),
        Rejection::InvalidBody,
        "an older parser refused it",
    )
    .await;
    let duplicate_pk = store_rejected(
        &table,
        delivered_since.as_bytes(),
        Rejection::InvalidBody,
        "refused then",
    )
    .await;
    let invalid_pk =
        store_rejected(&table, still_invalid, Rejection::InvalidBody, "old reason").await;
    let old_form_pk = store_rejected_as_text(&table, &old_form).await;
    let kept = table.items_of_type("rejected").await;
    let kept_as = |pk: &str, attribute: &str| {
        kept.iter()
            .any(|i| s(i, "pk") == pk && i.contains_key(attribute))
    };
    assert!(kept_as(&valid_pk, "body_zd1") && !kept_as(&valid_pk, "body"));
    assert!(kept_as(&old_form_pk, "body") && !kept_as(&old_form_pk, "body_zd1"));
    let too_large_pk = store_rejected(
        &table,
        &vec![b' '; 200 * 1024],
        Rejection::TooLarge,
        "too large",
    )
    .await;
    // FlowIQ redelivered the second one meanwhile, and the current receiver accepted it.
    table.store_delivery(&delivered_since).await;

    let (status, lines) = reprocess(
        &table,
        &["reprocess-rejected", "--since", "2026-03-07T00:00:00Z"],
    )
    .await;
    assert_eq!(status, ExitStatus::Success, "{lines:?}");
    let outcome = |pk: &str| -> Value {
        lines
            .iter()
            .find(|l| l["pk"] == pk)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let expected_id = |body: &str| {
        WebhookEvent::parse(Platform::Whatsapp, body.as_bytes())
            .unwrap()
            .event_id
            .into_string()
    };
    assert_eq!(outcome(&valid_pk)["outcome"], "stored");
    assert_eq!(outcome(&valid_pk)["event_id"], expected_id(&now_valid));
    assert_eq!(outcome(&duplicate_pk)["outcome"], "duplicate");
    assert_eq!(
        outcome(&duplicate_pk)["event_id"],
        expected_id(&delivered_since)
    );
    assert_eq!(outcome(&invalid_pk)["outcome"], "still_invalid");
    assert_eq!(outcome(&old_form_pk)["outcome"], "stored");
    assert_eq!(outcome(&old_form_pk)["event_id"], expected_id(&old_form));
    assert_eq!(outcome(&too_large_pk), Value::Null, "no body kept: skipped");
    let summary = lines.last().unwrap();
    assert_eq!(
        (
            &summary["stored"],
            &summary["duplicate"],
            &summary["still_invalid"],
            &summary["skipped"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(1))
    );

    // Stored exactly as a delivery: the event item under its key, with the body as sent, and the
    // message update applied.
    let events = (support::context(&table).queries)
        .message_events("wamid.rp1")
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(s(&events[0], "event_id"), expected_id(&now_valid));
    assert_eq!(stored_body(&events[0]), now_valid);
    assert_eq!(
        s(&events[0], keys::SK),
        format!("EVENT#2026-03-07T08:59:00.000Z#{}", expected_id(&now_valid))
    );
    assert!(
        events[0].contains_key("expires_at"),
        "the rejected item's retention (30 days)"
    );
    let message = table.message("wamid.rp1").await.unwrap();
    assert_eq!(
        (s(&message, "status"), s(&message, "text")),
        ("sent", text.as_str())
    );

    // The outcome is on the rejected items, which stay; no new rejected item was written.
    let rejected = table.items_of_type("rejected").await;
    assert_eq!(rejected.len(), 5);
    let item = |pk: &str| rejected.iter().find(|i| s(i, "pk") == pk).unwrap().clone();
    let valid = item(&valid_pk);
    assert_eq!(s(&valid, "reprocess_outcome"), "stored");
    assert_eq!(s(&valid, "event_id"), expected_id(&now_valid));
    assert!(s(&valid, "reprocessed_at").starts_with("20"));
    let invalid = item(&invalid_pk);
    assert_eq!(s(&invalid, "reprocess_outcome"), "still_invalid");
    assert_eq!(s(&invalid, "original_reason"), "old reason");
    assert!(
        s(&invalid, "reason").contains("event_type"),
        "{}",
        s(&invalid, "reason")
    );
    assert_eq!(s(&item(&too_large_pk), "reprocess_outcome"), "");

    // Again: what was stored is done; only the still-invalid one is tried again.
    let (status, lines) = reprocess(&table, &["reprocess-rejected"]).await;
    assert_eq!(status, ExitStatus::Success);
    let tried: Vec<&Value> = lines
        .iter()
        .filter(|l| l["kind"] == "reprocessed")
        .collect();
    assert_eq!(tried.len(), 1);
    assert_eq!(tried[0]["pk"], invalid_pk.as_str());
    assert_eq!(
        table.items_of_type("event").await.len(),
        3,
        "nothing stored twice"
    );
}

#[tokio::test]
async fn a_dry_run_shows_each_delivery_it_would_reprocess_and_changes_nothing() {
    let table = TestTable::new().await;
    let body = json!({"event_type": "message_read", "whatsapp_message_id": "wamid.dry",
        "organization_id": "org-rp", "status": "read", "timestamp": "2026-03-07T08:58:00Z",
        "whatsapp_id": "27830000077"})
    .to_string();
    let candidate = store_rejected(
        &table,
        body.as_bytes(),
        Rejection::InvalidBody,
        "an older parser refused 你好 👋",
    )
    .await;
    store_rejected(
        &table,
        &vec![b' '; 200 * 1024],
        Rejection::TooLarge,
        "too large",
    )
    .await;

    let (status, lines) = reprocess(&table, &["reprocess-rejected", "--dry-run"]).await;
    assert_eq!(status, ExitStatus::Success);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["kind"], "reprocess_candidate");
    assert_eq!(line["pk"], candidate.as_str());
    assert_eq!(line["reason"], "an older parser refused 你好 👋");
    assert_eq!(
        (&line["status_code"], &line["received_at"]),
        (&json!(400), &json!("2026-03-07T09:00:00.000Z"))
    );
    assert!(
        line.get("body").is_none(),
        "as `rejected` shows it, no body"
    );
    let summary = &lines[1];
    assert_eq!(
        (
            &summary["kind"],
            &summary["dry_run"],
            &summary["to_reprocess"],
            &summary["skipped"]
        ),
        (
            &json!("reprocess_summary"),
            &json!(true),
            &json!(1),
            &json!(1)
        )
    );

    // On a terminal: a row per delivery, then the counts.
    let (status, shown) =
        reprocess_as(&table, &["reprocess-rejected", "--dry-run"], Format::Table).await;
    assert_eq!(status, ExitStatus::Success);
    let rows: Vec<&str> = shown.lines().collect();
    assert_eq!(rows.len(), 3, "{shown}");
    assert!(rows[0].starts_with("received_at"), "{shown}");
    assert!(
        rows[1].starts_with("2026-03-07T09:00:00.000Z")
            && rows[1].contains("400")
            && rows[1].ends_with("an older parser refused 你好 👋"),
        "{shown}"
    );
    assert!(
        rows[2].starts_with("dry run: would reprocess 1 of 2"),
        "{shown}"
    );

    // Nothing was stored or recorded.
    assert!(table.items_of_type("event").await.is_empty());
    for item in table.items_of_type("rejected").await {
        assert_eq!(s(&item, "reprocess_outcome"), "");
    }
}
