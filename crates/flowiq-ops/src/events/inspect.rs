//! The read-only subcommands: `message`, `conversation`, `list`, `rejected`. Each prints what the
//! operator asked for (stored attributes included: that is the point), as a table or JSON lines.

use std::io::Write;

use serde_json::json;

use super::cli::{ConversationArgs, ListArgs, ReplaySelection};
use super::cursor::encode_page_cursor;
use super::error::EventsError;
use super::output::{Column, Format, item_json, stored_body, write_json_line, write_table};
use super::replay_item::ReplayItem;
use super::selection::describe_contact;
use super::time_arg::TimeArg;
use crate::queries::{EventQueries, Item, text};
use flowiq_webhooks::keys;
use flowiq_webhooks::records::{EventItem, ItemType};
use flowiq_webhooks::webhook_event::EventDetails;

/// GetItem calls in flight when index entries are read in full.
const READ_CONCURRENCY: usize = 16;
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
    whatsapp_message_id: &str,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    // One Query: the events, and the state derived from them.
    let events = queries.message_events(whatsapp_message_id).await?;
    let state = queries.derived_message(&events)?;
    if state.is_none() && events.is_empty() {
        let selection = ReplaySelection::Message {
            whatsapp_message_id: whatsapp_message_id.to_owned(),
        };
        return Err(EventsError::NotFound(selection.nothing_found()));
    }
    match format {
        Format::JsonLines => {
            if let Some(state) = &state {
                write_json_line(out, &item_json("message", state)?)?;
            }
            for event in &events {
                write_json_line(out, &item_json("event", event)?)?;
            }
        }
        Format::Table => message_table(state.as_ref(), &events, out)?,
    }
    Ok(())
}

/// A message's state (its attributes, its status history), then its events, one a row.
fn message_table(
    state: Option<&Item>,
    events: &[Item],
    out: &mut impl Write,
) -> Result<(), EventsError> {
    if let Some(state) = state {
        let rows: Vec<Vec<String>> = MESSAGE_FIELDS
            .iter()
            .filter(|name| state.contains_key(**name))
            .map(|name| vec![(*name).to_owned(), text(state, name).to_owned()])
            .collect();
        let columns = [Column::whole("attribute"), Column::cut("value", 200)];
        write_table(out, &columns, &rows)?;
        let mut history: Vec<&String> = state
            .get("status_history")
            .and_then(|v| v.as_ss().ok())
            .map(|set| set.iter().collect())
            .unwrap_or_default();
        history.sort();
        writeln!(out, "\nstatus history:")?;
        for entry in history {
            writeln!(out, "  {entry}")?;
        }
    } else {
        writeln!(out, "(no status: none of its events is a message status)")?;
    }
    writeln!(out, "\nevents ({}):", events.len())?;
    let rows: Vec<Vec<String>> = (typed_events(events)?.into_iter())
        .map(|event| {
            let body = format!("{} bytes", event.body.len());
            vec![
                event.occurred_at,
                event.event_type,
                event.event_id,
                event.received_at,
                body,
            ]
        })
        .collect();
    let columns = [
        "occurred_at",
        "event_type",
        "event_id",
        "received_at",
        "body",
    ];
    write_table(out, &columns.map(Column::whole), &rows)?;
    Ok(())
}

