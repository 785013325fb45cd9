//! How results are printed: a readable table on a terminal, JSON lines (`--json`, or whenever
//! stdout is not a terminal). Every JSON line has a `kind`.

use std::io::{IsTerminal as _, Write};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::error::EventsError;
use crate::queries::{Item, text};
use flowiq_webhooks::keys;

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
        let value = if name == BODY_DEFLATE {
            let deflated = value.as_b().map_err(|_| "not a binary value".to_owned());
            deflated
                .and_then(|bytes| {
                    flowiq_webhooks::stored_body::read(None, Some(bytes.as_ref()))
                        .map_err(|e| e.to_string())
                })
                .map(|body| ("body", Value::from(body.into_owned())))
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

/// The stored attribute that holds a long body as raw DEFLATE (src/stored_body.rs).
const BODY_DEFLATE: &str = "body_deflate";

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

/// An event item's raw body, from `body` or `body_deflate`; an error names the item.
pub fn stored_body(item: &Item) -> Result<String, EventsError> {
    let text = item.get("body").and_then(|v| v.as_s().ok());
    let deflated = item.get(BODY_DEFLATE).and_then(|v| v.as_b().ok());
    flowiq_webhooks::stored_body::read(text.map(String::as_str), deflated.map(|b| b.as_ref()))
        .map(|body| body.into_owned())
        .map_err(|e| EventsError::Unreadable {
            item: describe_item(item),
            attribute: "body".to_owned(),
            problem: e.to_string(),
        })
}

pub fn write_json_line(out: &mut impl Write, value: &Value) -> std::io::Result<()> {
    writeln!(out, "{value}")
}

/// A plain text table: a header row and columns padded to the widest cell (cells are cut to
/// `max_width` characters).
pub fn write_table(
    out: &mut impl Write,
    headers: &[&str],
    rows: &[Vec<String>],
    max_width: usize,
) -> std::io::Result<()> {
    let cut = |cell: &str| -> String {
        let cell = cell.replace(['\n', '\r', '\t'], " ");
        if cell.chars().count() > max_width {
            let mut short: String = cell.chars().take(max_width.saturating_sub(1)).collect();
            short.push('…');
            short
        } else {
            cell
        }
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| cut(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(headers.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_and_cut_cells() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["a".to_owned(), "long text here".to_owned()],
            vec!["bbb".to_owned(), "x\ny".to_owned()],
        ];
        write_table(&mut out, &["k", "value"], &rows, 6).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "k    value\na    long …\nbbb  x y\n"
        );
    }
}
