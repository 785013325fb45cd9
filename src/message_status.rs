//! Status rules for a message. The stored status must come out the same whatever order events
//! arrive in, so every rule is a merge that commutes: the status is the highest-ranked one seen,
//! per-status times are kept once, and the history is a set.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::webhook_event::{EventDetails, EventType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    pub fn of(event_type: &EventType) -> Direction {
        match event_type {
            EventType::MessageReceived => Direction::Inbound,
            _ => Direction::Outbound,
        }
    }
}

/// A message's status. Outbound: `sent < delivered < read`, and `failed` (failed or undelivered)
/// above them all, as a fact of its own that later receipts do not undo. Inbound: `received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Received,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Received => "received",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Failed => "failed",
        }
    }

    /// The order the stored status only ever climbs. `received` shares rank 1 with `sent`: they
    /// never meet on one message (one is inbound, the other outbound).
    pub fn rank(self) -> u8 {
        match self {
            MessageStatus::Received | MessageStatus::Sent => 1,
            MessageStatus::Delivered => 2,
            MessageStatus::Read => 3,
            MessageStatus::Failed => 4,
        }
    }
}

/// What one event tells about its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFact {
    /// The status the message reaches at least; `None` for facts that change no status (`warning`).
    pub status: Option<MessageStatus>,
    /// The per-status time this event sets once (e.g. `delivered_at`).
    pub time: Option<StatusTime>,
    /// The history label, e.g. `delivered`, `warning`.
    pub label: String,
}

impl StatusFact {
    /// `None` for events that say nothing about a message (`call`, unknown types).
    pub fn of(event_type: &EventType, details: &EventDetails) -> Option<StatusFact> {
        let fact = |status, time, label: &str| {
            Some(StatusFact {
                status,
                time,
                label: label.to_owned(),
            })
        };
        match event_type {
            EventType::MessageReceived => fact(
                Some(MessageStatus::Received),
                Some(StatusTime::Received),
                "received",
            ),
            // The full outbound row; `message_sent` is the receipt that carries the sent time.
            EventType::SentMessage => fact(Some(MessageStatus::Sent), None, "sent_message"),
            EventType::MessageSent => {
                fact(Some(MessageStatus::Sent), Some(StatusTime::Sent), "sent")
            }
            EventType::MessageDelivered => fact(
                Some(MessageStatus::Delivered),
                Some(StatusTime::Delivered),
                "delivered",
            ),
            EventType::MessageRead => {
                fact(Some(MessageStatus::Read), Some(StatusTime::Read), "read")
            }
            EventType::MessageFailed => {
                let status = match details {
                    EventDetails::Receipt {
                        status: Some(status),
                    } => status.as_str(),
                    _ => "failed",
                };
                match status {
                    "failed" => fact(
                        Some(MessageStatus::Failed),
                        Some(StatusTime::Failed),
                        "failed",
                    ),
                    "undelivered" => fact(
                        Some(MessageStatus::Failed),
                        Some(StatusTime::Undelivered),
                        "undelivered",
                    ),
                    // `warning` and values FlowIQ may add: recorded, status unchanged.
                    other => fact(None, None, other),
                }
            }
            EventType::Call | EventType::Other(_) => None,
        }
    }

    /// The history entry: `<occurred_at> <label>`; sorts by time as a string.
    pub fn history_entry(&self, occurred_at: &str) -> String {
        format!("{occurred_at} {}", self.label)
    }
}

/// A status whose time a message keeps, once: the attribute `<status>_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusTime {
    Received,
    Sent,
    Delivered,
    Read,
    Failed,
    Undelivered,
}

impl StatusTime {
    pub const ALL: [StatusTime; 6] = [
        StatusTime::Received,
        StatusTime::Sent,
        StatusTime::Delivered,
        StatusTime::Read,
        StatusTime::Failed,
        StatusTime::Undelivered,
    ];

