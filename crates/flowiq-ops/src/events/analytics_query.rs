//! `flowiq-events query`: a named query of the analytics archive (template.yaml, the
//! `AWS::Athena::NamedQuery` resources; docs/analytics.md) run through Athena in the stack's
//! workgroup, whose enforced settings (results location, bytes-scanned limit) apply to every
//! run. The query is found by name in the workgroup, its `?` parameters are given in order, and
//! the run is polled until Athena says it succeeded, failed or was cancelled.

use std::time::{Duration, Instant};

use aws_sdk_athena::Client;
use aws_sdk_athena::types::{
    NamedQuery, QueryExecution, QueryExecutionContext, QueryExecutionState, QueryExecutionStatus,
};
use serde_json::{Map, Value};

use super::error::EventsError;
use super::progress;

/// How many values a query takes: its `?`s outside string literals and comments.
fn parameter_count(sql: &str) -> usize {
    let mut count = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // A literal ends at the next lone quote ('' is a quote inside it).
                while let Some(c) = chars.next() {
                    if c == '\'' && chars.next_if_eq(&'\'').is_none() {
                        break;
                    }
                }
            }
            '-' if chars.next_if_eq(&'-').is_some() => {
                chars.by_ref().find(|&c| c == '\n');
            }
            '?' => count += 1,
            _ => {}
        }
    }
    count
}

/// The values as Athena's execution parameters: SQL string literals (every parameter of the
/// stack's queries is text: days compared with `dt`). Checks their number first; the error
/// names them as the description's last sentence does (`Parameters: from_day to_day.`, as
/// template.yaml writes it).
pub fn execution_parameters(
    query: &NamedQuery,
    values: &[String],
) -> Result<Vec<String>, EventsError> {
    let expected = parameter_count(&query.query_string);
    if values.len() != expected {
        let description = query.description.as_deref().unwrap_or_default();
        let names = description
            .rsplit_once("Parameters:")
            .map(|(_, names)| names);
        let names = names.unwrap_or_default().trim().trim_end_matches('.');
        let names: Vec<&str> = names.split_whitespace().collect();
        let names = if names.len() == expected {
            format!(" ({})", names.join(" "))
        } else {
            String::new()
        };
        return Err(EventsError::Usage(format!(
            "query {} takes {expected} parameter(s){names}, in this order; {} given",
            query.name,
            values.len()
        )));
    }
    Ok(values
        .iter()
        .map(|v| format!("'{}'", v.replace('\'', "''")))
        .collect())
}

/// A finished query's result: its columns (name, Athena type) and rows, with what it scanned.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub execution_id: String,
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<Option<String>>>,
    pub data_scanned_bytes: Option<i64>,
}

impl QueryResult {
    /// One JSON object per row, `kind` first; numbers and booleans typed by their column.
    pub fn row_json(&self, row: &[Option<String>]) -> Value {
        let mut object = Map::new();
        object.insert("kind".into(), "row".into());
        for ((name, kind), cell) in self.columns.iter().zip(row) {
            object.insert(name.clone(), typed(kind, cell.as_deref()));
        }
        Value::Object(object)
    }
}

fn typed(kind: &str, cell: Option<&str>) -> Value {
    let Some(cell) = cell else {
        return Value::Null;
    };
    let number = match kind {
        "tinyint" | "smallint" | "integer" | "bigint" => cell.parse::<i64>().ok().map(Value::from),
        "real" | "float" | "double" | "decimal" => cell.parse::<f64>().ok().map(Value::from),
        "boolean" => cell.parse::<bool>().ok().map(Value::from),
        _ => None,
    };
    number.unwrap_or_else(|| Value::from(cell))
}

/// The named query `name` of `workgroup`; a name it does not have is NotFound, listing those
/// it has.
pub async fn find_named_query(
    client: &Client,
    workgroup: &str,
    name: &str,
) -> Result<NamedQuery, EventsError> {
    let pages = client
        .list_named_queries()
        .work_group(workgroup)
        .into_paginator();
    let pages: Vec<_> = (pages.send().collect::<Result<_, _>>().await)
        .map_err(|e| EventsError::aws("athena:ListNamedQueries", e))?;
    let mut names = Vec::new();
    for id in pages
        .into_iter()
        .flat_map(|page| page.named_query_ids.unwrap_or_default())
    {
        let found = client.get_named_query().named_query_id(&id).send().await;
        let found = found.map_err(|e| EventsError::aws("athena:GetNamedQuery", e))?;
        match found.named_query {
            Some(query) if query.name == name => return Ok(query),
            Some(query) => names.push(query.name),
            None => {}
        }
    }
    names.sort();
    Err(EventsError::NotFound(format!(
        "workgroup {workgroup} has no named query {name:?}; it has: {}",
        if names.is_empty() {
            "none (is EnableAnalyticsArchive on?)".to_owned()
        } else {
            names.join(", ")
        }
    )))
}

/// Runs `query` in `workgroup` with `parameters` (already literals), polling every `poll` (at
/// most 2 s apart, growing) and showing the state on a terminal. A query Athena fails or cancels
/// (over the workgroup's bytes-scanned limit, say) is an error with Athena's reason.
pub async fn run_query(
    client: &Client,
    workgroup: &str,
    query: &NamedQuery,
    parameters: Vec<String>,
    poll: Duration,
) -> Result<QueryResult, EventsError> {
    let started = client
        .start_query_execution()
        .work_group(workgroup)
        .query_string(&query.query_string)
        .query_execution_context(
            QueryExecutionContext::builder()
                .database(&query.database)
                .build(),
        )
        .set_execution_parameters((!parameters.is_empty()).then_some(parameters))
        .send()
        .await
        .map_err(|e| EventsError::aws("athena:StartQueryExecution", e))?;
    let execution_id = started.query_execution_id.ok_or_else(|| EventsError::Aws {
        operation: "athena:StartQueryExecution".into(),
        message: "no query execution id in the answer".into(),
    })?;
    let execution = wait_until_done(client, query, &execution_id, poll).await?;
    let result = results(client, execution_id).await?;
    let data_scanned_bytes = execution.statistics.and_then(|s| s.data_scanned_in_bytes);
    Ok(QueryResult {
        data_scanned_bytes,
        ..result
    })
}

