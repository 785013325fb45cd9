//! `flowiq-events forwarding …`: from parsed flags to printed result and exit status — the
//! forwarding dead-letter queue listed ([`forwarding_dlq::list`]) and re-driven
//! ([`forwarding_dlq::redrive`]), and stored events replayed to the endpoint in live
//! forwarding's shape (the replay engine, [`super::replay`], with a [`ForwardTarget`]).

use std::io::Write;

use reqwest::Url;
use serde_json::json;

use super::cli::{EndpointArgs, ForwardingCommand};
use super::commands::{Context, replay_and_print};
use super::error::EventsError;
use super::forward_target::{AUTH_ENV, EndpointAuth, ForwardTarget};
use super::forwarding_dlq::{self, DeadLetter, RedriveReport};
use super::http_target::parse_target_url;
use super::output::{Column, Format, write_json_line, write_table};
use super::replay::Target;
use crate::exit_status::ExitStatus;
use crate::retry::RetryPolicy;

/// What the stack's outputs say of its forwarding, read only when a flag does not replace them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardingDeployment {
    /// The stack output `ForwardingDeadLetterQueueUrl` (`--queue-url` replaces it).
    pub dead_letter_queue_url: Option<String>,
    /// The stack output `ForwardingEndpointUrl` (`--to-url` replaces it).
    pub endpoint_url: Option<String>,
}

/// The stack outputs the forwarding commands read (template.yaml).
pub const DEAD_LETTER_QUEUE_OUTPUT: &str = "ForwardingDeadLetterQueueUrl";
pub const ENDPOINT_OUTPUT: &str = "ForwardingEndpointUrl";

impl ForwardingCommand {
    /// The endpoint flags, for the commands that send.
    pub fn endpoint(&self) -> Option<&EndpointArgs> {
        match self {
            ForwardingCommand::List(_) => None,
            ForwardingCommand::Redrive(args) => Some(&args.endpoint),
            ForwardingCommand::Replay(args) => Some(&args.endpoint),
        }
    }

    /// `--queue-url`, for the commands that read the dead-letter queue; `Some(None)` when it
    /// must come from the stack.
    pub fn queue_url(&self) -> Option<Option<&str>> {
        match self {
            ForwardingCommand::List(args) => Some(args.queue_url.as_deref()),
            ForwardingCommand::Redrive(args) => Some(args.queue_url.as_deref()),
            ForwardingCommand::Replay(_) => None,
        }
    }
}

/// Checks what needs no AWS: a given `--to-url` (https, or http with --allow-http) and the
/// credential (readable, a valid header).
pub fn validate(command: &ForwardingCommand) -> Result<(), EventsError> {
    if let Some(endpoint) = command.endpoint() {
        if let Some(url) = &endpoint.to_url {
            parse_target_url(url, endpoint.allow_http)
                .map_err(|e| EventsError::Usage(e.to_string()))?;
        }
        endpoint_auth(endpoint)?;
    }
    Ok(())
}

fn endpoint_auth(endpoint: &EndpointArgs) -> Result<Option<EndpointAuth>, EventsError> {
    EndpointAuth::read(
        &endpoint.auth_header,
        endpoint.auth_value_file.as_deref(),
        std::env::var(AUTH_ENV).ok(),
    )
    .map_err(EventsError::Usage)
}

fn endpoint_url(endpoint: &EndpointArgs, context: &Context) -> Result<Url, EventsError> {
    let url = endpoint.to_url.as_deref();
    let url = url
        .or(context.forwarding.endpoint_url.as_deref())
        .ok_or_else(|| {
            EventsError::Usage("no forwarding endpoint: give --to-url <https URL>".into())
        })?;
    // The stack's own URL is https (its parameter's pattern).
    parse_target_url(url, endpoint.allow_http).map_err(|e| EventsError::Usage(e.to_string()))
}

fn queue_url<'a>(flag: Option<&'a str>, context: &'a Context) -> Result<&'a str, EventsError> {
    let url = flag.or(context.forwarding.dead_letter_queue_url.as_deref());
    url.ok_or_else(|| EventsError::Usage("give the dead-letter queue with --queue-url".into()))
}

