//! A WhatsApp message's state as one type: [`MessageItem`], the `message` item of
//! docs/data-model.md, which readers derive from the message's events ([`crate::message_view`])
//! and the optional projection stores; and [`MessageUpdate`], what one event merges into it. The
//! attribute names are these types' serde names, defined once. Pure.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::keys;
use crate::message_status::{Direction, MessageStatus, StatusFact, StatusTimes};
use crate::platform::Platform;
use crate::records::ItemType;
use crate::webhook_event::{EventDetails, MessageContent, WebhookEvent};

/// What every event of a message agrees on: each event's update writes it whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageIdentity {
    pub whatsapp_message_id: String,
    pub platform: Platform,
    pub direction: Direction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// The content event's entry in its contact's conversation (the `by-contact` index): the
    /// event item's `contact_pk`, and `<occurred_at>#<whatsapp_message_id>`. Receipts leave it
    /// absent, so they never move the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_sk: Option<String>,
}

/// Content from `message_received` / `sent_message` (one such event per message), as the
/// `message` item's attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageItemContent {
    /// FlowIQ's `message`: `text` says what it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_context_id: Option<String>,
    /// JSON text of FlowIQ's `location_data`, not a map: DynamoDB refuses maps nested deeper
    /// than 32 levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// FlowIQ's row `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flowiq_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_receipt_received: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_receipt_received: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_receipt_received: Option<bool>,
    /// JSON text of the web platform's `more_data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more_data: Option<String>,
}

impl MessageItemContent {
    fn of(content: &MessageContent) -> Self {
        MessageItemContent {
            text: content.message.clone(),
            message_type: content.message_type.clone(),
            sender_type: content.sender_type.clone(),
            media_type: content.media_type.clone(),
            media_url: content.media_url.clone(),
            media_file_name: content.media_file_name.clone(),
            reply_context_id: content.reply_context_id.clone(),
            location: content.location_data.as_ref().map(json_text),
            broadcast_id: content.broadcast_id.clone(),
            member_id: content.member_id.clone(),
            created_at: content.created_at.clone(),
            flowiq_message_id: content.id.clone(),
            sent_receipt_received: content.sent_receipt_received,
            delivered_receipt_received: content.delivered_receipt_received,
            read_receipt_received: content.read_receipt_received,
            more_data: content
                .more_data
                .as_ref()
                .filter(|v| !v.is_null())
                .map(json_text),
        }
    }

    /// Each attribute this content lacks, from `other`: the first content to arrive wins, per
    /// attribute (a message has one content event, so they never differ).
    pub fn fill_from(&mut self, other: MessageItemContent) {
        fn fill<T>(kept: &mut Option<T>, new: Option<T>) {
            if kept.is_none() {
                *kept = new;
            }
        }
        fill(&mut self.text, other.text);
        fill(&mut self.message_type, other.message_type);
        fill(&mut self.sender_type, other.sender_type);
        fill(&mut self.media_type, other.media_type);
        fill(&mut self.media_url, other.media_url);
        fill(&mut self.media_file_name, other.media_file_name);
        fill(&mut self.reply_context_id, other.reply_context_id);
        fill(&mut self.location, other.location);
        fill(&mut self.broadcast_id, other.broadcast_id);
        fill(&mut self.member_id, other.member_id);
        fill(&mut self.created_at, other.created_at);
        fill(&mut self.flowiq_message_id, other.flowiq_message_id);
        fill(&mut self.sent_receipt_received, other.sent_receipt_received);
        fill(
            &mut self.delivered_receipt_received,
            other.delivered_receipt_received,
        );
        fill(&mut self.read_receipt_received, other.read_receipt_received);
        fill(&mut self.more_data, other.more_data);
    }
}

fn json_text(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("JSON values always serialise")
}

/// A `message` item: the fold of every [`MessageUpdate`] of one message. Derived from the events
/// by [`crate::message_view::derive`], stored by the optional projection, read back from the
/// table or its stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageItem {
    pub pk: String,
    pub sk: String,
    pub item_type: ItemType,
    #[serde(flatten)]
    pub identity: MessageIdentity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MessageStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_rank: Option<u8>,
    #[serde(flatten)]
    pub times: StatusTimes,
    /// `<occurred_at> <label>` per status event; a string set.
    #[serde(default, with = "serde_dynamo::string_set")]
    pub status_history: BTreeSet<String>,
    #[serde(flatten)]
    pub content: MessageItemContent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// The order-independent update of one `message` item (see [`crate::message_status`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageUpdate {
    /// Plain sets, identical whichever event writes them.
    pub identity: MessageIdentity,
    /// Empty but for `message_received` / `sent_message`.
    pub content: MessageItemContent,
    pub fact: StatusFact,
    pub occurred_at: String,
    pub expires_at: Option<i64>,
}

impl MessageUpdate {
    pub fn history_entry(&self) -> String {
        self.fact.history_entry(&self.occurred_at)
    }
}

/// The merge of one event into its message's state: what the optional stored projection writes
/// to the `message` item (docs/data-model.md), and what [`crate::message_view`] folds. `None`
/// for events that belong to no message. `contact_pk` is the event item's: copied, not computed,
/// so the projection needs no contact key.
pub fn message_update(
    event: &WebhookEvent,
    contact_pk: Option<&str>,
    expires_at: Option<i64>,
) -> Option<MessageUpdate> {
    let wamid = event.whatsapp_message_id.clone()?;
    let fact = StatusFact::of(&event.event_type, &event.details)?;
    let occurred_at = event
        .occurred_at
        .clone()
        .unwrap_or_else(|| keys::UNDATED.to_owned());
    let content = match &event.details {
        EventDetails::Inbound(content) | EventDetails::Outbound(content) => Some(content),
        _ => None,
    };
    // Only the content event (one per message) places the message in its contact's
    // conversation: receipts never move it, so the index entry is written once.
    let contact_pk = content.and(contact_pk);
    let identity = MessageIdentity {
        contact_sk: contact_pk.map(|_| [&occurred_at, "#", &wamid].concat()),
        contact_pk: contact_pk.map(str::to_owned),
        whatsapp_message_id: wamid,
        platform: event.platform,
        direction: Direction::of(&event.event_type),
        organization_id: event.organization_id.clone(),
        whatsapp_id: event.whatsapp_id.clone(),
        contact_id: event.contact_id.clone(),
    };
    Some(MessageUpdate {
        identity,
        content: content.map(MessageItemContent::of).unwrap_or_default(),
        fact,
        occurred_at,
        expires_at,
    })
}
