//! A message's item comes out identical whatever order its events arrive in.

use flowiq_webhooks::records::Retention;
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
        for &i in order {
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
        }
        let mut item = table.message(&wamid).await.unwrap();
        // Only the key and the id differ between the 24 messages.
        for per_message in ["pk", "whatsapp_message_id"] {
            item.remove(per_message);
        }
        finals.push((order.clone(), item));
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
