//! How results are printed: a readable table on a terminal, JSON lines (`--json`, or whenever
//! stdout is not a terminal). Every JSON line has a `kind`.

use std::io::{IsTerminal as _, Write};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use comfy_table::{ColumnConstraint, Width};
use serde_json::{Map, Value};

use super::error::EventsError;
use crate::queries::{Item, text};
use flowiq_webhooks::keys;
use flowiq_webhooks::stored_body::{Held, StoredBodyError, inflate_primed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    JsonLines,
}

impl Format {
    /// JSON lines when asked for or when stdout is not a terminal (a pipe, a file).
    pub fn choose(json_flag: bool) -> Self {
        if json_flag || !std::io::stdout().is_terminal() {
            Format::JsonLines
        } else {
            Format::Table
        }
    }
}

/// A stored item as JSON, with `kind` first: every attribute, sets as arrays, numbers as numbers,
/// binary values as base64 (as the AWS CLI prints them), and an event's deflated body as `body`,
/// the text FlowIQ sent. An attribute that cannot be shown is an error naming the item: a line
/// never silently loses attributes.
pub fn item_json(kind: &str, item: &Item) -> Result<Value, EventsError> {
    let mut object = Map::new();
    object.insert("kind".into(), Value::from(kind));
    for (name, value) in item {
        let value = if DEFLATED_BODIES.contains(&name.as_str()) {
            // A rejected body need not be UTF-8: then it is shown as `body_bytes` (base64), as
            // a short one is stored.
            stored_body_bytes(item)
                .map_err(|e| e.to_string())
                .map(|body| match String::from_utf8(body) {
                    Ok(text) => ("body", Value::from(text)),
                    Err(bytes) => ("body_bytes", Value::from(STANDARD.encode(bytes.as_bytes()))),
                })
        } else {
            attribute_json(value).map(|json| (name.as_str(), json))
        };
        match value {
            Ok((name, json)) => object.insert(name.to_owned(), json),
            Err(problem) => {
                return Err(EventsError::Unreadable {
                    item: describe_item(item),
                    attribute: name.clone(),
                    problem,
                });
            }
        };
    }
    Ok(Value::Object(object))
}

/// The stored attributes that hold a long body deflated (src/stored_body.rs): shown as `body`.
/// `rejected` items use `body_zd1` too (since issue 27; before, their bodies were never deflated).
const DEFLATED_BODIES: [&str; 2] = ["body_zd1", "body_deflate"];

/// One attribute value as JSON. serde_dynamo maps everything but binary values, which JSON has
/// no type for.
fn attribute_json(value: &AttributeValue) -> Result<Value, String> {
    match value {
        AttributeValue::B(bytes) => Ok(Value::from(STANDARD.encode(bytes.as_ref()))),
        AttributeValue::Bs(set) => Ok(set
            .iter()
            .map(|bytes| Value::from(STANDARD.encode(bytes.as_ref())))
            .collect()),
        AttributeValue::L(list) => list.iter().map(attribute_json).collect(),
        AttributeValue::M(map) => map
            .iter()
            .map(|(name, value)| Ok((name.clone(), attribute_json(value)?)))
            .collect::<Result<Map<_, _>, String>>()
            .map(Value::Object),
        other => serde_dynamo::from_attribute_value(other.clone()).map_err(|e| e.to_string()),
    }
}

/// The item's key, for messages (`pk` / `sk` name any item of the table).
fn describe_item(item: &Item) -> String {
    format!(
        "pk {:?}, sk {:?}",
        text(item, keys::PK),
        text(item, keys::SK)
    )
}

/// An event item's raw body, from `body`, `body_zd1` or `body_deflate`; an error names the item.
pub fn stored_body(item: &Item) -> Result<String, EventsError> {
    let binary = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_b().ok())
            .map(|b| b.as_ref())
    };
    let text = item.get("body").and_then(|v| v.as_s().ok());
    Held::of(
        text.map(String::as_str),
        binary(DEFLATED_BODIES[0]),
        binary(DEFLATED_BODIES[1]),
    )
    .and_then(Held::read)
    .map(|body| body.into_owned())
    .map_err(|e| unreadable_body(item, e))
}

