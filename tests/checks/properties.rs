//! Properties over generated inputs (proptest): event ids are stable under re-serialisation and
//! differ when content differs; the message status merge does not depend on arrival order.

use flowiq_webhooks::event_id::EventId;
use flowiq_webhooks::message_status::{MessageState, StatusFact};
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::webhook_event::{EventDetails, EventType, WebhookEvent};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A FlowIQ-like body: an object with an event type and arbitrary other fields.
fn body() -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map("[a-z_]{1,10}", json_value(), 0..8),
        "[a-z_]{1,20}",
    )
        .prop_map(|(fields, event_type)| {
            let mut object: Map<String, Value> = fields.into_iter().collect();
            object.insert(
                "event_type".into(),
                Value::String(format!("x_{event_type}")),
            );
            Value::Object(object)
        })
}

/// The same JSON with object keys in another order and other whitespace.
fn reserialise(value: &Value, rng: &mut fastrand::Rng, out: &mut String) {
    let space = |rng: &mut fastrand::Rng, out: &mut String| {
        for _ in 0..rng.usize(0..3) {
            out.push([' ', '\n', '\t'][rng.usize(0..3)]);
        }
    };
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            rng.shuffle(&mut entries);
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(rng, out);
                out.push_str(&serde_json::to_string(key).unwrap());
                space(rng, out);
                out.push(':');
                reserialise(item, rng, out);
            }
            space(rng, out);
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(rng, out);
                reserialise(item, rng, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&serde_json::to_string(scalar).unwrap()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn event_id_is_stable_under_reserialisation(body in body(), seed in any::<u64>()) {
        let compact = body.to_string();
        let mut other = String::new();
        reserialise(&body, &mut fastrand::Rng::with_seed(seed), &mut other);
        let a = WebhookEvent::parse(Platform::Whatsapp, compact.as_bytes()).unwrap();
        let b = WebhookEvent::parse(Platform::Whatsapp, other.as_bytes()).unwrap();
        prop_assert_eq!(a.event_id, b.event_id);
    }

    #[test]
    fn event_id_changes_when_any_value_changes(body in body(), field in "[a-z_]{1,10}") {
        let mut changed = body.clone();
        let object = changed.as_object_mut().unwrap();
        let new_value = match object.get(&field) {
            Some(Value::String(s)) => Value::String(format!("{s}.")),
            Some(_) => Value::String("changed".into()),
            None => Value::Null,
        };
        object.insert(field, new_value);
        prop_assume!(changed != body);
        prop_assert_ne!(EventId::of(Platform::Whatsapp, &body), EventId::of(Platform::Whatsapp, &changed));
    }
}

fn fact(kind: u8) -> StatusFact {
    let (event_type, status) = match kind % 6 {
        0 => (EventType::MessageSent, "sent"),
        1 => (EventType::MessageDelivered, "delivered"),
        2 => (EventType::MessageRead, "read"),
        3 => (EventType::MessageFailed, "failed"),
        4 => (EventType::MessageFailed, "undelivered"),
        _ => (EventType::MessageFailed, "warning"),
    };
    StatusFact::of(
        &event_type,
        &EventDetails::Receipt {
            status: Some(status.into()),
        },
    )
    .unwrap()
}

fn fold(events: &[(u8, u32)]) -> MessageState {
    let mut state = MessageState::default();
    for (kind, second) in events {
        state.apply(
            &fact(*kind),
            &format!(
                "2026-03-07T00:{:02}:{:02}.000Z",
                second / 60 % 60,
                second % 60
            ),
        );
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A message's history in any arrival order gives the same state: each timed status at most
    /// once plus any number of warnings (a real history), and with repeated statuses too, where
    /// the status and the history still never depend on the order.
    #[test]
    fn message_state_does_not_depend_on_arrival_order(
        timed in prop::sample::subsequence(vec![0u8, 1, 2, 3, 4], 0..=5),
        warnings in 0usize..4,
        repeats in prop::collection::vec(0u8..6, 0..6),
        seconds in prop::collection::vec(0u32..3600, 15),
        shuffle_seed in any::<u64>(),
    ) {
        let mut rng = fastrand::Rng::with_seed(shuffle_seed);
        let kinds = timed.into_iter().chain(std::iter::repeat_n(5, warnings));
        let history: Vec<(u8, u32)> = kinds.zip(seconds.iter().copied()).collect();
        let mut shuffled = history.clone();
        rng.shuffle(&mut shuffled);
        prop_assert_eq!(fold(&history), fold(&shuffled));

        let mut repeated = history;
        repeated.extend(repeats.into_iter().zip(seconds.into_iter().rev()));
        let mut shuffled = repeated.clone();
        rng.shuffle(&mut shuffled);
        let (a, b) = (fold(&repeated), fold(&shuffled));
        prop_assert_eq!(a.status, b.status);
        prop_assert_eq!(a.history, b.history);
    }
}
