//! The documented access patterns, answered by Query / GetItem on what the handler stored.

use flowiq_harness::test_table::{DEV_TOKEN, TestTable, s};
use flowiq_ops::queries::{Contact, EventQueries};
use flowiq_webhooks::delivery::{Delivery, Receiver, Reply};
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use serde_json::json;

async fn post(receiver: &Receiver<DynamoDbEventStore>, body: serde_json::Value) {
    let body = body.to_string();
    let delivery = Delivery {
        platform: Platform::Whatsapp,
        token: DEV_TOKEN,
        body: body.as_bytes(),
        request_id: "test",
    };
    let reply = receiver.receive(delivery).await;
    assert!(matches!(reply, Reply::Accepted { .. }), "{reply:?}");
}

fn receipt(event_type: &str, wamid: &str, contact: &str, org: &str, at: &str) -> serde_json::Value {
    json!({"event_type": event_type, "whatsapp_message_id": wamid, "organization_id": org,
           "status": event_type.trim_start_matches("message_"), "timestamp": at, "whatsapp_id": contact})
}

#[tokio::test]
async fn each_access_pattern_is_one_query_in_time_order() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let (org, other_org, alice, bob) = ("org-q", "org-other", "27830000001", "27830000002");
    let sent_message = |wamid: &str, contact: &str, org: &str, at: &str| {
        json!({"event_type": "sent_message", "id": format!("row-{wamid}"), "whatsapp_message_id": wamid,
               "organization_id": org, "message": "Your order shipped", "sender_type": "bot-whatsapp",
               "timestamp": at, "whatsapp_id": contact})
    };
    // Posted out of order, across two contacts and two organizations.
    for body in [
        receipt(
            "message_read",
            "wamid.a",
            alice,
            org,
            "2026-03-07T10:00:03Z",
        ),
        receipt(
            "message_sent",
            "wamid.a",
            alice,
            org,
            "2026-03-07T10:00:01Z",
        ),
        sent_message("wamid.a", alice, org, "2026-03-07T10:00:00Z"),
        receipt(
            "message_delivered",
            "wamid.a",
            alice,
            org,
            "2026-03-07T10:00:02Z",
        ),
        json!({"event_type": "message_received", "whatsapp_message_id": "wamid.b", "organization_id": org,
               "timestamp": "2026-03-07T09:59:00Z", "whatsapp_id": alice, "message": "Hi", "message_type": "text"}),
        sent_message("wamid.c", bob, org, "2026-03-07T11:00:00Z"),
        sent_message("wamid.d", alice, other_org, "2026-03-07T10:30:00Z"),
    ] {
        post(&receiver, body).await;
    }

    // The receiver's test tables use the development contact key.
    let store = EventQueries {
        client: table.client.clone(),
        table_name: table.name.clone(),
        contact_key: Some(flowiq_webhooks::contact_key::ContactKey::local_dev()),
    };
    let events = store.message_events("wamid.a").await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| s(e, "event_type")).collect();
    assert_eq!(
        types,
        [
            "sent_message",
            "message_sent",
            "message_delivered",
            "message_read"
        ]
    );

    let state = store.message_state("wamid.a").await.unwrap().unwrap();
    assert_eq!(
        (s(&state, "status"), s(&state, "text")),
        ("read", "Your order shipped")
    );
    assert!(store.message_state("wamid.none").await.unwrap().is_none());

    let alice_contact = Contact::WhatsappId(alice.to_owned());
    let conversation = store.conversation(org, &alice_contact).await.unwrap();
    let listed: Vec<(&str, &str)> = conversation
        .iter()
        .map(|m| (s(m, "whatsapp_message_id"), s(m, "event_type")))
        .collect();
    // Listed by their content events (storage contract v2), never by receipts.
    assert_eq!(
        listed,
        [("wamid.b", "message_received"), ("wamid.a", "sent_message")],
        "the contact's messages, oldest first, this organization only"
    );

    let window = store
        .organization_events(
            org,
            "2026-03-07T10:00:00.000Z",
            "2026-03-07T11:00:00.000Z",
            &[],
        )
        .await
        .unwrap();
    let times: Vec<&str> = window.iter().map(|e| s(e, "occurred_at")).collect();
    assert_eq!(
        times,
        [
            "2026-03-07T10:00:00.000Z",
            "2026-03-07T10:00:01.000Z",
            "2026-03-07T10:00:02.000Z",
            "2026-03-07T10:00:03.000Z"
        ],
        "from is inclusive, to exclusive, other organizations excluded"
    );
}
