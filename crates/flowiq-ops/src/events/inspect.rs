//! The read-only subcommands: `message`, `conversation`, `list`, `rejected`. Each prints what the
//! operator asked for (stored attributes included: that is the point), as a table or JSON lines.

use std::io::Write;

use serde_json::json;

use super::cli::{ConversationArgs, ListArgs, ReplaySelection};
use super::cursor::encode_page_cursor;
use super::error::EventsError;
use super::output::{Format, stored_body, write_items, write_json_line, write_table};
use super::replay_item::ReplayItem;
use crate::exit_status::ExitStatus;
use crate::queries::{EventQueries, Item, derived_message, text};
use flowiq_webhooks::keys;
use flowiq_webhooks::records::{EventItem, ItemType};
use flowiq_webhooks::webhook_event::EventDetails;

/// Message text in a table is cut to this display width (`--json` shows it whole).
const TEXT_WIDTH: u16 = 60;
/// Reasons of rejected deliveries likewise.
const REASON_WIDTH: u16 = 100;
/// Attributes of a message shown in its table form (all are in the JSON form).
const MESSAGE_FIELDS: &[&str] = &[
    "whatsapp_message_id",
    "status",
    "direction",
    "platform",
    "organization_id",
    "whatsapp_id",
    "contact_id",
    "received_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "undelivered_at",
    "message_type",
    "sender_type",
    "text",
    "media_type",
    "media_url",
    "created_at",
    "flowiq_message_id",
];

pub async fn message(
    queries: &EventQueries,
    wamid: &str,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    // One Query: the events, and the state derived from them.
    let events = queries.message_events(wamid).await?;
    if events.is_empty() {
        let wamid = wamid.to_owned();
        return Err(ReplaySelection::Message { wamid }.nothing_found());
    }
    let state = derived_message(&events)?;
    if format == Format::Table {
        message_table(state.as_ref(), &events, out)?;
        return Ok(ExitStatus::Success);
    }
    write_items(out, "message", &state)?;
    write_items(out, "event", &events)?;
    Ok(ExitStatus::Success)
}

/// A message's state (its attributes, its status history), then its events, one a row.
fn message_table(
    state: Option<&Item>,
    events: &[Item],
    out: &mut impl Write,
) -> Result<(), EventsError> {
    if let Some(state) = state {
        let rows: Vec<Vec<String>> = (MESSAGE_FIELDS.iter())
            .filter(|name| state.contains_key(**name))
            .map(|name| vec![(*name).to_owned(), text(state, name).to_owned()])
            .collect();
        write_table(out, &["attribute", "value"], &rows, Some(200))?;
        let history = state.get("status_history").and_then(|v| v.as_ss().ok());
        let mut history = history.cloned().unwrap_or_default();
        history.sort();
        writeln!(out, "\nstatus history:")?;
        for entry in history {
            writeln!(out, "  {entry}")?;
        }
    } else {
        writeln!(out, "(no status: none of its events is a message status)")?;
    }
    writeln!(out, "\nevents ({}):", events.len())?;
    let rows: Vec<Vec<String>> = (ReplayItem::all_of(events)?.into_iter())
        .map(|ReplayItem { body, event, .. }| {
            let occurred_at = event.occurred_at.unwrap_or_default();
            let size = format!("{} bytes", body.len());
            let event_type = event.event_type.to_string();
            vec![
                occurred_at,
                event_type,
                event.event_id,
                event.received_at,
                size,
            ]
        })
        .collect();
    let headers = [
        "occurred_at",
        "event_type",
        "event_id",
        "received_at",
        "body",
    ];
    Ok(write_table(out, &headers, &rows, None)?)
}

