//! A WhatsApp message's state, derived from its events (storage contract v2, docs/data-model.md):
//! the fold of every event's [`MessageUpdate`] with the status rules of [`crate::message_status`].
//! The fold commutes, so the state is the same whatever order the events arrived in, and it is a
//! [`MessageItem`] (the optional stored projection writes exactly this), so readers and scripts
//! see one shape. Pure: events in, item out.

use crate::keys;
use crate::message_item::{
    MessageIdentity, MessageItem, MessageItemContent, MessageUpdate, message_update,
};
use crate::message_status::{Direction, MessageState, MessageStatus};
use crate::records::{EventItem, EventItemError, ItemType};

/// The `message` item of one message from its event items (any order, duplicates allowed);
/// `None` when no event carries a status fact for it (only warnings or no events). Other items
/// are skipped.
pub fn derive<'a>(
    events: impl IntoIterator<Item = &'a EventItem>,
) -> Result<Option<MessageItem>, EventItemError> {
    let mut fold: Option<Fold> = None;
    for item in events {
        if item.item_type != ItemType::Event {
            continue;
        }
        let event = item.webhook_event()?;
        let Some(update) = message_update(&event, item.contact_pk.as_deref(), item.expires_at)
        else {
            continue;
        };
        match &mut fold {
            Some(fold) => fold.apply(update),
            None => fold = Some(Fold::new(update)),
        }
    }
    Ok(fold.map(Fold::finish))
}

struct Fold {
    identity: MessageIdentity,
    state: MessageState,
    content: MessageItemContent,
    expires_at: Option<i64>,
}

impl Fold {
    fn new(update: MessageUpdate) -> Self {
        let mut state = MessageState::default();
        state.apply(&update.fact, &update.occurred_at);
        Fold {
            identity: update.identity,
            state,
            content: update.content,
            expires_at: update.expires_at,
        }
    }

    fn apply(&mut self, update: MessageUpdate) {
        // The smallest of each: every event of a message agrees, and a choice that does not
        // depend on the order keeps the fold commutative if one ever did not.
        fn smaller(kept: &mut Option<String>, new: Option<String>) {
            if let Some(new) = new
                && kept.as_ref().is_none_or(|kept| new < *kept)
            {
                *kept = Some(new);
            }
        }
        let (kept, new) = (&mut self.identity, update.identity);
        if new.platform.as_str() < kept.platform.as_str() {
            kept.platform = new.platform;
        }
        if new.direction == Direction::Inbound {
            kept.direction = Direction::Inbound;
        }
        smaller(&mut kept.organization_id, new.organization_id);
        smaller(&mut kept.whatsapp_id, new.whatsapp_id);
        smaller(&mut kept.contact_id, new.contact_id);
        smaller(&mut kept.contact_pk, new.contact_pk);
        smaller(&mut kept.contact_sk, new.contact_sk);
        // One content event per message (`message_received` or `sent_message`).
        self.content.fill_from(update.content);
        self.state.apply(&update.fact, &update.occurred_at);
        self.expires_at = self.expires_at.max(update.expires_at);
    }

