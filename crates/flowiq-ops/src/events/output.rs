//! How results are printed: a readable table on a terminal, JSON lines (`--json`, or whenever
//! stdout is not a terminal). Every JSON line has a `kind`.

use std::io::{IsTerminal as _, Write};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use comfy_table::{ColumnConstraint, Width};
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::EventsError;
use crate::queries::Item;
use flowiq_webhooks::stored_body::{Held, inflate_primed};

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
/// binary values as base64 (as the AWS CLI prints them), and a deflated body (`body_zd1`,
/// `body_deflate`: src/stored_body.rs) as `body`, the text FlowIQ sent. An attribute that cannot
/// be shown is an error naming the item: a line never silently loses attributes.
pub fn item_json(kind: &str, item: &Item) -> Result<Value, EventsError> {
    let mut object = Map::new();
    object.insert("kind".into(), Value::from(kind));
    for (name, value) in item {
        if name == "body_zd1" || name == "body_deflate" {
            // A rejected body need not be UTF-8: then it is shown as `body_bytes` (base64), as a
            // short one is stored.
            match String::from_utf8(stored_body(item)?) {
                Ok(text) => object.insert("body".into(), Value::from(text)),
                Err(bytes) => {
                    let base64 = STANDARD.encode(bytes.as_bytes());
                    object.insert("body_bytes".into(), Value::from(base64))
                }
            };
        } else {
            let json = attribute_json(value).map_err(|e| EventsError::unreadable(item, name, e))?;
            object.insert(name.clone(), json);
        }
    }
    Ok(Value::Object(object))
}

/// Each of `items` as a JSON line of `kind`.
pub fn write_items<'a>(
    out: &mut impl Write,
    kind: &str,
    items: impl IntoIterator<Item = &'a Item>,
) -> Result<(), EventsError> {
    for item in items {
        write_json_line(out, &item_json(kind, item)?)?;
    }
    Ok(())
}

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

/// Any item's raw body, UTF-8 or not: `body`, `body_bytes` (a short rejected body that is not
/// UTF-8), `body_zd1` or `body_deflate`. An item without one (a rejected body over the size
/// limit), or whose body does not read back, is an error naming it.
pub fn stored_body(item: &Item) -> Result<Vec<u8>, EventsError> {
    let binary = |name: &str| item.get(name)?.as_b().ok().map(|b| b.as_ref());
    let text = item.get("body").and_then(|v| v.as_s().ok());
    let body = match (text, binary("body_bytes")) {
        (None, Some(bytes)) => Ok(bytes.to_vec()),
        // A primed body need not be UTF-8 (a rejected one); the others are text.
        _ => match Held::of(
            text.map(String::as_str),
            binary("body_zd1"),
            binary("body_deflate"),
        ) {
            Ok(Held::Primed(bytes)) => inflate_primed(bytes),
            held => held
                .and_then(Held::read)
                .map(|body| body.into_owned().into_bytes()),
        },
    };
    body.map_err(|e| EventsError::unreadable(item, "body", e))
}

/// `value` as one line of JSON.
pub fn write_json_line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    let line = serde_json::to_string(value).expect("plain data serialises");
    writeln!(out, "{line}")
}

/// A plain text table: a header row, then one line per row, columns two spaces apart and
/// aligned by display width (an emoji or a CJK character takes two columns of a terminal).
/// Line breaks, tabs and other control characters in a cell become spaces. Ids, keys and times
/// are never cut (they are what the next command needs); free text (message text, reasons) is
/// the last column, cut with `…` past `cut_last` columns of the terminal when given.
pub fn write_table(
    out: &mut impl Write,
    headers: &[&str],
    rows: &[Vec<String>],
    cut_last: Option<u16>,
) -> std::io::Result<()> {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_truncation_indicator("…")
        .set_header(headers);
    for row in rows {
        let mut row = comfy_table::Row::from(row.iter().map(|cell| one_line(cell)));
        row.max_height(1);
        table.add_row(row);
    }
    let last = headers.len().saturating_sub(1);
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if index == last { 0 } else { 2 }));
        if let Some(width) = cut_last.filter(|_| index == last) {
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

    fn table(headers: &[&str], rows: &[&[&str]], cut_last: Option<u16>) -> String {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|c| (*c).to_owned()).collect())
            .collect();
        let mut out = Vec::new();
        write_table(&mut out, headers, &rows, cut_last).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn columns_align_by_display_width() {
        let shown = table(
            &["who", "id"],
            &[&["你好", "a"], &["😀 hi", "b"], &["plain", "c"]],
            None,
        );
        // 你, 好 and 😀 take two columns of a terminal each.
        assert_eq!(shown, "who    id\n你好   a\n😀 hi  b\nplain  c\n");
    }

    #[test]
    fn ids_are_whole_and_free_text_is_cut_on_one_line() {
        let id = format!("wamid.{}", "HBgLMjc4MzAwMDAwMDEVAgARGBI".repeat(4));
        let shown = table(
            &["id", "text"],
            &[&[&id, "a long\r\nmessage\ttext here"], &["x", "短い"]],
            Some(12),
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
