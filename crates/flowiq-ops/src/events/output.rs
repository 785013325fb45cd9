//! How results are printed: a readable table on a terminal, JSON lines (`--json`, or whenever
//! stdout is not a terminal). Every JSON line has a `kind`.

use std::io::{IsTerminal as _, Write};

use serde_json::{Map, Value};

use crate::queries::Item;

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

/// A stored item as JSON (sets become arrays, numbers numbers), with `kind` first; an event's
/// deflated body is shown as `body`, as FlowIQ sent it.
pub fn item_json(kind: &str, item: &Item) -> Value {
    let mut object = Map::new();
    object.insert("kind".into(), Value::from(kind));
    if let Ok(Value::Object(attributes)) = serde_dynamo::from_item::<_, Value>(item.clone()) {
        object.extend(attributes);
    }
    if object.remove("body_deflate").is_some()
        && let Some(body) = stored_body(item)
    {
        object.insert("body".into(), Value::from(body));
    }
    Value::Object(object)
}

/// An event item's raw body, from `body` or `body_deflate`.
pub fn stored_body(item: &Item) -> Option<String> {
    let text = item.get("body").and_then(|v| v.as_s().ok());
    let deflated = item.get("body_deflate").and_then(|v| v.as_b().ok());
    flowiq_webhooks::stored_body::read(text.map(String::as_str), deflated.map(|b| b.as_ref()))
        .ok()
        .map(|body| body.into_owned())
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
