//! `flowiq-bootstrap`: registers the deployed webhook URL with FlowIQ. See docs/bootstrap.md.
//! This file only wires: flags, the AWS configuration, the run, the output and the exit code.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use flowiq_ops::bootstrap::aws::{AwsClients, sdk_config_for};
use flowiq_ops::bootstrap::cli::{Args, ExitStatus, Settings};
use flowiq_ops::bootstrap::report::Report;
use flowiq_ops::bootstrap::{BootstrapError, describe_error, run};

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
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let json = args.json;
    let settings = match Settings::from_args(args, |name| std::env::var(name).ok(), &cwd) {
        Ok(settings) => settings,
        Err(error) => {
            let error = BootstrapError::Usage(error);
            print_outcome(json, &Report::default(), Some(&error))?;
            return Ok(error.exit_status());
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut report = Report::default();
    let result = runtime.block_on(async {
        let aws = AwsClients::from_conf(&sdk_config_for(&settings).await);
        run(&settings, &aws, &mut report).await
    });
    print_outcome(settings.json, &report, result.as_ref().err())?;
    Ok(result.map_or_else(|e| e.exit_status(), |()| ExitStatus::Success))
}

/// The report on stdout (text or one JSON object), the error on stderr.
fn print_outcome(
    json: bool,
    report: &Report,
    error: Option<&BootstrapError>,
) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", report.to_json(error))?;
    } else {
        write!(stdout, "{}", report.to_text())?;
    }
    stdout.flush().context("cannot write to stdout")?;
    if let Some(error) = error {
        eprintln!("error: {}", describe_error(error));
    }
    Ok(())
}

/// Progress and retries on stderr, plain text; `RUST_LOG` overrides the level.
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