    /// The `message` item's attribute.
    pub const fn attribute(self) -> &'static str {
        match self {
            StatusTime::Received => "received_at",
            StatusTime::Sent => "sent_at",
            StatusTime::Delivered => "delivered_at",
            StatusTime::Read => "read_at",
            StatusTime::Failed => "failed_at",
            StatusTime::Undelivered => "undelivered_at",
        }
    }
}

/// A message's per-status times, as the `message` item's attributes (sortable UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusTimes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undelivered_at: Option<String>,
}

impl StatusTimes {
    pub fn get(&self, time: StatusTime) -> Option<&str> {
        let slot = match time {
            StatusTime::Received => &self.received_at,
            StatusTime::Sent => &self.sent_at,
            StatusTime::Delivered => &self.delivered_at,
            StatusTime::Read => &self.read_at,
            StatusTime::Failed => &self.failed_at,
            StatusTime::Undelivered => &self.undelivered_at,
        };
        slot.as_deref()
    }

    /// The times that are set.
    pub fn iter(&self) -> impl Iterator<Item = (StatusTime, &str)> {
        StatusTime::ALL
            .into_iter()
            .filter_map(|time| Some((time, self.get(time)?)))
    }

    /// Keeps the earlier of the time held and `at`.
    fn keep_earliest(&mut self, time: StatusTime, at: &str) {
        let slot = match time {
            StatusTime::Received => &mut self.received_at,
            StatusTime::Sent => &mut self.sent_at,
            StatusTime::Delivered => &mut self.delivered_at,
            StatusTime::Read => &mut self.read_at,
            StatusTime::Failed => &mut self.failed_at,
            StatusTime::Undelivered => &mut self.undelivered_at,
        };
        if slot.as_deref().is_none_or(|held| at < held) {
            *slot = Some(at.to_owned());
        }
    }
}

/// The status part of a message item, computed in memory: the reference the stored item is
/// checked against (tests, reconciliation) and the documentation of the merge rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageState {
    pub status: Option<MessageStatus>,
    pub times: StatusTimes,
    pub history: BTreeSet<String>,
}

impl MessageState {
    pub fn apply(&mut self, fact: &StatusFact, occurred_at: &str) {
        if let Some(status) = fact.status
            && self
                .status
                .is_none_or(|current| current.rank() <= status.rank())
        {
            self.status = Some(status);
        }
        // The earliest time of each status, whatever order its events came in (the stored
        // projection's `if_not_exists` keeps the first to arrive; they differ only if FlowIQ
        // sent one status twice with different times).
        if let Some(time) = fact.time {
            self.times.keep_earliest(time, occurred_at);
        }
        self.history.insert(fact.history_entry(occurred_at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(event_type: EventType, status: &str) -> StatusFact {
        StatusFact::of(
            &event_type,
            &EventDetails::Receipt {
                status: Some(status.into()),
            },
        )
        .unwrap()
    }

    #[test]
    fn failed_and_undelivered_fail_warning_changes_nothing() {
        let failed = receipt(EventType::MessageFailed, "failed");
        assert_eq!(failed.status, Some(MessageStatus::Failed));
        assert_eq!(failed.time, Some(StatusTime::Failed));
        let undelivered = receipt(EventType::MessageFailed, "undelivered");
        assert_eq!(undelivered.status, Some(MessageStatus::Failed));
        assert_eq!(undelivered.label, "undelivered");
        let warning = receipt(EventType::MessageFailed, "warning");
        assert_eq!((warning.status, warning.time), (None, None));
        assert_eq!(StatusFact::of(&EventType::Call, &EventDetails::Other), None);
    }

    #[test]
    fn status_never_goes_back() {
        let mut state = MessageState::default();
        state.apply(&receipt(EventType::MessageRead, "read"), "t3");
        state.apply(&receipt(EventType::MessageSent, "sent"), "t1");
        assert_eq!(state.status, Some(MessageStatus::Read));
        state.apply(&receipt(EventType::MessageFailed, "failed"), "t4");
        state.apply(&receipt(EventType::MessageDelivered, "delivered"), "t2");
        assert_eq!(state.status, Some(MessageStatus::Failed));
    }
}