/// The endpoint's target: its URL and credential, with `max_attempts` per send.
fn forward_target(
    endpoint: &EndpointArgs,
    context: &Context,
    max_attempts: u32,
) -> Result<ForwardTarget, EventsError> {
    let retry = RetryPolicy::with_attempts(max_attempts);
    let target = ForwardTarget::new(
        endpoint_url(endpoint, context)?,
        endpoint_auth(endpoint)?,
        retry,
    );
    target.map_err(EventsError::Usage)
}

pub async fn run_forwarding(
    command: &ForwardingCommand,
    context: &Context,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    validate(command)?;
    match command {
        ForwardingCommand::List(args) => {
            let queue_url = queue_url(args.queue_url.as_deref(), context)?;
            let letters =
                forwarding_dlq::list(&context.sqs, queue_url, args.limit as usize).await?;
            print_dead_letters(&letters, queue_url, format, out)?;
            Ok(ExitStatus::Success)
        }
        ForwardingCommand::Redrive(args) => {
            let queue_url = queue_url(args.queue_url.as_deref(), context)?;
            let target = forward_target(&args.endpoint, context, args.max_attempts)?;
            let report = forwarding_dlq::redrive(&context.sqs, queue_url, &target).await?;
            print_redrive(&report, &target.describe(), format, out)?;
            Ok(report.exit_status())
        }
        ForwardingCommand::Replay(args) => {
            let target = forward_target(&args.endpoint, context, args.pacing.max_attempts)?;
            let events = args.selection.events(&context.queries).await?;
            // Live forwarding sends no replay header: the run id only names the run here.
            let run_id = format!(
                "forwarding-{}",
                time::OffsetDateTime::now_utc().unix_timestamp()
            );
            let target = Target::Forward(target);
            replay_and_print(
                events,
                &target,
                &args.pacing,
                &run_id,
                "forwarding",
                format,
                out,
            )
            .await
        }
    }
}

fn print_redrive(
    report: &RedriveReport,
    target: &str,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    let failure = report.failure.as_ref();
    match format {
        Format::JsonLines => {
            if let Some((at, error)) = failure {
                tracing::error!(event_id = %at, "{error}");
            }
            let mut line = serde_json::to_value(report).expect("a report serialises");
            line["kind"] = json!("redrive_summary");
            line["target"] = json!(target);
            line["failed_at"] = json!(failure.map(|(at, _)| at));
            line["error"] = json!(failure.map(|(_, e)| e.to_string()));
            write_json_line(out, &line)?;
        }
        Format::Table => {
            writeln!(
                out,
                "sent {} events to {target} ({} retries); {} left as not forwarded events; {} \
                 still in the queue",
                report.sent,
                report.retries,
                report.unreadable.len(),
                report.remaining
            )?;
            for (message_id, why) in &report.unreadable {
                writeln!(out, "left message {message_id}: {why}")?;
            }
            if let Some((at, error)) = failure {
                writeln!(
                    out,
                    "stopped at event {at}: {error} (it stays in the queue)"
                )?;
            }
        }
    }
    Ok(())
}

const DEAD_LETTER_COLUMNS: [Column; 6] = [
    Column::whole("event_id"),
    Column::whole("event_type"),
    Column::whole("time"),
    Column::whole("attempts"),
    Column::whole("error_code"),
    Column::cut("error_message", 80),
];

fn print_dead_letters(
    letters: &[DeadLetter],
    queue_url: &str,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    match format {
        Format::JsonLines => {
            for letter in letters {
                let mut line = serde_json::to_value(letter).expect("serialises");
                line["kind"] = json!("forwarding_dead_letter");
                write_json_line(out, &line)?;
            }
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = letters
                .iter()
                .map(|l| {
                    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                    let event_id = match &l.unreadable {
                        Some(why) => format!("(message {}: {why})", l.message_id),
                        None => or_dash(&l.event_id),
                    };
                    vec![
                        event_id,
                        or_dash(&l.event_type),
                        or_dash(&l.time),
                        or_dash(&l.retry_attempts),
                        or_dash(&l.error_code),
                        or_dash(&l.error_message),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                write_table(out, &DEAD_LETTER_COLUMNS, &rows)?;
            }
            writeln!(out, "{} messages in {queue_url}", letters.len())?;
        }
    }
    Ok(())
}