/// Any item's raw body as bytes, UTF-8 or not: `body`, `body_bytes` (a short rejected body that
/// is not UTF-8), `body_zd1` or `body_deflate`. `None`: the item keeps no body (a rejected body
/// over the size limit).
pub fn stored_body_bytes_if_any(item: &Item) -> Result<Option<Vec<u8>>, EventsError> {
    let binary = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_b().ok())
            .map(|b| b.as_ref())
    };
    if let Some(text) = item.get("body").and_then(|v| v.as_s().ok()) {
        return Ok(Some(text.as_bytes().to_vec()));
    }
    if let Some(bytes) = binary("body_bytes") {
        return Ok(Some(bytes.to_vec()));
    }
    if let Some(bytes) = binary(DEFLATED_BODIES[0]) {
        return inflate_primed(bytes)
            .map(Some)
            .map_err(|e| unreadable_body(item, e));
    }
    if let Some(bytes) = binary(DEFLATED_BODIES[1]) {
        return Held::Deflated(bytes)
            .read()
            .map(|body| Some(body.into_owned().into_bytes()))
            .map_err(|e| unreadable_body(item, e));
    }
    Ok(None)
}

fn stored_body_bytes(item: &Item) -> Result<Vec<u8>, EventsError> {
    stored_body_bytes_if_any(item)?.ok_or_else(|| unreadable_body(item, StoredBodyError::Missing))
}

fn unreadable_body(item: &Item, problem: StoredBodyError) -> EventsError {
    EventsError::Unreadable {
        item: describe_item(item),
        attribute: "body".to_owned(),
        problem: problem.to_string(),
    }
}

pub fn write_json_line(out: &mut impl Write, value: &Value) -> std::io::Result<()> {
    writeln!(out, "{value}")
}

/// A column of a table: its header, and for free text (message text, reasons) the display width
/// past which a cell is cut with `…`. Ids, keys and times are never cut: they are what the next
/// command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub header: &'static str,
    pub cut_at: Option<u16>,
}

impl Column {
    /// Shown whole, however long.
    pub const fn whole(header: &'static str) -> Self {
        Column {
            header,
            cut_at: None,
        }
    }

    /// Cut to `width` columns of the terminal.
    pub const fn cut(header: &'static str, width: u16) -> Self {
        Column {
            header,
            cut_at: Some(width),
        }
    }
}

/// A plain text table: a header row, then one line per row, columns two spaces apart and
/// aligned by display width (an emoji or a CJK character takes two columns of a terminal).
/// Line breaks, tabs and other control characters in a cell become spaces.
pub fn write_table(
    out: &mut impl Write,
    columns: &[Column],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let headers = columns.iter().map(|column| column.header);
    let cuts: Vec<Option<u16>> = columns.iter().map(|column| column.cut_at).collect();
    write_table_of(out, headers, &cuts, rows)
}

/// [`write_table`] for headers known only at run time (an Athena result's columns); `cuts`
/// holds each column's `cut_at`.
pub fn write_table_of<'a>(
    out: &mut impl Write,
    headers: impl IntoIterator<Item = &'a str>,
    cuts: &[Option<u16>],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut table = comfy_table::Table::new();
    let headers: Vec<&str> = headers.into_iter().collect();
    let last = headers.len().saturating_sub(1);
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_truncation_indicator("…")
        .set_header(headers);
    for row in rows {
        let mut row = comfy_table::Row::from(row.iter().map(|cell| one_line(cell)));
        row.max_height(1);
        table.add_row(row);
    }
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if index == last { 0 } else { 2 }));
        if let Some(width) = cuts.get(index).copied().flatten() {
            column.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(width)));
        }
    }
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The cell on one line: control characters and line or paragraph separators become spaces.
fn one_line(cell: &str) -> String {
    cell.chars()
        .map(|c| match c {
            '\u{2028}' | '\u{2029}' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[Column], rows: &[&[&str]]) -> String {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|c| (*c).to_owned()).collect())
            .collect();
        let mut out = Vec::new();
        write_table(&mut out, columns, &rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn columns_align_by_display_width() {
        let shown = table(
            &[Column::whole("who"), Column::whole("id")],
            &[&["你好", "a"], &["😀 hi", "b"], &["plain", "c"]],
        );
        // 你, 好 and 😀 take two columns of a terminal each.
        assert_eq!(shown, "who    id\n你好   a\n😀 hi  b\nplain  c\n");
    }

    #[test]
    fn ids_are_whole_and_free_text_is_cut_on_one_line() {
        let id = format!("wamid.{}", "HBgLMjc4MzAwMDAwMDEVAgARGBI".repeat(4));
        let shown = table(
            &[Column::whole("id"), Column::cut("text", 12)],
            &[&[&id, "a long\r\nmessage\ttext here"], &["x", "短い"]],
        );
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3, "{shown}");
        assert!(lines[1].starts_with(&format!("{id}  ")), "{shown}");
        let text = &lines[1][id.len() + 2..];
        assert!(
            text.ends_with('…') && text.chars().count() <= 12,
            "{text:?}"
        );
        assert!(text.starts_with("a long"), "{text:?}");
        assert_eq!(
            lines[2].trim_end(),
            format!("x{}短い", " ".repeat(id.len() + 1))
        );
    }
}
