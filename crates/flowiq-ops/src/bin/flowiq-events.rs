//! `flowiq-events`: inspect, replay and reprocess stored FlowIQ events. See docs/operations.md.
//! This file only wires: flags, the AWS configuration, the run, the error and the exit code.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use aws_config::{BehaviorVersion, Region};
use clap::Parser as _;
use flowiq_ops::events::cli::{Args, TableArgs};
use flowiq_ops::events::commands::{Context, run, validate};
use flowiq_ops::events::error::EventsError;
use flowiq_ops::events::exit::ExitStatus;
use flowiq_ops::events::output::Format;
use flowiq_ops::queries::EventQueries;

fn main() -> ExitCode {
    // Usage errors exit 2 here, before anything else happens (clap's convention).
    let args = Args::parse();
    init_logs();
    match main_inner(args) {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(ExitStatus::Unexpected.code())
        }
    }
}

fn main_inner(args: Args) -> anyhow::Result<ExitStatus> {
    let format = Format::choose(args.json);
    if let Err(error) = validate(&args.command) {
        return report(error);
    }
    let Some(table_name) = args.table.table_name.clone() else {
        return report(EventsError::Usage(
            "which table? pass --table-name or set TABLE_NAME (the stack output TableName)".into(),
        ));
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let config = load_sdk_config(&args.table).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let context = Context {
            queries: EventQueries::new(dynamodb.clone(), table_name),
            dynamodb,
            eventbridge: aws_sdk_eventbridge::Client::new(&config),
        };
        let mut stdout = std::io::stdout().lock();
        let result = run(&args.command, &context, format, &mut stdout).await;
        stdout.flush().map_err(EventsError::Output).and(result)
    });
    match result {
        Ok(status) => Ok(status),
        Err(error) => report(error),
    }
}

/// The error on stderr, with its exit code.
fn report(error: EventsError) -> anyhow::Result<ExitStatus> {
    eprintln!("error: {error}");
    Ok(error.exit_status())
}

/// The usual AWS configuration (environment, profile, `--region` / `--profile`).
async fn load_sdk_config(args: &TableArgs) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}

/// Retries and failures on stderr, plain text; `RUST_LOG` overrides the level.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,flowiq_ops=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
}
