//! Reproducible delivery scenarios (fixed seed): many messages and contacts, each message's
//! events, duplicates (some re-serialised), shuffled. And the check that a table holds exactly
//! what the unique events imply: each event once, each message equal to the in-memory merge.

use std::collections::{BTreeMap, BTreeSet};

use flowiq_webhooks::message_status::{MessageState, StatusFact};
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::webhook_event::WebhookEvent;
use serde_json::{Value, json};

use super::{TestTable, s};

pub struct Scenario {
    /// Bodies in the order they are sent (duplicates included).
    pub deliveries: Vec<String>,
    /// One body per distinct event.
    pub unique: Vec<String>,
}

const ORG: &str = "6f1c2b9e-3d4a-4e8b-9c7d-1a2b3c4d5e6f";

/// `total` deliveries of which about `duplicate_share` repeat an earlier event.
pub fn generate(seed: u64, total: usize, duplicate_share: f64) -> Scenario {
    let mut rng = fastrand::Rng::with_seed(seed);
    let unique_target = ((total as f64) * (1.0 - duplicate_share)).round() as usize;
    let contacts = (unique_target / 12).max(5);
    let mut unique = Vec::with_capacity(unique_target);
    let mut n = 0u32;
    while unique.len() < unique_target {
        n += 1;
        let wamid = format!("wamid.load-{seed}-{n:06}");
        let contact = format!("2783{:07}", rng.usize(0..contacts));
        let start = rng.u32(0..86_000);
        let at = |offset: u32| {
            let t = start + offset;
            format!(
                "2026-03-07T{:02}:{:02}:{:02}.{:03}Z",
                t / 3600,
                t / 60 % 60,
                t % 60,
                n % 1000
            )
        };
        let receipt = |event_type: &str, status: &str, offset: u32| {
            json!({"event_type": event_type, "whatsapp_message_id": wamid, "organization_id": ORG,
                   "status": status, "timestamp": at(offset), "whatsapp_id": contact})
        };
        let mut events = Vec::new();
        if rng.u8(0..5) == 0 {
            events.push(json!({"event_type": "message_received", "organization_id": ORG, "timestamp": at(0),
                "whatsapp_message_id": wamid, "message_type": "text", "message": format!("hello {n}"),
                "whatsapp_id": contact, "contact_id": format!("contact-{contact}")}));
        } else {
            events.push(json!({"event_type": "sent_message", "id": format!("row-{n}"), "organization_id": ORG,
                "message": format!("update {n}"), "sender_type": "bot-whatsapp", "created_at": at(0),
                "whatsapp_message_id": wamid, "whatsapp_id": contact, "broadcast_id": null,
                "message_status": "sent", "timestamp": at(1)}));
            events.push(receipt("message_sent", "sent", 1));
            events.push(receipt("message_delivered", "delivered", 2));
            match rng.u8(0..10) {
                0 => events.push(receipt("message_failed", "failed", 3)),
                1 => events.push(receipt("message_failed", "warning", 3)),
                2 | 3 => {}
                _ => events.push(receipt("message_read", "read", 3 + rng.u32(0..600))),
            }
        }
        unique.extend(events.iter().map(Value::to_string));
    }
    unique.truncate(unique_target);

    let mut deliveries = unique.clone();
    while deliveries.len() < total {
        let original = &unique[rng.usize(0..unique.len())];
        deliveries.push(if rng.bool() {
            original.clone()
        } else {
            reversed_keys(original)
        });
    }
    rng.shuffle(&mut deliveries);
    Scenario { deliveries, unique }
}

/// The same event with its keys in reverse order and spaces: a re-serialised redelivery.
fn reversed_keys(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap();
    let fields: Vec<String> = value
        .as_object()
        .unwrap()
        .iter()
        .rev()
        .map(|(k, v)| format!("{} : {v}", serde_json::to_string(k).unwrap()))
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

pub struct Verified {
    pub events: usize,
    pub messages: usize,
}

/// The table holds each unique event exactly once, and each message item equals the merge of its
/// events computed in memory (so no status went backwards).
pub async fn verify(table: &TestTable, scenario: &Scenario) -> Verified {
    let mut expected_ids = BTreeSet::new();
    let mut expected_messages: BTreeMap<String, MessageState> = BTreeMap::new();
    for body in &scenario.unique {
        let event = WebhookEvent::parse(Platform::Whatsapp, body.as_bytes()).unwrap();
        expected_ids.insert(event.event_id.to_string());
        if let (Some(wamid), Some(fact)) = (
            &event.whatsapp_message_id,
            StatusFact::of(&event.event_type, &event.details),
        ) {
            expected_messages
                .entry(wamid.clone())
                .or_default()
                .apply(&fact, event.occurred_at.as_deref().unwrap());
        }
    }
    let events = table.items_of_type("event").await;
    let stored_ids: BTreeSet<String> = events.iter().map(|e| s(e, "event_id").to_owned()).collect();
    assert_eq!(events.len(), stored_ids.len(), "an event is stored twice");
    assert_eq!(
        stored_ids, expected_ids,
        "stored events differ from the unique events sent"
    );

    let messages = table.messages().await;
    assert_eq!(messages.len(), expected_messages.len());
    for message in &messages {
        let wamid = s(message, "whatsapp_message_id");
        let expected = &expected_messages[wamid];
        assert_eq!(
            s(message, "status"),
            expected.status.map(|st| st.as_str()).unwrap_or(""),
            "{wamid}: status"
        );
        let history: BTreeSet<String> = message["status_history"]
            .as_ss()
            .unwrap()
            .iter()
            .cloned()
            .collect();
        assert_eq!(history, expected.history, "{wamid}: history");
        for (time, at) in expected.times.iter() {
            let attribute = time.attribute();
            assert_eq!(s(message, attribute), at, "{wamid}: {attribute}");
        }
    }
    Verified {
        events: events.len(),
        messages: messages.len(),
    }
}
