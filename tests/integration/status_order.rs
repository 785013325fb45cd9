//! A message's state comes out identical whatever order its events arrive in, duplicates
//! interleaved: derived from its events (storage contract v2), and as the optional stored
//! projection keeps it (fed the events in that order, stream retries included).

use flowiq_webhooks::message_projection::project;
use flowiq_webhooks::records::{EventItem, Retention};
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use flowiq_webhooks::table_stream::TableChange;
use serde_json::{Value, json};

use crate::support::*;

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    (0..items.len())
        .flat_map(|i| {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            permutations(&rest).into_iter().map(move |mut tail| {
                tail.insert(0, first);
                tail
            })
        })
        .collect()
}

fn receipt(event_type: &str, status: &str, wamid: &str, second: u32) -> Value {
    json!({
        "event_type": event_type,
        "whatsapp_message_id": wamid,
        "organization_id": "org-order",
        "status": status,
        "timestamp": format!("2026-03-07T00:00:0{second}.000Z"),
        "whatsapp_id": "27830000009"
    })
}

#[tokio::test]
async fn all_24_arrival_orders_of_sent_delivered_read_failed_give_the_same_message_item() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let projection = DynamoDbEventStore::new(table.client.clone(), &table.name);
    let orders = permutations(&[0, 1, 2, 3]);
    assert_eq!(orders.len(), 24);

    let mut finals = Vec::new();
    for (n, order) in orders.iter().enumerate() {
        let wamid = format!("wamid.order-{n}");
        let events = [
            receipt("message_sent", "sent", &wamid, 1),
            receipt("message_delivered", "delivered", &wamid, 2),
            receipt("message_read", "read", &wamid, 3),
            receipt("message_failed", "failed", &wamid, 4),
        ];
        for (k, &i) in order.iter().enumerate() {
            let answer = send(
                &receiver,
                delivery("whatsapp", DEV_TOKEN, &events[i].to_string()),
            )
            .await;
            assert_eq!(
                (answer.status, answer.json["status"].as_str()),
                (200, Some("stored")),
                "{order:?}"
            );
            // A redelivery of the first event, interleaved.
            let first = &events[order[0]];
            let again = send(
                &receiver,
                delivery("whatsapp", DEV_TOKEN, &first.to_string()),
            )
            .await;
            assert_eq!(
                again.json["status"].as_str(),
                Some("duplicate"),
                "{order:?} {k}"
            );
        }
        // The projection, fed each stored event in arrival order, each twice (a stream retry).
        let stored: Vec<EventItem> = table
            .items_of_type("event")
            .await
            .into_iter()
            .filter(|e| s(e, "whatsapp_message_id") == wamid)
            .map(|e| serde_dynamo::from_item(e).unwrap())
            .collect();
        for &i in order {
            let kind = events[i]["event_type"].as_str().unwrap();
            let event = stored.iter().find(|e| e.event_type == kind).unwrap();
            for _ in 0..2 {
                let change = TableChange::NewEvent(Box::new(event.clone()));
                project(&projection, change).await.unwrap();
            }
        }
        let per_message = |mut item: Item| {
            // Only the key and the id differ between the 24 messages.
            for attribute in ["pk", "whatsapp_message_id"] {
                item.remove(attribute);
            }
            item
        };
        let derived = per_message(table.message(&wamid).await.unwrap());
        let projected = per_message(table.stored_message(&wamid).await.unwrap());
        assert_eq!(
            projected, derived,
            "{order:?}: the projection is the derived state"
        );
        finals.push((order.clone(), derived));
    }
    let (_, reference) = &finals[0];
    for (order, item) in &finals {
        assert_eq!(item, reference, "arrival order {order:?} gave another item");
    }
    assert_eq!(s(reference, "status"), "failed");
    for attribute in ["sent_at", "delivered_at", "read_at", "failed_at"] {
        assert!(reference.contains_key(attribute), "{attribute}");
    }
    assert_eq!(reference["status_history"].as_ss().unwrap().len(), 4);
}

#[tokio::test]
async fn without_a_failure_the_furthest_status_wins_and_warnings_change_nothing() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let wamid = "wamid.no-failure";
    for body in [
        receipt("message_read", "read", wamid, 3),
        receipt("message_failed", "warning", wamid, 5),
        receipt("message_sent", "sent", wamid, 1),
        receipt("message_failed", "warning", wamid, 6),
        receipt("message_delivered", "delivered", wamid, 2),
    ] {
        assert_eq!(
            send(
                &receiver,
                delivery("whatsapp", DEV_TOKEN, &body.to_string())
            )
            .await
            .status,
            200
        );
    }
    let item = table.message(wamid).await.unwrap();
    assert_eq!(s(&item, "status"), "read");
    let history = item["status_history"].as_ss().unwrap();
    assert_eq!(
        history.iter().filter(|h| h.ends_with(" warning")).count(),
        2,
        "two warnings, two entries"
    );
    assert_eq!(table.items_of_type("event").await.len(), 5);
}
