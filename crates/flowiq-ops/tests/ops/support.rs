//! Shared by the flowiq-events tests.

use clap::Parser as _;
use flowiq_harness::captured_writer::CapturedWriter;
use flowiq_harness::test_table::{TestTable, sdk_config};
use flowiq_ops::events::cli::Args;
use flowiq_ops::events::commands::{Context, run};
use flowiq_ops::events::output::Format;
use flowiq_ops::exit_status::ExitStatus;
use flowiq_ops::queries::EventQueries;

/// Nothing listens here: a client pointed at it fails at once if a test calls it by mistake.
const UNREACHABLE: &str = "http://127.0.0.1:9";

/// The clients of a run against `table` on DynamoDB Local; EventBridge and SQS unreachable
/// (replace them with `Context { eventbridge, ..context(&table) }`).
pub fn context(table: &TestTable) -> Context {
    let unreachable = sdk_config(UNREACHABLE);
    let (eventbridge, sqs) = (
        aws_sdk_eventbridge::Client::new(&unreachable),
        aws_sdk_sqs::Client::new(&unreachable),
    );
    // The receiver's test tables are written with the development contact key.
    let contact_key = flowiq_webhooks::contact_key::ContactKey::local_dev();
    Context {
        queries: EventQueries {
            client: table.client.clone(),
            table_name: table.name.clone(),
            contact_key: Some(contact_key),
        },
        eventbridge,
        sqs,
    }
}

/// Runs `flowiq-events <args>` with `context` in `format`, its log lines captured as the tool
/// writes them by default (INFO and above) on this thread (`#[tokio::test]` runs everything on
/// it): the exit status, stdout and the logs.
pub async fn run_events(
    context: &Context,
    format: Format,
    args: &[&str],
) -> (ExitStatus, String, String) {
    let logs = CapturedWriter::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let args = std::iter::once("flowiq-events").chain(args.iter().copied());
    let args = Args::try_parse_from(args).unwrap();
    let mut out = Vec::new();
    let status = run(&args.command, context, format, &mut out).await.unwrap();
    (status, String::from_utf8(out).unwrap(), logs.text())
}
