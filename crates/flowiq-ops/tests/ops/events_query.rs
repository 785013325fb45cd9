//! `flowiq-events query`: the analytics archive's named queries run through Athena. Against
//! moto's Athena (moto_server): the stack's workgroup and named queries as template.yaml
//! declares them, a result queued through moto's API; the query is found by name, run in the
//! workgroup with its parameters as SQL literals, and printed as a table or JSON lines; an
//! unknown name and a wrong number of parameters exit before anything runs. A query that Athena
//! fails (moto's never do) through aws-smithy-mocks: exit 6 with Athena's reason.

use std::process::{Command, Output};
use std::time::Duration;

use aws_sdk_athena::types::{
    QueryExecution, QueryExecutionState, QueryExecutionStatistics, QueryExecutionStatus,
    ResultConfiguration, WorkGroupConfiguration,
};
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
use flowiq_harness::moto_server::MotoServer;
use flowiq_harness::template::{Template, text};
use flowiq_harness::test_table::sdk_config;
use flowiq_ops::events::cli::QueryArgs;
use flowiq_ops::events::commands::run_analytics_query;
use flowiq_ops::events::error::EventsError;
use flowiq_ops::events::output::Format;
use flowiq_ops::exit_status::ExitStatus;
use serde_json::{Value, json};

const WORKGROUP: &str = "flowiq-webhooks-analytics";

/// The named queries of the stack with the archive on, as template.yaml declares them:
/// (name, description, query).
fn stack_queries() -> Vec<(String, String, String)> {
    let stack = Template::repository()
        .deploy(&[("EnableAnalyticsArchive", "true")])
        .unwrap();
    stack
        .of_type("AWS::Athena::NamedQuery")
        .map(|(_, body)| {
            let p = &body["Properties"];
            let field = |k: &str| text(&p[k]).unwrap();
            (field("Name"), field("Description"), field("QueryString"))
        })
        .collect()
}