    fn finish(self) -> MessageItem {
        let status = self.state.status;
        MessageItem {
            pk: keys::message_pk(&self.identity.whatsapp_message_id),
            sk: keys::MESSAGE_SK.to_owned(),
            item_type: ItemType::Message,
            identity: self.identity,
            status,
            status_rank: status.map(MessageStatus::rank),
            times: self.state.times,
            status_history: self.state.history,
            content: self.content,
            expires_at: self.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::{Value, json};

    use super::*;
    use crate::platform::Platform;
    use crate::records::{Received, Retention, event_item};
    use crate::webhook_event::WebhookEvent;

    /// Every sample delivery's event item, by WhatsApp message id.
    fn sample_messages() -> BTreeMap<String, Vec<EventItem>> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
        let mut messages: BTreeMap<String, Vec<EventItem>> = BTreeMap::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".json") || name.starts_with("dynamodb-stream") {
                continue;
            }
            let sample: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let body = sample["body"].as_str().unwrap();
            let body = if sample["isBase64Encoded"] == true {
                String::from_utf8(STANDARD.decode(body).unwrap()).unwrap()
            } else {
                body.to_owned()
            };
            let platform = if name.starts_with("web-") {
                Platform::Web
            } else {
                Platform::Whatsapp
            };
            let event = WebhookEvent::parse(platform, body.as_bytes()).unwrap();
            let item = event_item(
                event,
                &body,
                &Received::now(),
                Retention(Some(30)),
                &crate::contact_key::ContactKey::local_dev(),
            );
            if let Some(wamid) = item.whatsapp_message_id.clone() {
                messages.entry(wamid).or_default().push(item);
            }
        }
        messages
    }

    /// What the Python reference gets to see of an item: its stored attributes.
    fn as_input(item: &EventItem) -> Value {
        let mut input = json!({"platform": item.platform, "occurred_at": item.occurred_at,
            "expires_at": item.expires_at, "contact_pk": item.contact_pk});
        match (&item.body, &item.body_zd1) {
            (Some(text), _) => input["body"] = json!(text),
            (None, Some(bytes)) => input["body_zd1"] = json!(STANDARD.encode(bytes)),
            _ => panic!("a new item holds body or body_zd1"),
        }
        input
    }

    fn python_reference(items: &[&EventItem]) -> Value {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/reference/message_state.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("python3 is needed for this test (Debian: apt-get install python3): {e}")
            });
        let input: Vec<Value> = items.iter().map(|i| as_input(i)).collect();
        let text = serde_json::to_vec(&input).unwrap();
        child.stdin.take().unwrap().write_all(&text).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Every arrival order of each sample message's events (each permutation, and each with
    /// its first event delivered again at the end) derives one state.
    #[test]
    fn every_order_of_each_message_derives_the_same_state() {
        use itertools::Itertools as _;
        let messages = sample_messages();
        let mut orders = 0;
        for (wamid, events) in &messages {
            // 7 events would be 5,040 orders: the samples have fewer, and a message with more
            // must be split into its own test rather than silently sampled.
            assert!(events.len() <= 6, "{wamid}: {} events", events.len());
            let expected = derive(events.iter()).unwrap();
            for mut order in events.iter().permutations(events.len()) {
                assert_eq!(derive(order.iter().copied()).unwrap(), expected, "{wamid}");
                order.push(order[0]);
                assert_eq!(derive(order.iter().copied()).unwrap(), expected, "{wamid}");
                orders += 1;
            }
        }
        assert!(orders >= 30, "{orders}");
    }

    /// The Python reference agrees with [`derive`] on these orders of each sample message: as
    /// stored, reversed, and rotated through every starting point with a duplicate at the end
    /// (each order is a Python process, so not every permutation).
    #[test]
    fn the_python_reference_derives_the_same_state_forward_reversed_and_rotated() {
        let messages = sample_messages();
        assert!(messages.len() >= 5, "{}", messages.len());
        let mut compared = 0;
        for (wamid, events) in &messages {
            let mut orders = vec![events.iter().collect::<Vec<_>>()];
            orders.push(events.iter().rev().collect());
            // The lifecycle message's events rotated through every starting point, duplicates in.
            for start in 0..events.len() {
                let mut order: Vec<&EventItem> = events
                    .iter()
                    .cycle()
                    .skip(start)
                    .take(events.len())
                    .collect();
                order.push(order[0]);
                orders.push(order);
            }
            let mut results = Vec::new();
            for order in &orders {
                let rust = serde_json::to_value(derive(order.iter().copied()).unwrap()).unwrap();
                assert_eq!(
                    python_reference(order),
                    rust,
                    "{wamid}: {} events",
                    order.len()
                );
                results.push(rust);
                compared += 1;
            }
            assert!(
                results.windows(2).all(|w| w[0] == w[1]),
                "{wamid}: the same in each of these orders"
            );
        }
        assert!(compared >= 20, "{compared}");
    }
}
