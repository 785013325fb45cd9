//! The documented access patterns, answered by Query / GetItem on what the handler stored.

use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use serde_json::json;

use crate::support::*;

async fn post(receiver: &Receiver<DynamoDbEventStore>, body: serde_json::Value) {
    let answer = send(receiver, delivery("whatsapp", DEV_TOKEN, &body.to_string())).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
}

fn receipt(event_type: &str, wamid: &str, contact: &str, org: &str, at: &str) -> serde_json::Value {
    json!({"event_type": event_type, "whatsapp_message_id": wamid, "organization_id": org,
           "status": event_type.trim_start_matches("message_"), "timestamp": at, "whatsapp_id": contact})
}

#[tokio::test]
async fn each_access_pattern_is_one_query_in_time_order() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let (org, other_org) = ("org-q", "org-other");
    // Posted out of order, across two contacts and two organizations.
    post(
        &receiver,
        receipt(
            "message_read",
            "wamid.a",
            "27830000001",
            org,
            "2026-03-07T10:00:03Z",
        ),
    )
    .await;
    post(
        &receiver,
        receipt(
            "message_sent",
            "wamid.a",
            "27830000001",
            org,
            "2026-03-07T10:00:01Z",
        ),
    )
    .await;
    post(
        &receiver,
        receipt(
            "message_delivered",
            "wamid.a",
            "27830000001",
            org,
            "2026-03-07T10:00:02Z",
        ),
    )
    .await;
    post(
        &receiver,
        json!({"event_type": "message_received", "whatsapp_message_id": "wamid.b", "organization_id": org,
               "timestamp": "2026-03-07T09:59:00Z", "whatsapp_id": "27830000001", "message": "Hi", "message_type": "text"}),
    )
    .await;
    post(
        &receiver,
        receipt(
            "message_sent",
            "wamid.c",
            "27830000002",
            org,
            "2026-03-07T11:00:00Z",
        ),
    )
    .await;
    post(
        &receiver,
        receipt(
            "message_sent",
            "wamid.d",
            "27830000001",
            other_org,
            "2026-03-07T10:30:00Z",
        ),
    )
    .await;

    let store = receiver.store();
    let events = store.message_events("wamid.a").await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| s(e, "event_type")).collect();
    assert_eq!(types, ["message_sent", "message_delivered", "message_read"]);

    let state = store.message_state("wamid.a").await.unwrap().unwrap();
    assert_eq!(s(&state, "status"), "read");
    assert!(store.message_state("wamid.none").await.unwrap().is_none());

    let conversation = store.conversation(org, "27830000001").await.unwrap();
    let ids: Vec<&str> = conversation
        .iter()
        .map(|e| s(e, "whatsapp_message_id"))
        .collect();
    assert_eq!(
        ids,
        ["wamid.b", "wamid.a", "wamid.a", "wamid.a"],
        "oldest first, this org only"
    );

    let window = store
        .organization_events(org, "2026-03-07T10:00:00.000Z", "2026-03-07T11:00:00.000Z")
        .await
        .unwrap();
    let times: Vec<&str> = window.iter().map(|e| s(e, "occurred_at")).collect();
    assert_eq!(
        times,
        [
            "2026-03-07T10:00:01.000Z",
            "2026-03-07T10:00:02.000Z",
            "2026-03-07T10:00:03.000Z"
        ],
        "from is inclusive, to exclusive, other organizations excluded"
    );
}