pub async fn conversation(
    queries: &EventQueries,
    args: &ConversationArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    let org = &args.contact.organization_id;
    let page = queries
        .conversation_page(org, &args.contact.contact, args.limit, args.cursor.clone())
        .await?;
    if page.items.is_empty() && args.cursor.is_none() {
        return Err(EventsError::NotFound(format!(
            "no conversation for {} in organization {org:?} (check both ids)",
            describe_contact(&args.contact.contact)
        )));
    }
    // Index entries project only a few attributes: each message as its derived state (status,
    // text), each other event in full.
    let full = queries
        .conversation_items(&page.items, READ_CONCURRENCY)
        .await?;
    let next_cursor = page.next.as_ref().map(encode_page_cursor);
    match format {
        Format::JsonLines => {
            for item in &full {
                write_json_line(out, &item_json("conversation_item", item)?)?;
            }
            write_json_line(out, &json!({"kind": "page", "next_cursor": next_cursor}))?;
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = full
                .iter()
                .map(conversation_row)
                .collect::<Result<_, _>>()?;
            let columns = [
                Column::whole("time"),
                Column::whole("item"),
                Column::whole("direction"),
                Column::whole("status"),
                Column::whole("type"),
                Column::whole("whatsapp_message_id"),
                Column::cut("text", TEXT_WIDTH),
            ];
            write_table(out, &columns, &rows)?;
            match next_cursor {
                Some(cursor) => writeln!(out, "\nmore: add --cursor {cursor}")?,
                None => writeln!(out, "\n(end of the conversation)")?,
            }
        }
    }
    Ok(())
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

pub async fn list(
    queries: &EventQueries,
    args: &ListArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    let entries = args.entries(queries).await?;
    if entries.is_empty() {
        let selection = ReplaySelection::List(args.clone());
        return Err(EventsError::NotFound(selection.nothing_found()));
    }
    // Index entries project ids and times only: read the full items, so that every line has
    // every attribute and the body (one GetItem each).
    let entries = queries.full_items(&entries, READ_CONCURRENCY).await?;
    match format {
        Format::JsonLines => {
            for entry in &entries {
                write_json_line(out, &item_json("event", entry)?)?;
            }
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = typed_events(&entries)?
                .into_iter()
                .map(|event| {
                    let time = event.key.split('#').next().unwrap_or("").to_owned();
                    vec![
                        time,
                        event.event_type,
                        event.platform,
                        event.whatsapp_message_id,
                        event.event_id,
                    ]
                })
                .collect();
            let columns = [
                "time",
                "event_type",
                "platform",
                "whatsapp_message_id",
                "event_id",
            ];
            write_table(out, &columns.map(Column::whole), &rows)?;
            writeln!(out, "\n{} events", entries.len())?;
        }
    }
    Ok(())
}

pub async fn rejected(
    queries: &EventQueries,
    since: Option<&TimeArg>,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    let items = queries
        .rejected_deliveries(since.map(TimeArg::as_str), false)
        .await?;
    match format {
        Format::JsonLines => {
            for item in &items {
                write_json_line(out, &item_json("rejected", item)?)?;
            }
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = items.iter().map(rejected_row).collect();
            write_table(out, &REJECTED_COLUMNS, &rows)?;
            writeln!(out, "\n{} rejected deliveries", items.len())?;
        }
    }
    Ok(())
}

/// The text of a conversation entry: a message item's `text`, or what an event (web chat, calls)
/// carries in its body.
fn message_text(item: &Item) -> Result<String, EventsError> {
    if text(item, "item_type") != ItemType::Event.as_str() {
        return Ok(text(item, "text").to_owned());
    }
    let event = serde_dynamo::from_item::<_, EventItem>(item.clone())
        .ok()
        .and_then(|event| event.webhook_event().ok());
    // A body that no longer parses still has its id and time in the row; `--json` shows it whole.
    let content = match event.map(|e| e.details) {
        Some(EventDetails::Inbound(content) | EventDetails::Outbound(content)) => content.message,
        _ => None,
    };
    // The body itself must be readable: an unreadable one is named, never shown as blank.
    stored_body(item)?;
    Ok(content.unwrap_or_default())
}

/// The columns of [`rejected_row`].
pub const REJECTED_COLUMNS: [Column; 6] = [
    Column::whole("received_at"),
    Column::whole("status"),
    Column::whole("platform"),
    Column::whole("bytes"),
    Column::whole("reprocessed"),
    Column::cut("reason", REASON_WIDTH),
];

/// The stored events among `items`, typed (the core's `EventItem`, bodies read back).
fn typed_events(items: &[Item]) -> Result<Vec<ReplayItem>, EventsError> {
    let mut events = Vec::with_capacity(items.len());
    for item in items {
        events.extend(ReplayItem::from_item(item)?);
    }
    Ok(events)
}

/// A rejected delivery in a table: when, how it was answered, its size, what an earlier
/// `reprocess-rejected` made of it, and why it was refused.
pub fn rejected_row(item: &Item) -> Vec<String> {
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .cloned()
            .unwrap_or_default()
    };
    vec![
        text(item, "received_at").to_owned(),
        number("status_code"),
        text(item, "platform").to_owned(),
        number("body_size"),
        text(item, "reprocess_outcome").to_owned(),
        text(item, "reason").to_owned(),
    ]
}
