//! What a replay sends ([`ReplaySelection`], as the flags say it): the events of one message, of
//! one contact's conversation, or of an organization's time range — full items (with `body`), in
//! time order.

use super::cli::{ListArgs, ReplaySelection};
use super::error::EventsError;
use super::replay_item::{ReplayItem, in_time_order};
use super::time_arg::TimeArg;
use crate::queries::{Contact, EventQueries, Item, text};

/// Upper bound of an open time range: sorts after every stored `<time>#<event_id>`.
pub const END_OF_TIME: &str = "9999-12-31T23:59:59.999Z~";

/// GetItems in flight when reading full items of index entries.
const READ_CONCURRENCY: usize = 16;

impl ReplaySelection {
    /// The selected events, full items, in time order.
    pub async fn events(&self, queries: &EventQueries) -> Result<Vec<ReplayItem>, EventsError> {
        let items = match self {
            ReplaySelection::Message {
                whatsapp_message_id,
            } => queries.message_events(whatsapp_message_id).await?,
            ReplaySelection::Conversation(args) => {
                conversation_events(queries, &args.organization_id, &args.contact).await?
            }
            ReplaySelection::List(args) => {
                let entries = args.entries(queries).await?;
                queries.full_items(&entries, READ_CONCURRENCY).await?
            }
        };
        let mut events = Vec::with_capacity(items.len());
        for item in &items {
            events.extend(ReplayItem::from_item(item)?);
        }
        let events = in_time_order(events);
        if events.is_empty() {
            return Err(EventsError::NotFound(self.nothing_found()));
        }
        Ok(events)
    }

    /// Why the selection is empty, for the operator (names what was looked for, never content).
    pub fn nothing_found(&self) -> String {
        match self {
            ReplaySelection::Message {
                whatsapp_message_id,
            } => format!(
                "no events for WhatsApp message id {whatsapp_message_id:?} (check the id: it is \
                 FlowIQ's whatsapp_message_id, e.g. wamid.…)"
            ),
            ReplaySelection::Conversation(args) => format!(
                "no conversation for {} in organization {:?} (check both ids)",
                describe_contact(&args.contact),
                args.organization_id
            ),
            ReplaySelection::List(args) => {
                let types = if args.types.is_empty() {
                    String::new()
                } else {
                    format!(" of type {}", args.types.join(", "))
                };
                format!(
                    "no events{types} for organization {:?} from {} to {} (check \
                     the organization id and the time range)",
                    args.organization_id,
                    args.since.as_str(),
                    args.until.as_ref().map_or("now", TimeArg::as_str)
                )
            }
        }
    }
}

impl ListArgs {
    /// The `by-organization` index entries in the range, of the types (projected attributes
    /// only), oldest first.
    pub async fn entries(&self, queries: &EventQueries) -> Result<Vec<Item>, EventsError> {
        let until = self.until.as_ref().map_or(END_OF_TIME, TimeArg::as_str);
        let entries = queries.organization_events_of_types(
            &self.organization_id,
            self.since.as_str(),
            until,
            &self.types,
        );
        Ok(entries.await?)
    }
}

/// How a contact is named in messages: the kind of id only, never the number itself.
pub fn describe_contact(contact: &Contact) -> &'static str {
    match contact {
        Contact::WhatsappId(_) => "the given WhatsApp number",
        Contact::ContactId(_) => "the given contact id",
    }
}

/// A conversation's entries are `message` items (their events are in the message's partition)
/// and events without a message (web chat, calls).
async fn conversation_events(
    queries: &EventQueries,
    organization_id: &str,
    contact: &Contact,
) -> Result<Vec<Item>, EventsError> {
    let entries = queries.conversation_of(organization_id, contact).await?;
    // WhatsApp messages are listed by their content event (or, in a table written by the first
    // storage contract, by their `message` item): replay every event of each such message.
    let (messages, events): (Vec<Item>, Vec<Item>) = entries
        .into_iter()
        .partition(|entry| !text(entry, "whatsapp_message_id").is_empty());
    let mut items = queries.full_items(&events, READ_CONCURRENCY).await?;
    let wamids: std::collections::BTreeSet<&str> = messages
        .iter()
        .map(|entry| text(entry, "whatsapp_message_id"))
        .collect();
    for wamid in wamids {
        items.extend(queries.message_events(wamid).await?);
    }
    Ok(items)
}
