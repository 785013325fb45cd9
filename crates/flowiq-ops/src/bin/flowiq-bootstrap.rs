//! `flowiq-bootstrap`: registers the deployed webhook URL with FlowIQ (docs/bootstrap.md). This
//! file only wires: flags, settings, the AWS clients, the run, the output and the exit code.

use std::process::ExitCode;

use clap::Parser as _;
use flowiq_ops::bootstrap::aws::AwsClients;
use flowiq_ops::bootstrap::cli::API_KEY_ENV;
use flowiq_ops::bootstrap::report::Report;
use flowiq_ops::bootstrap::{Args, BootstrapError, Settings, run};
use flowiq_ops::exit_status::finish;

fn main() -> ExitCode {
    // Flags clap rejects exit 2 here, before anything else happens.
    let args = Args::parse();
    flowiq_ops::cli_logs::init();

    let json = args.json;
    let mut report = Report::default();
    let result = bootstrap(args, &mut report);
    let output = if json {
        format!("{}\n", report.to_json(result.as_ref().err()))
    } else {
        report.to_text()
    };
    let error = result.as_ref().err();
    finish(&output, error.map(|e| (e as _, e.exit_status())))
}

fn bootstrap(args: Args, report: &mut Report) -> Result<(), BootstrapError> {
    let unexpected =
        |what: &str, e: std::io::Error| BootstrapError::Unexpected(format!("{what}: {e}"));
    let cwd =
        std::env::current_dir().map_err(|e| unexpected("cannot read the current directory", e))?;
    let settings = Settings::new(args, std::env::var(API_KEY_ENV).ok(), cwd)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| unexpected("cannot start the async runtime", e))?;
    runtime.block_on(async { run(&settings, &AwsClients::load(&settings).await, report).await })
}