pub async fn conversation(
    queries: &EventQueries,
    args: &ConversationArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let (org, contact) = (&args.contact.organization_id, &args.contact.contact);
    let page = (queries.conversation_page(org, contact, args.limit, args.cursor.clone())).await?;
    if page.items.is_empty() && args.cursor.is_none() {
        return Err(ReplaySelection::Conversation(args.contact.clone()).nothing_found());
    }
    // Index entries project only a few attributes: each message as its derived state (status,
    // text), each other event in full.
    let full = queries.conversation_items(&page.items).await?;
    let next_cursor = page.next.as_ref().map(encode_page_cursor);
    match format {
        Format::JsonLines => {
            write_items(out, "conversation_item", &full)?;
            write_json_line(out, &json!({"kind": "page", "next_cursor": next_cursor}))?;
        }
        Format::Table => {
            let rows = full.iter().map(conversation_row);
            let rows = rows.collect::<Result<Vec<_>, _>>()?;
            let headers = [
                "time",
                "item",
                "direction",
                "status",
                "type",
                "whatsapp_message_id",
                "text",
            ];
            write_table(out, &headers, &rows, Some(TEXT_WIDTH))?;
            match next_cursor {
                Some(cursor) => writeln!(out, "\nmore: add --cursor {cursor}")?,
                None => writeln!(out, "\n(end of the conversation)")?,
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// A conversation entry in a table: when, what, its status and type, and its text.
fn conversation_row(item: &Item) -> Result<Vec<String>, EventsError> {
    let time = text(item, keys::CONTACT_SK).split('#').next().unwrap_or("");
    let kind = match text(item, "event_type") {
        "" => text(item, "message_type"),
        event_type => event_type,
    };
    let row = [
        time,
        text(item, "item_type"),
        text(item, "direction"),
        text(item, "status"),
        kind,
        text(item, "whatsapp_message_id"),
    ];
    let mut row = row.map(str::to_owned).to_vec();
    row.push(message_text(item)?);
    Ok(row)
}

/// The text of a conversation entry: a message item's `text`, or what an event (web chat, calls)
/// carries in its body.
fn message_text(item: &Item) -> Result<String, EventsError> {
    if text(item, "item_type") != ItemType::Event.as_str() {
        return Ok(text(item, "text").to_owned());
    }
    // The body itself must be readable: an unreadable one is named, never shown as blank.
    stored_body(item)?;
    let event = serde_dynamo::from_item::<_, EventItem>(item.clone()).ok();
    // A body that no longer parses still has its id and time in the row; `--json` shows it whole.
    let details = event
        .and_then(|event| event.webhook_event().ok())
        .map(|e| e.details);
    let Some(EventDetails::Inbound(content) | EventDetails::Outbound(content)) = details else {
        return Ok(String::new());
    };
    Ok(content.message.unwrap_or_default())
}

pub async fn list(
    queries: &EventQueries,
    args: &ListArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let entries = args.entries(queries).await?;
    if entries.is_empty() {
        return Err(ReplaySelection::List(args.clone()).nothing_found());
    }
    // Index entries project ids and times only: read the full items, so that every line has
    // every attribute and the body (one GetItem each).
    let items = queries.full_items(&entries).await?;
    match format {
        Format::JsonLines => write_items(out, "event", &items)?,
        Format::Table => {
            let rows: Vec<Vec<String>> = (ReplayItem::all_of(&items)?.into_iter())
                .map(|ReplayItem { key, event, .. }| {
                    let time = key.split('#').next().unwrap_or("").to_owned();
                    let (event_type, platform) = (event.event_type, event.platform.as_str());
                    let wamid = event.whatsapp_message_id.unwrap_or_default();
                    vec![
                        time,
                        event_type.to_string(),
                        platform.into(),
                        wamid,
                        event.event_id,
                    ]
                })
                .collect();
            let headers = [
                "time",
                "event_type",
                "platform",
                "whatsapp_message_id",
                "event_id",
            ];
            write_table(out, &headers, &rows, None)?;
            writeln!(out, "\n{} events", items.len())?;
        }
    }
    Ok(ExitStatus::Success)
}

pub async fn rejected(
    queries: &EventQueries,
    since: Option<&str>,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let items = queries.rejected_deliveries(since, false).await?;
    match format {
        Format::JsonLines => write_items(out, "rejected", &items)?,
        Format::Table => {
            rejected_table(out, &items)?;
            writeln!(out, "\n{} rejected deliveries", items.len())?;
        }
    }
    Ok(ExitStatus::Success)
}

/// Rejected deliveries in a table: when, how each was answered, its size, what an earlier
/// `reprocess-rejected` made of it, and why it was refused.
pub fn rejected_table<'a>(
    out: &mut impl Write,
    items: impl IntoIterator<Item = &'a Item>,
) -> std::io::Result<()> {
    let number = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_n().ok()).cloned();
    let rows: Vec<Vec<String>> = (items.into_iter())
        .map(|item| {
            vec![
                text(item, "received_at").to_owned(),
                number(item, "status_code").unwrap_or_default(),
                text(item, "platform").to_owned(),
                number(item, "body_size").unwrap_or_default(),
                text(item, "reprocess_outcome").to_owned(),
                text(item, "reason").to_owned(),
            ]
        })
        .collect();
    let headers = [
        "received_at",
        "status",
        "platform",
        "bytes",
        "reprocessed",
        "reason",
    ];
    write_table(out, &headers, &rows, Some(REASON_WIDTH))
}