/// moto with the stack's workgroup and its named queries.
async fn athena_with_the_stacks_queries() -> (MotoServer, aws_sdk_athena::Client) {
    let moto = MotoServer::start();
    let athena = aws_sdk_athena::Client::new(&sdk_config(&moto.endpoint()));
    athena
        .create_work_group()
        .name(WORKGROUP)
        .configuration(
            WorkGroupConfiguration::builder()
                .enforce_work_group_configuration(true)
                .bytes_scanned_cutoff_per_query(10_485_760)
                .result_configuration(
                    ResultConfiguration::builder()
                        .output_location("s3://archive/athena-results/")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (name, description, query) in stack_queries() {
        athena
            .create_named_query()
            .name(name)
            .description(description)
            .database("flowiq_analytics")
            .query_string(query)
            .work_group(WORKGROUP)
            .send()
            .await
            .unwrap();
    }
    (moto, athena)
}

/// Queues the result moto's Athena gives the next query (its `/moto-api` for that), as Athena
/// answers a SELECT: a header row first, then the rows.
async fn queue_result(moto: &MotoServer, columns: &[(&str, &str)], rows: &[&[Option<&str>]]) {
    let cell = |v: &Option<&str>| match v {
        Some(v) => json!({"VarCharValue": v}),
        None => json!({}),
    };
    let header = json!({"Data": columns.iter().map(|(n, _)| json!({"VarCharValue": n})).collect::<Vec<_>>()});
    let mut all = vec![header];
    all.extend(
        rows.iter()
            .map(|r| json!({"Data": r.iter().map(cell).collect::<Vec<_>>()})),
    );
    let column_info: Vec<Value> = columns
        .iter()
        .map(|(name, kind)| json!({"Name": name, "Label": name, "Type": kind}))
        .collect();
    let body =
        json!({"region": "us-east-1", "results": [{"rows": all, "column_info": column_info}]});
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/moto-api/static/athena/query-results",
            moto.endpoint()
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201, "{}", moto.log());
}

fn query_args(name: &str, parameters: &[&str]) -> QueryArgs {
    QueryArgs {
        name: name.to_owned(),
        parameters: parameters.iter().map(|p| (*p).to_owned()).collect(),
        workgroup: Some(WORKGROUP.to_owned()),
    }
}

/// `flowiq-events query NAME DAYS…` in the workgroup: its result and what it printed.
async fn run_query(
    athena: &aws_sdk_athena::Client,
    name: &str,
    days: &[&str],
    format: Format,
) -> (Result<ExitStatus, EventsError>, String) {
    let mut out = Vec::new();
    let args = query_args(name, days);
    let poll = Duration::from_millis(10);
    let result = run_analytics_query(&args, athena, WORKGROUP, format, &mut out, poll).await;
    (result, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn a_named_query_runs_in_the_workgroup_with_its_days_and_prints_its_rows() {
    let (moto, athena) = athena_with_the_stacks_queries().await;
    let columns = [
        ("broadcast_id", "varchar"),
        ("messages", "bigint"),
        ("delivery_rate", "double"),
    ];
    queue_result(
        &moto,
        &columns,
        &[
            &[Some("b-1"), Some("200"), Some("0.8")],
            &[Some("b-2"), Some("150"), None],
        ],
    )
    .await;

    let days = ["2026-03-03", "2026-03-04"];
    let (status, out) = run_query(&athena, "broadcast-funnel", &days, Format::JsonLines).await;
    assert_eq!(status.unwrap(), ExitStatus::Success);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            json!({"kind": "row", "broadcast_id": "b-1", "messages": 200, "delivery_rate": 0.8}),
            json!({"kind": "row", "broadcast_id": "b-2", "messages": 150, "delivery_rate": null}),
        ],
        "the header row is not a row"
    );

    // What Athena was asked: the template's query, in the workgroup, on its database, the days
    // as SQL string literals in the order of the query's `?`s.
    let executions = athena
        .list_query_executions()
        .work_group(WORKGROUP)
        .send()
        .await
        .unwrap()
        .query_execution_ids
        .unwrap_or_default();
    assert_eq!(executions.len(), 1);
    let execution = athena
        .get_query_execution()
        .query_execution_id(&executions[0])
        .send()
        .await
        .unwrap()
        .query_execution
        .unwrap();
    let funnel = stack_queries()
        .into_iter()
        .find(|(name, _, _)| name == "broadcast-funnel")
        .unwrap();
    assert_eq!(execution.query.as_deref(), Some(funnel.2.as_str()));
    assert_eq!(execution.work_group.as_deref(), Some(WORKGROUP));
    assert_eq!(
        execution.query_execution_context.and_then(|c| c.database),
        Some("flowiq_analytics".to_owned())
    );
    assert_eq!(
        execution.execution_parameters.unwrap_or_default(),
        ["'2026-03-03'", "'2026-03-04'"]
    );
    // The workgroup's enforced results location: the CLI sets none of its own.
    assert!(
        execution
            .result_configuration
            .is_none_or(|c| c.output_location.is_none())
    );

    // The same as a table.
    queue_result(&moto, &columns, &[&[Some("b-1"), Some("200"), Some("0.8")]]).await;
    let (status, out) = run_query(&athena, "broadcast-funnel", &days, Format::Table).await;
    assert_eq!(status.unwrap(), ExitStatus::Success);
    assert_eq!(
        out,
        "broadcast_id  messages  delivery_rate\nb-1           200       0.8\n"
    );
}

#[tokio::test]
async fn an_unknown_query_or_a_wrong_number_of_days_runs_nothing() {
    let (_moto, athena) = athena_with_the_stacks_queries().await;
    let (result, out) = run_query(&athena, "funnel", &[], Format::JsonLines).await;
    let error = result.unwrap_err();
    assert!(out.is_empty());
    assert_eq!(error.exit_status(), ExitStatus::NotFound);
    let message = error.to_string();
    assert!(
        message.contains("no named query \"funnel\"")
            && message.contains("broadcast-funnel, daily-delivery, failures-by-kind, first-response-time, inbound-volume, lost-receipts"),
        "{message}"
    );

    let (result, out) =
        run_query(&athena, "lost-receipts", &["2026-03-03"], Format::JsonLines).await;
    let error = result.unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Usage);
    assert_eq!(
        error.to_string(),
        "query lost-receipts takes 2 parameter(s) (from_day to_day), in this order; 1 given"
    );
    let executions = athena
        .list_query_executions()
        .work_group(WORKGROUP)
        .send()
        .await
        .unwrap();
    assert!(
        executions
            .query_execution_ids
            .unwrap_or_default()
            .is_empty()
    );
    assert!(out.is_empty());
}

