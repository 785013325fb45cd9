//! The invariants checked once the world has quiesced (the third, that a 2xx is durable when it
//! is sent, is checked at that moment by the sender):
//! 1. every delivery answered 2xx is stored, exactly once (and every 400's body kept, once);
//! 2. no event is stored twice, and nothing is stored that FlowIQ did not send;
//! 4. 401 and 404 never store or queue anything;
//! 5. every message's derived state equals the fold of its stored events in another order, and,
//!    where every event of the message was stored, the state of all the events FlowIQ sent;
//! 6. the dead-letter queue holds only messages that are not queued deliveries, and the spill
//!    queue is empty.

use std::collections::{BTreeMap, HashMap};

use flowiq_webhooks::message_view;
use flowiq_webhooks::queued_delivery::QueuedDelivery;
use flowiq_webhooks::records::{EventItem, RejectedItem};

use super::flowiq::{Answer, Kind, Traffic};

/// What the table and the queues hold once the world has quiesced.
pub struct EndState {
    pub events: Vec<EventItem>,
    pub rejected: Vec<RejectedItem>,
    /// Messages left in the spill queue (waiting or in flight).
    pub queue_depth: usize,
    /// The bodies of the messages in the dead-letter queue.
    pub dead_letters: Vec<String>,
}

pub struct Checked {
    pub violations: Vec<String>,
    pub events_stored: u64,
    pub messages_complete: u64,
    pub messages_incomplete: u64,
}

/// `answers[i]` is what FlowIQ got for `traffic.deliveries[i]`.
pub fn check(traffic: &Traffic, answers: &[Answer], end: &EndState) -> Checked {
    let mut violations = Vec::new();
    let mut stored: HashMap<&str, usize> = HashMap::new();
    for item in &end.events {
        *stored.entry(item.event_id.as_str()).or_default() += 1;
    }
    let mut kept: HashMap<&str, usize> = HashMap::new();
    for item in &end.rejected {
        *kept.entry(item.body.as_deref().unwrap_or("")).or_default() += 1;
    }
    answered_is_kept(traffic, answers, &stored, &kept, &mut violations);
    stored_once_as_sent(traffic, end, &stored, &kept, &mut violations);
    let (messages_complete, messages_incomplete) =
        derived_states_are_folds(traffic, &end.events, &mut violations);
    queues_are_dry(end, &mut violations);
    Checked {
        violations,
        events_stored: end.events.len() as u64,
        messages_complete,
        messages_incomplete,
    }
}

/// 1 (and 4): each event answered 200 is stored once, each bad body answered 400 kept once.
fn answered_is_kept(
    traffic: &Traffic,
    answers: &[Answer],
    stored: &HashMap<&str, usize>,
    kept: &HashMap<&str, usize>,
    violations: &mut Vec<String>,
) {
    for (i, (delivery, answer)) in traffic.deliveries.iter().zip(answers).enumerate() {
        let Answer::Status(status, _) = answer else {
            continue;
        };
        match (delivery.kind, status) {
            (Kind::Event(n), 200) => {
                let event_id = traffic.events[n].event_id.as_str();
                let copies = stored.get(event_id).copied().unwrap_or(0);
                if copies != 1 {
                    violations.push(format!(
                        "1: delivery {i} of event {event_id} answered 200, stored {copies} times"
                    ));
                }
            }
            (Kind::BadBody, 400) => {
                let copies = kept.get(delivery.body.as_str()).copied().unwrap_or(0);
                if copies != 1 {
                    violations.push(format!(
                        "1: delivery {i} (a bad body) answered 400, kept {copies} times"
                    ));
                }
            }
            _ => {}
        }
    }
}

