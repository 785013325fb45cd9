//! What a replay sends ([`ReplaySelection`], as the flags say it): the events of one message, of
//! one contact's conversation, or of an organization's time range — full items (with `body`), in
//! time order.

use std::collections::BTreeSet;

use super::cli::{ListArgs, ReplaySelection};
use super::error::EventsError;
use super::replay_item::ReplayItem;
use crate::queries::{Contact, EventQueries, Item, text};

/// Upper bound of an open time range: sorts after every stored `<time>#<event_id>`.
const END_OF_TIME: &str = "9999-12-31T23:59:59.999Z~";

impl ReplaySelection {
    /// The selected events, full items, in time order.
    pub async fn events(&self, queries: &EventQueries) -> Result<Vec<ReplayItem>, EventsError> {
        let items = match self {
            ReplaySelection::Message { wamid } => queries.message_events(wamid).await?,
            ReplaySelection::Conversation(args) => {
                conversation_events(queries, &args.organization_id, &args.contact).await?
            }
            ReplaySelection::List(args) => {
                queries.full_items(&args.entries(queries).await?).await?
            }
        };
        let mut events = ReplayItem::all_of(&items)?;
        events.sort_by(|a, b| a.key.cmp(&b.key));
        events.dedup_by(|a, b| a.key == b.key);
        if events.is_empty() {
            return Err(self.nothing_found());
        }
        Ok(events)
    }

    /// Why the selection is empty, for the operator (names what was looked for, never content:
    /// the kind of contact id only, never the number itself).
    pub fn nothing_found(&self) -> EventsError {
        EventsError::NotFound(match self {
            ReplaySelection::Message { wamid } => format!(
                "no events for WhatsApp message id {wamid:?} (check the id: it is \
                 FlowIQ's whatsapp_message_id, e.g. wamid.…)"
            ),
            ReplaySelection::Conversation(args) => format!(
                "no conversation for {} in organization {:?} (check both ids)",
                match args.contact {
                    Contact::WhatsappId(_) => "the given WhatsApp number",
                    Contact::ContactId(_) => "the given contact id",
                },
                args.organization_id
            ),
            ReplaySelection::List(args) => format!(
                "no events{} for organization {:?} from {} to {} (check the organization id and \
                 the time range)",
                match args.types.as_slice() {
                    [] => String::new(),
                    types => format!(" of type {}", types.join(", ")),
                },
                args.organization_id,
                args.since,
                args.until.as_deref().unwrap_or("now")
            ),
        })
    }
}

impl ListArgs {
    /// The `by-organization` index entries in the range, of the types (projected attributes
    /// only), oldest first.
    pub async fn entries(&self, queries: &EventQueries) -> Result<Vec<Item>, EventsError> {
        let until = self.until.as_deref().unwrap_or(END_OF_TIME);
        let (org, since) = (&self.organization_id, self.since.as_str());
        queries
            .organization_events(org, since, until, &self.types)
            .await
    }
}

/// A conversation's entries are `message` items (their events are in the message's partition)
/// and events without a message (web chat, calls).
async fn conversation_events(
    queries: &EventQueries,
    organization_id: &str,
    contact: &Contact,
) -> Result<Vec<Item>, EventsError> {
    let entries = queries.conversation(organization_id, contact).await?;
    // WhatsApp messages are listed by their content event (or, in a table written by the first
    // storage contract, by their `message` item): replay every event of each such message.
    let (messages, events): (Vec<Item>, Vec<Item>) = entries
        .into_iter()
        .partition(|entry| !text(entry, "whatsapp_message_id").is_empty());
    let mut items = queries.full_items(&events).await?;
    let wamids: BTreeSet<&str> = (messages.iter())
        .map(|entry| text(entry, "whatsapp_message_id"))
        .collect();
    for wamid in wamids {
        items.extend(queries.message_events(wamid).await?);
    }
    Ok(items)
}
