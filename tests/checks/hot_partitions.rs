//! No hot keys: a 100,000-recipient broadcast from one organization (sent_message, message_sent,
//! delivered and read for each recipient) spreads its writes so that no partition-key value of
//! the table or of any index takes more than 5 % of them. Pure key logic, no DynamoDB.

use std::collections::HashMap;

use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::records::{Received, Retention, event_item};
use flowiq_webhooks::webhook_event::WebhookEvent;
use serde_json::json;

const RECIPIENTS: u32 = 100_000;
const MAX_SHARE: f64 = 0.05;

#[derive(Default)]
struct Writes(HashMap<String, u64>);

impl Writes {
    fn add(&mut self, key: &str) {
        *self.0.entry(key.to_owned()).or_default() += 1;
    }

    fn largest_share(&self) -> (f64, &str) {
        let total: u64 = self.0.values().sum();
        let (key, most) = self.0.iter().max_by_key(|(_, n)| **n).unwrap();
        (*most as f64 / total as f64, key)
    }
}

#[test]
fn a_one_organization_broadcast_has_no_hot_partition() {
    let org = "6f1c2b9e-3d4a-4e8b-9c7d-1a2b3c4d5e6f";
    let received = Received::now();
    let (mut table, mut by_contact, mut by_organization) =
        (Writes::default(), Writes::default(), Writes::default());
    for n in 0..RECIPIENTS {
        let wamid = format!("wamid.broadcast-{n:06}");
        let contact = format!("2783{n:07}");
        let at = |second: u32| format!("2026-03-07T10:{:02}:{:02}.000Z", second / 60, second % 60);
        let bodies = [
            json!({"event_type": "sent_message", "id": format!("row-{n}"), "organization_id": org, "message": "Sale!",
                   "sender_type": "bot-whatsapp", "broadcast_id": "b-1", "whatsapp_message_id": wamid,
                   "whatsapp_id": contact, "timestamp": at(n % 3600)}),
            json!({"event_type": "message_sent", "whatsapp_message_id": wamid, "organization_id": org,
                   "status": "sent", "timestamp": at(n % 3600), "whatsapp_id": contact}),
            json!({"event_type": "message_delivered", "whatsapp_message_id": wamid, "organization_id": org,
                   "status": "delivered", "timestamp": at((n + 1) % 3600), "whatsapp_id": contact}),
            json!({"event_type": "message_read", "whatsapp_message_id": wamid, "organization_id": org,
                   "status": "read", "timestamp": at((n + 2) % 3600), "whatsapp_id": contact}),
        ];
        for body in bodies {
            let text = body.to_string();
            let event = WebhookEvent::parse(Platform::Whatsapp, text.as_bytes()).unwrap();
            let item = event_item(
                event,
                &text,
                &received,
                Retention(None),
                &flowiq_webhooks::contact_key::ContactKey::local_dev(),
            );
            // One write per delivery: the event, and its index entries. The conversation
            // index lists the content event (sent_message) only.
            table.add(&item.pk);
            if let Some(contact) = &item.contact_pk {
                assert_eq!(item.event_type, "sent_message", "receipts are not listed");
                by_contact.add(contact);
            }
            by_organization.add(
                item.org_pk
                    .as_deref()
                    .expect("every broadcast event has an organization"),
            );
        }
    }
    for (name, writes) in [
        ("table", &table),
        ("by-contact", &by_contact),
        ("by-organization", &by_organization),
    ] {
        let (share, key) = writes.largest_share();
        println!(
            "{name}: {} partition keys, largest share {:.3} % ({key})",
            writes.0.len(),
            share * 100.0
        );
        assert!(
            share <= MAX_SHARE,
            "{name}: {key} takes {:.2} % of the writes",
            share * 100.0
        );
    }
}