/// 2 (and 4: a stranger's event is no event FlowIQ sent): nothing stored twice, and what is
/// stored is what FlowIQ sent, byte for byte (so folding the stored events of a message that
/// lost none is folding FlowIQ's).
fn stored_once_as_sent(
    traffic: &Traffic,
    end: &EndState,
    stored: &HashMap<&str, usize>,
    kept: &HashMap<&str, usize>,
    violations: &mut Vec<String>,
) {
    let sent: HashMap<&str, &str> = traffic
        .events
        .iter()
        .map(|e| (e.event_id.as_str(), e.body.as_str()))
        .collect();
    for item in &end.events {
        let body = item.body().expect("a stored body reads back");
        if sent.get(item.event_id.as_str()) != Some(&body.as_ref()) {
            violations.push(format!(
                "2: event {} is stored with a body FlowIQ did not send with it",
                item.event_id
            ));
        }
    }
    for (event_id, copies) in stored {
        if *copies != 1 {
            violations.push(format!("2: event {event_id} stored {copies} times"));
        }
        if !sent.contains_key(event_id) {
            violations.push(format!(
                "2/4: event {event_id} stored, but FlowIQ sent no such event with the right token"
            ));
        }
    }
    let bad_bodies: Vec<&str> = traffic
        .deliveries
        .iter()
        .filter(|d| d.kind == Kind::BadBody)
        .map(|d| d.body.as_str())
        .collect();
    for (body, copies) in kept {
        if !bad_bodies.contains(body) {
            violations.push(format!("2/4: a rejected item nobody sent: {body:?}"));
        } else if *copies != 1 {
            violations.push(format!("2: a bad body kept {copies} times: {body:?}"));
        }
    }
}

/// 5: each message's derived state is the fold of its stored events in another order: FlowIQ's
/// (the true state) when every event FlowIQ made is stored, otherwise the table's in reverse.
/// Returns how many messages were (complete, incomplete).
fn derived_states_are_folds(
    traffic: &Traffic,
    events: &[EventItem],
    violations: &mut Vec<String>,
) -> (u64, u64) {
    let mut of_message: BTreeMap<&str, Vec<&EventItem>> = BTreeMap::new();
    for item in events {
        if let Some(wamid) = item.whatsapp_message_id.as_deref() {
            of_message.entry(wamid).or_default().push(item);
        }
    }
    // FlowIQ's events of each message, in the order FlowIQ made them.
    let mut truth: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for event in &traffic.events {
        truth
            .entry(event.whatsapp_message_id.as_str())
            .or_default()
            .push(event.event_id.as_str());
    }
    let by_id: HashMap<&str, &EventItem> =
        events.iter().map(|e| (e.event_id.as_str(), e)).collect();
    let (mut complete, mut incomplete) = (0, 0);
    for (wamid, all) in &truth {
        let items = of_message.get(wamid).cloned().unwrap_or_default();
        let derived = message_view::derive(items.iter().copied()).expect("stored bodies parse");
        let (fold, what): (Vec<&EventItem>, _) = if items.len() == all.len() {
            complete += 1;
            let in_order = all.iter().filter_map(|id| by_id.get(id).copied()).collect();
            (in_order, "the true state")
        } else {
            incomplete += 1;
            (
                items.iter().rev().copied().collect(),
                "its stored events folded in reverse",
            )
        };
        let expected = message_view::derive(fold).expect("bodies parse");
        if derived != expected {
            violations.push(format!(
                "5: {wamid}: derived state {derived:?} is not {what}: {expected:?}"
            ));
        }
    }
    (complete, incomplete)
}

/// 6: the spill queue is dry and the dead-letter queue holds only what cannot be read.
fn queues_are_dry(end: &EndState, violations: &mut Vec<String>) {
    if end.queue_depth != 0 {
        violations.push(format!(
            "6: the spill queue still holds {} messages",
            end.queue_depth
        ));
    }
    for body in &end.dead_letters {
        let readable = QueuedDelivery::from_json(body)
            .and_then(|queued| queued.body().and(queued.received()).map(|_| queued));
        if let Ok(queued) = readable {
            violations.push(format!(
                "6: the dead-letter queue holds a queued delivery (event {:?})",
                queued.event_id
            ));
        }
    }
}