/// The binary: its exit code and message, and the workgroup from `--workgroup`.
fn flowiq_events(endpoint: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowiq-events"));
    for name in ["AWS_PROFILE", "TABLE_NAME", "AWS_DEFAULT_REGION"] {
        command.env_remove(name);
    }
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_binary_prints_json_lines_and_exits_by_the_documented_codes() {
    let (moto, _athena) = athena_with_the_stacks_queries().await;
    queue_result(
        &moto,
        &[("day", "date"), ("messages", "bigint")],
        &[&[Some("2026-03-05"), Some("18")]],
    )
    .await;
    let endpoint = moto.endpoint();
    let run = |args: Vec<&'static str>| {
        let endpoint = endpoint.clone();
        tokio::task::spawn_blocking(move || flowiq_events(&endpoint, &args))
    };
    let output = run(vec![
        "query",
        "inbound-volume",
        "2026-03-05",
        "2026-03-05",
        "--workgroup",
        WORKGROUP,
    ])
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "{\"kind\":\"row\",\"day\":\"2026-03-05\",\"messages\":18}\n"
    );
    let output = run(vec!["query", "nope", "--workgroup", WORKGROUP])
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let output = run(vec!["query", "inbound-volume", "--workgroup", WORKGROUP])
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("takes 2 parameter(s) (from_day to_day)")
    );
}

/// Athena's answers for one run that fails, as aws-smithy-mocks gives them (moto's queries
/// always succeed).
fn failing_athena(reason: &'static str) -> aws_sdk_athena::Client {
    let rules = [
        mock!(aws_sdk_athena::Client::list_named_queries).then_output(|| {
            aws_sdk_athena::operation::list_named_queries::ListNamedQueriesOutput::builder()
                .named_query_ids("q-1")
                .build()
        }),
        mock!(aws_sdk_athena::Client::get_named_query).then_output(|| {
            aws_sdk_athena::operation::get_named_query::GetNamedQueryOutput::builder()
                .named_query(
                    aws_sdk_athena::types::NamedQuery::builder()
                        .name("daily-delivery")
                        .description("Parameters: from_day to_day.")
                        .database("flowiq_analytics")
                        .query_string("SELECT 1 FROM events WHERE dt BETWEEN ? AND ?")
                        .build()
                        .unwrap(),
                )
                .build()
        }),
        mock!(aws_sdk_athena::Client::start_query_execution).then_output(|| {
            aws_sdk_athena::operation::start_query_execution::StartQueryExecutionOutput::builder()
                .query_execution_id("exec-1")
                .build()
        }),
        mock!(aws_sdk_athena::Client::get_query_execution).then_output(move || {
            aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput::builder()
                .query_execution(
                    QueryExecution::builder()
                        .query_execution_id("exec-1")
                        .status(
                            QueryExecutionStatus::builder()
                                .state(QueryExecutionState::Failed)
                                .state_change_reason(reason)
                                .build(),
                        )
                        .statistics(
                            QueryExecutionStatistics::builder()
                                .data_scanned_in_bytes(10_485_760)
                                .build(),
                        )
                        .build(),
                )
                .build()
        }),
    ];
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(&rule);
    }
    aws_sdk_athena::Client::from_conf(
        aws_sdk_athena::Config::builder()
            .behavior_version(aws_sdk_athena::config::BehaviorVersion::latest())
            .region(aws_sdk_athena::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_athena::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build(),
    )
}

#[tokio::test]
async fn a_query_athena_fails_exits_6_with_athenas_reason() {
    let reason = "Query exhausted resources: Bytes scanned limit was exceeded";
    let athena = failing_athena(reason);
    let days = ["2026-03-03", "2026-03-04"];
    let (result, out) = run_query(&athena, "daily-delivery", &days, Format::JsonLines).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, EventsError::QueryFailed { .. }),
        "{error:?}"
    );
    assert_eq!(error.exit_status(), ExitStatus::Aws);
    assert_eq!(error.exit_status().code(), 6);
    assert_eq!(
        error.to_string(),
        format!("query daily-delivery FAILED (execution exec-1): {reason}")
    );
    assert!(out.is_empty(), "nothing printed for a failed query");
}
