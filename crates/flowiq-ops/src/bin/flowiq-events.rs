//! `flowiq-events`: inspect, replay and reprocess stored FlowIQ events. See docs/operations.md.
//! This file only wires: flags, the AWS configuration, the run, the error and the exit code.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;
use flowiq_ops::contact_key_args::{
    CONTACT_KEY_SECRET_OUTPUT, ContactKeyArgsError, ContactKeySource, contact_key_source,
};
use flowiq_ops::deployment::{Deployment, DeploymentError, load_sdk_config};
use flowiq_ops::events::cli::{Args, Command, ForwardingCommand};
use flowiq_ops::events::commands::{
    Context, needs_contact_key, run, run_analytics_query, validate,
};
use flowiq_ops::events::error::EventsError;
use flowiq_ops::events::forwarding_commands::{DEAD_LETTER_QUEUE_OUTPUT, ENDPOINT_OUTPUT};
use flowiq_ops::events::output::Format;
use flowiq_ops::exit_status::ExitStatus;
use flowiq_ops::queries::EventQueries;
use flowiq_webhooks::contact_key_secret::read_contact_key;

/// The stack output naming the spill queue (template.yaml).
const SPILL_QUEUE_URL_OUTPUT: &str = "SpillQueueUrl";
/// The stack output naming the analytics archive's Athena workgroup (template.yaml).
const ANALYTICS_WORKGROUP_OUTPUT: &str = "AnalyticsWorkGroupName";
/// The first wait between an Athena query's status checks (then doubling, up to 2 s).
const ATHENA_POLL: Duration = Duration::from_millis(500);

#[tokio::main(worker_threads = 2)]
async fn main() -> ExitCode {
    // Usage errors exit 2 here, before anything else happens (clap's convention).
    let args = Args::parse();
    flowiq_ops::cli_logs::init();
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => {
            eprintln!("error: cannot read the current directory: {error}");
            return ExitStatus::Unexpected.into();
        }
    };
    let mut stdout = std::io::stdout().lock();
    let result = events(args, &cwd, &mut stdout).await;
    match stdout.flush().map_err(EventsError::Output).and(result) {
        Ok(status) => status.into(),
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_status().into()
        }
    }
}

async fn events(
    mut args: Args,
    cwd: &Path,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let format = Format::choose(args.json);
    validate(&args.command)?;
    // A key given wrong is a usage error before any AWS call.
    let contact_key_source = (needs_contact_key(&args.command))
        .then(|| contact_key_source(&args.contact_key, |name| std::env::var(name).ok()))
        .transpose()?;
    let config = load_sdk_config(&args.deployment).await;
    if config.region().is_none() {
        return Err(DeploymentError::NoRegion.into());
    }
    let cloudformation = aws_sdk_cloudformation::Client::new(&config);
    let mut deployment = Deployment::new(args.deployment.clone(), cwd, cloudformation);
    if let Command::Query(query) = &args.command {
        // Athena only: no table is read.
        let (flag, output) = (query.workgroup.as_ref(), ANALYTICS_WORKGROUP_OUTPUT);
        let workgroup = deployment
            .flag_or_output(flag, output, "--workgroup")
            .await?;
        let athena = aws_sdk_athena::Client::new(&config);
        return run_analytics_query(query, &athena, &workgroup, format, out, ATHENA_POLL).await;
    }
    fill_from_stack(&mut args.command, &mut deployment).await?;
    let context = context(&config, &mut deployment, contact_key_source).await?;
    run(&args.command, &context, format, out).await
}

/// The clients, with the table and the contact key: from the flags, else from the stack's
/// outputs (read only when a flag is missing).
async fn context(
    config: &aws_config::SdkConfig,
    deployment: &mut Deployment,
    contact_key_source: Option<ContactKeySource>,
) -> Result<Context, EventsError> {
    let table_name = deployment.table_name().await?;
    let contact_key = match contact_key_source {
        None => None,
        Some(ContactKeySource::Local(key)) => Some(key),
        Some(ContactKeySource::Secret(secret)) => {
            let output = CONTACT_KEY_SECRET_OUTPUT;
            let secret = secret.as_ref();
            let secret = deployment
                .flag_or_output(secret, output, "--contact-key-secret")
                .await?;
            let client = aws_sdk_secretsmanager::Client::new(config);
            let key = read_contact_key(&client, &secret).await;
            Some(key.map_err(ContactKeyArgsError::from)?)
        }
    };
    let client = aws_sdk_dynamodb::Client::new(config);
    Ok(Context {
        queries: EventQueries {
            client,
            table_name,
            contact_key,
        },
        eventbridge: aws_sdk_eventbridge::Client::new(config),
        sqs: aws_sdk_sqs::Client::new(config),
    })
}

/// Fills in what the flags leave out from the stack's outputs: the queue (`drain`, `forwarding
/// list|redrive`) and the forwarding endpoint (`forwarding redrive|replay`).
async fn fill_from_stack(
    command: &mut Command,
    deployment: &mut Deployment,
) -> Result<(), EventsError> {
    let mut fill = async |flag: &mut Option<String>, output, name| {
        let value = deployment
            .flag_or_output(flag.as_ref(), output, name)
            .await?;
        *flag = Some(value);
        Ok::<_, EventsError>(())
    };
    let (queue, endpoint) = ("--queue-url", "--to-url");
    match command {
        Command::Drain(args) => fill(&mut args.queue_url, SPILL_QUEUE_URL_OUTPUT, queue).await,
        Command::Forwarding(ForwardingCommand::List(args)) => {
            fill(&mut args.queue_url, DEAD_LETTER_QUEUE_OUTPUT, queue).await
        }
        Command::Forwarding(ForwardingCommand::Redrive(args)) => {
            fill(&mut args.queue_url, DEAD_LETTER_QUEUE_OUTPUT, queue).await?;
            fill(&mut args.endpoint.to_url, ENDPOINT_OUTPUT, endpoint).await
        }
        Command::Forwarding(ForwardingCommand::Replay(args)) => {
            fill(&mut args.endpoint.to_url, ENDPOINT_OUTPUT, endpoint).await
        }
        _ => Ok(()),
    }
}