/// Polls the execution until it succeeds (its description) or fails or is cancelled (an error).
async fn wait_until_done(
    client: &Client,
    query: &NamedQuery,
    execution_id: &str,
    poll: Duration,
) -> Result<QueryExecution, EventsError> {
    let spinner = progress::spinner(&format!("{} ({execution_id})", query.name));
    let began = Instant::now();
    let mut wait = poll;
    let (execution, state) = loop {
        let answer = client
            .get_query_execution()
            .query_execution_id(execution_id)
            .send()
            .await;
        let answer = answer.map_err(|e| EventsError::aws("athena:GetQueryExecution", e))?;
        let execution = answer.query_execution.ok_or_else(|| EventsError::Aws {
            operation: "athena:GetQueryExecution".into(),
            message: format!("no query execution {execution_id} in the answer"),
        })?;
        let state = execution.status.as_ref().and_then(|s| s.state.clone());
        let state = state.unwrap_or(QueryExecutionState::Queued);
        let scanned = (execution.statistics.as_ref()).and_then(|s| s.data_scanned_in_bytes);
        let scanned = scanned.map_or("?".into(), |bytes| format!("{:.1}", bytes as f64 / 1e6));
        let elapsed = began.elapsed();
        spinner.set_message(format!("{state} after {elapsed:.0?}, {scanned} MB scanned"));
        use QueryExecutionState::{Cancelled, Failed, Succeeded};
        if matches!(state, Succeeded | Failed | Cancelled) {
            break (execution, state);
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(2));
    };
    spinner.finish_and_clear();
    if state == QueryExecutionState::Succeeded {
        return Ok(execution);
    }
    Err(EventsError::QueryFailed {
        name: query.name.clone(),
        execution_id: execution_id.to_owned(),
        state: state.as_str().to_owned(),
        reason: failure_reason(execution.status.as_ref()),
    })
}

/// Athena's state-change reason and error message, once where they say the same.
fn failure_reason(status: Option<&QueryExecutionStatus>) -> String {
    let reason = status.and_then(|s| s.state_change_reason.clone());
    let athena = status.and_then(|s| s.athena_error.as_ref()?.error_message.clone());
    let mut detail = vec![reason.unwrap_or_default(), athena.unwrap_or_default()];
    detail.dedup();
    detail.retain(|s| !s.is_empty());
    if detail.is_empty() {
        return "Athena gave no reason".into();
    }
    detail.join("; ")
}

/// A finished query's columns (name, Athena type) and rows, without a SELECT's header row.
async fn results(client: &Client, execution_id: String) -> Result<QueryResult, EventsError> {
    let pages = (client.get_query_results())
        .query_execution_id(&execution_id)
        .into_paginator()
        .send();
    let pages: Vec<_> = (pages.collect::<Result<_, _>>().await)
        .map_err(|e| EventsError::aws("athena:GetQueryResults", e))?;
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    for set in pages.into_iter().filter_map(|page| page.result_set) {
        if columns.is_empty() {
            let info = set.result_set_metadata.and_then(|m| m.column_info);
            columns = (info.unwrap_or_default().into_iter())
                .map(|c| (c.name, c.r#type))
                .collect();
        }
        rows.extend(set.rows.unwrap_or_default().into_iter().map(|row| {
            let cells = row.data.unwrap_or_default().into_iter();
            cells.map(|d| d.var_char_value).collect::<Vec<_>>()
        }));
    }
    // A SELECT's first row is its header: the column names again.
    let names: Vec<Option<String>> = columns.iter().map(|(name, _)| Some(name.clone())).collect();
    if rows.first() == Some(&names) {
        rows.remove(0);
    }
    Ok(QueryResult {
        execution_id,
        columns,
        rows,
        data_scanned_bytes: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_the_question_marks_outside_literals_and_comments() {
        let sql = "SELECT '?', 'it''s ?' -- why?\nFROM t WHERE dt BETWEEN ? AND ?";
        assert_eq!(parameter_count(sql), 2);
        let q = NamedQuery::builder()
            .name("q")
            .database("db")
            .query_string(sql)
            .description("Days. Parameters: from_day to_day.")
            .build()
            .unwrap();
        let values = ["2026-03-03".to_owned(), "it's".to_owned()];
        assert_eq!(
            execution_parameters(&q, &values).unwrap(),
            ["'2026-03-03'", "'it''s'"]
        );
        let error = execution_parameters(&q, &values[..1]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "query q takes 2 parameter(s) (from_day to_day), in this order; 1 given"
        );
    }

    #[test]
    fn json_rows_type_numbers_by_their_column() {
        let result = QueryResult {
            execution_id: "x".into(),
            columns: vec![
                ("day".into(), "date".into()),
                ("messages".into(), "bigint".into()),
                ("rate".into(), "double".into()),
                ("status".into(), "varchar".into()),
            ],
            rows: vec![],
            data_scanned_bytes: None,
        };
        let row = [
            Some("2026-03-03".into()),
            Some("200".into()),
            Some("0.8".into()),
            None,
        ];
        assert_eq!(
            result.row_json(&row).to_string(),
            r#"{"kind":"row","day":"2026-03-03","messages":200,"rate":0.8,"status":null}"#
        );
    }
}
