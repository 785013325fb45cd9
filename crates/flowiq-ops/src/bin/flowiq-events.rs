//! `flowiq-events`: inspect, replay and reprocess stored FlowIQ events. See docs/operations.md.
//! This file only wires: flags, the AWS configuration, the run, the error and the exit code.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;
use flowiq_ops::contact_key_args::{
    CONTACT_KEY_SECRET_OUTPUT, ContactKeyArgsError, ContactKeySource, contact_key_source,
};
use flowiq_ops::deployment::{Deployment, DeploymentError, load_sdk_config};
use flowiq_ops::events::cli::{Args, Command, ForwardingCommand};
use flowiq_ops::events::cli::{ForwardingListArgs, ForwardingRedriveArgs};
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

fn main() -> ExitCode {
    // Usage errors exit 2 here, before anything else happens (clap's convention).
    let args = Args::parse();
    flowiq_ops::cli_logs::init();
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
    // A key given wrong is a usage error before any AWS call.
    let contact_key_source = if needs_contact_key(&args.command) {
        match contact_key_source(&args.contact_key, |name| std::env::var(name).ok()) {
            Ok(source) => Some(source),
            Err(error) => return report(error.into()),
        }
    } else {
        None
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let config = load_sdk_config(&args.deployment).await;
        if config.region().is_none() {
            return Err(DeploymentError::NoRegion.into());
        }
        let cloudformation = aws_sdk_cloudformation::Client::new(&config);
        let mut deployment = Deployment::new(args.deployment.clone(), &cwd, cloudformation);
        let mut stdout = std::io::stdout().lock();
        let result = if let Command::Query(query) = &args.command {
            // Athena only: no table is read.
            let workgroup = (deployment.flag_or_output(
                query.workgroup.as_ref(),
                ANALYTICS_WORKGROUP_OUTPUT,
                "--workgroup",
            ))
            .await?;
            let athena = aws_sdk_athena::Client::new(&config);
            run_analytics_query(query, &athena, &workgroup, format, &mut stdout, ATHENA_POLL).await
        } else {
            let context =
                context(&args.command, &config, &mut deployment, contact_key_source).await?;
            run(&args.command, &context, format, &mut stdout).await
        };
        stdout.flush().map_err(EventsError::Output).and(result)
    });
    match result {
        Ok(status) => Ok(status),
        Err(error) => report(error),
    }
}

/// The table, queue, endpoint and key `command` works with: from its flags, else from the
/// stack's outputs (read only when a flag is missing).
async fn context(
    command: &Command,
    config: &aws_config::SdkConfig,
    deployment: &mut Deployment,
    contact_key_source: Option<ContactKeySource>,
) -> Result<Context, EventsError> {
    let table_name = deployment.table_name().await?;
    let queue = match command {
        Command::Drain(args) => Some((&args.queue_url, SPILL_QUEUE_URL_OUTPUT)),
        Command::Forwarding(
            ForwardingCommand::List(ForwardingListArgs { queue_url, .. })
            | ForwardingCommand::Redrive(ForwardingRedriveArgs { queue_url, .. }),
        ) => Some((queue_url, DEAD_LETTER_QUEUE_OUTPUT)),
        _ => None,
    };
    let queue_url = match queue {
        Some((flag, output)) => Some(
            deployment
                .flag_or_output(flag.as_ref(), output, "--queue-url")
                .await?,
        ),
        None => None,
    };
    let endpoint = match command {
        Command::Forwarding(command) => command.endpoint(),
        _ => None,
    };
    let endpoint_url = match endpoint {
        Some(endpoint) => Some(
            deployment
                .flag_or_output(endpoint.to_url.as_ref(), ENDPOINT_OUTPUT, "--to-url")
                .await?,
        ),
        None => None,
    };
    let contact_key = match contact_key_source {
        None => None,
        Some(ContactKeySource::Local(key)) => Some(key),
        Some(ContactKeySource::Secret(secret)) => {
            let secret = (deployment.flag_or_output(
                secret.as_ref(),
                CONTACT_KEY_SECRET_OUTPUT,
                "--contact-key-secret",
            ))
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
        queue_url,
        endpoint_url,
    })
}

/// The error on stderr, with its exit code.
fn report(error: EventsError) -> anyhow::Result<ExitStatus> {
    eprintln!("error: {error}");
    Ok(error.exit_status())
}
