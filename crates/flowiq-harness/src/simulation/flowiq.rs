//! FlowIQ's side: one seed's events (outbound messages with their receipts, inbound messages),
//! and the deliveries that carry them. Each event is sent once; some are redelivered (at once,
//! racing the first copy, or minutes later, racing the drain), arrival order is random, and some
//! receipts are never sent (FlowIQ lost them). A few deliveries are not accepted (a body that is
//! not JSON), carry a wrong token, or take a wrong path.

use std::time::Duration;

use flowiq_webhooks::event_id::EventId;
use flowiq_webhooks::platform::Platform;
use serde_json::{Value, json};

use super::fault_plan::DELIVERY_PERIOD;

pub use crate::test_table::DEV_TOKEN as TOKEN;
const WRONG_TOKEN: &str = "wrong-token-but-long-enough-0123456789";

/// One event FlowIQ has to tell.
pub struct TrueEvent {
    pub body: String,
    pub event_id: String,
    pub whatsapp_message_id: String,
    /// Never sent: FlowIQ lost it.
    pub lost: bool,
}

/// What FlowIQ got back for one delivery: a status and the `status` field of a 200, or nothing
/// (the instance crashed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Answer {
    Status(u16, Option<String>),
    Crashed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A copy of event `n` (the first, or a redelivery).
    Event(usize),
    /// A body that is not JSON: answered 400 and kept.
    BadBody,
    /// A wrong token (401) or a wrong path (404): nothing may be stored or queued.
    Stranger { not_found: bool },
}

pub struct Delivery {
    pub at: Duration,
    pub kind: Kind,
    pub path: String,
    pub body: String,
}

pub struct Traffic {
    pub events: Vec<TrueEvent>,
    pub deliveries: Vec<Delivery>,
    /// Poison messages some other producer puts on the spill queue, and when.
    pub poison: Vec<(Duration, String)>,
}

/// About `target` deliveries, drawn from `rng`.
pub fn traffic(rng: &mut fastrand::Rng, target: usize) -> Traffic {
    let period = DELIVERY_PERIOD.as_millis() as u64;
    let path = format!("/webhooks/whatsapp/{TOKEN}");
    // Two in a hundred deliveries are bad bodies, two strangers; the rest carry events.
    let others = (target / 50).max(1);
    let mut events = Vec::new();
    let mut deliveries = Vec::new();
    let mut message = 0;
    while deliveries.len() + 2 * others < target {
        message += 1;
        let wamid = format!("wamid.sim-{message}");
        let bodies = if rng.u8(..5) == 0 {
            vec![inbound(&wamid, message)]
        } else {
            outbound(rng, &wamid, message)
        };
        for (n, body) in bodies.into_iter().enumerate() {
            // The id FlowIQ's event has (the same function as the receiver's, on the document
            // before it is serialised: no parse).
            let event_id = EventId::of(Platform::Whatsapp, &body).into_string();
            let event = TrueEvent {
                body: body.to_string(),
                event_id,
                whatsapp_message_id: wamid.clone(),
                // A receipt lost by FlowIQ (never the message's first event).
                lost: n > 0 && rng.u8(..40) == 0,
            };
            if !event.lost {
                deliveries.extend(deliveries_of(rng, events.len(), &event.body, &path));
            }
            events.push(event);
        }
    }
    deliveries.extend(bad_bodies_and_strangers(rng, others, &path));
    let poison = (0..rng.usize(..=3))
        .map(|n| {
            let at = Duration::from_millis(rng.u64(..period));
            (at, format!("not a queued delivery {n}"))
        })
        .collect();
    deliveries.sort_by_key(|d| d.at);
    Traffic {
        events,
        deliveries,
        poison,
    }
}

/// The deliveries of FlowIQ's event `n`: one at a random moment, and one in ten delivered again
/// at the same moment (concurrently), soon after, or minutes later.
fn deliveries_of(rng: &mut fastrand::Rng, n: usize, body: &str, path: &str) -> Vec<Delivery> {
    let at = rng.u64(..DELIVERY_PERIOD.as_millis() as u64);
    let delivery = |at: u64| Delivery {
        at: Duration::from_millis(at),
        kind: Kind::Event(n),
        path: path.to_owned(),
        body: body.to_owned(),
    };
    let mut deliveries = vec![delivery(at)];
    if rng.u8(..10) == 0 {
        let later = match rng.u8(..3) {
            0 => 0,
            1 => rng.u64(..3_000),
            _ => rng.u64(..600_000),
        };
        deliveries.push(delivery(at + later));
    }
    deliveries
}

/// `count` bad bodies (a 400, kept) and as many strangers (a wrong token: 401, or a platform
/// that does not exist: 404), each pair at a random moment.
fn bad_bodies_and_strangers(rng: &mut fastrand::Rng, count: usize, path: &str) -> Vec<Delivery> {
    let mut deliveries = Vec::with_capacity(2 * count);
    for n in 0..count {
        let at = Duration::from_millis(rng.u64(..DELIVERY_PERIOD.as_millis() as u64));
        deliveries.push(Delivery {
            at,
            kind: Kind::BadBody,
            path: path.to_owned(),
            body: format!("{{not json {n}"),
        });
        let not_found = rng.bool();
        let stranger = format!("wamid.stranger-{n}");
        deliveries.push(Delivery {
            at,
            kind: Kind::Stranger { not_found },
            path: if not_found {
                format!("/webhooks/sms/{TOKEN}")
            } else {
                format!("/webhooks/whatsapp/{WRONG_TOKEN}")
            },
            body: receipt(&stranger, "read", 1, 3).to_string(),
        });
    }
    deliveries
}

fn outbound(rng: &mut fastrand::Rng, wamid: &str, message: usize) -> Vec<Value> {
    let mut bodies = vec![
        json!({"event_type": "sent_message", "id": format!("row-{message}"),
            "whatsapp_message_id": wamid, "organization_id": "org-sim",
            "message": "Your order shipped", "sender_type": "bot-whatsapp",
            "timestamp": "2026-03-07T10:00:00Z", "whatsapp_id": "27830000001"}),
        receipt(wamid, "sent", message, 1),
        receipt(wamid, "delivered", message, 2),
    ];
    match rng.u8(..10) {
        0..6 => bodies.push(receipt(wamid, "read", message, 3)),
        6..8 => bodies.push(receipt(wamid, "failed", message, 3)),
        _ => {}
    }
    bodies
}

fn inbound(wamid: &str, message: usize) -> Value {
    json!({"event_type": "message_received", "organization_id": "org-sim",
        "timestamp": "2026-03-07T09:00:00Z", "whatsapp_message_id": wamid,
        "message_type": "text", "message": format!("Hello {message}"),
        "whatsapp_id": "27830000002"})
}

fn receipt(wamid: &str, status: &str, message: usize, second: u32) -> Value {
    json!({"event_type": format!("message_{status}"), "whatsapp_message_id": wamid,
        "organization_id": "org-sim", "status": status,
        "timestamp": format!("2026-03-07T10:{:02}:0{second}Z", message % 60),
        "whatsapp_id": "27830000001"})
}
