//! `flowiq-events forwarding …`: from parsed flags to printed result and exit status — the
//! forwarding dead-letter queue listed ([`forwarding_dlq::list`]) and re-driven
//! ([`forwarding_dlq::redrive`]), and stored events replayed to the endpoint in live
//! forwarding's shape (the replay engine, [`super::replay`], with [`Target::Forward`]).
//!
//! The endpoint's credential is read from a file or the environment, never from a flag value
//! (which would sit in the shell history and the process list), and is never printed: the header
//! is marked sensitive and messages name only the endpoint's scheme, host and port.

use std::io::Write;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::cli::{EndpointArgs, ForwardingCommand};
use super::commands::{Context, queue_url, replay_and_print};
use super::error::EventsError;
use super::forwarding_dlq::{self, DeadLetter, RedriveReport};
use super::http_target::{PostTarget, parse_target_url};
use super::output::{Format, write_json_line, write_table};
use super::replay::Target;
use crate::exit_status::ExitStatus;
use crate::retry::RetryPolicy;

/// The stack outputs the forwarding commands read (template.yaml).
pub const DEAD_LETTER_QUEUE_OUTPUT: &str = "ForwardingDeadLetterQueueUrl";
pub const ENDPOINT_OUTPUT: &str = "ForwardingEndpointUrl";
/// The environment variable that may hold the credential header's value.
pub const AUTH_ENV: &str = "FLOWIQ_FORWARDING_AUTH";

impl ForwardingCommand {
    /// The endpoint flags, for the commands that send.
    pub fn endpoint(&self) -> Option<&EndpointArgs> {
        match self {
            ForwardingCommand::List(_) => None,
            ForwardingCommand::Redrive(args) => Some(&args.endpoint),
            ForwardingCommand::Replay(args) => Some(&args.endpoint),
        }
    }
}

/// Checks what needs no AWS: a given `--to-url` (https, or http with --allow-http) and the
/// credential (readable, a valid header).
pub fn validate(command: &ForwardingCommand) -> Result<(), EventsError> {
    if let Some(endpoint) = command.endpoint() {
        if let Some(url) = &endpoint.to_url {
            parse_target_url(url, endpoint.allow_http)?;
        }
        credential(endpoint, std::env::var(AUTH_ENV).ok())?;
    }
    Ok(())
}

/// The endpoint's credential header, from `--auth-value-file` (its content, without the final
/// line break), else from [`AUTH_ENV`] (`env`); none when neither is given. Its value is marked
/// sensitive: debug output never shows it.
fn credential(endpoint: &EndpointArgs, env: Option<String>) -> Result<HeaderMap, EventsError> {
    let usage = |message: String| EventsError::Usage(message);
    let value = match (&endpoint.auth_value_file, env) {
        (Some(path), _) => std::fs::read_to_string(path).map_err(|e| {
            usage(format!(
                "cannot read --auth-value-file {}: {e}",
                path.display()
            ))
        })?,
        (None, Some(value)) => value,
        (None, None) => return Ok(HeaderMap::new()),
    };
    let value = value.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        let problem = format!("the endpoint credential (--auth-value-file or {AUTH_ENV}) is empty");
        return Err(usage(problem));
    }
    let header = &endpoint.auth_header;
    let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
        usage(format!(
            "--auth-header {header:?} is not an HTTP header name"
        ))
    })?;
    // Checked here, so that sending cannot fail on it (the value is never quoted).
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        usage("the endpoint credential has characters an HTTP header cannot carry".into())
    })?;
    value.set_sensitive(true);
    Ok(HeaderMap::from_iter([(name, value)]))
}

/// The endpoint (`--to-url`) with its credential, `max_attempts` per send.
fn endpoint(endpoint: &EndpointArgs, max_attempts: u32) -> Result<PostTarget, EventsError> {
    let url = endpoint.to_url.as_deref().ok_or_else(|| {
        EventsError::Usage("no forwarding endpoint: give --to-url <https URL>".into())
    })?;
    // The stack's own URL is https (its parameter's pattern).
    let url = parse_target_url(url, endpoint.allow_http)?;
    let headers = credential(endpoint, std::env::var(AUTH_ENV).ok())?;
    PostTarget::new(url, RetryPolicy::with_attempts(max_attempts), headers)
}

pub async fn run_forwarding(
    command: &ForwardingCommand,
    context: &Context,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    // A sending command checks its endpoint and credential (`endpoint`) before it reads anything.
    match command {
        ForwardingCommand::List(args) => {
            let queue_url = queue_url(&args.queue_url)?;
            let limit = args.limit as usize;
            let letters = forwarding_dlq::list(&context.sqs, queue_url, limit).await?;
            print_dead_letters(&letters, queue_url, format, out)?;
            Ok(ExitStatus::Success)
        }
        ForwardingCommand::Redrive(args) => {
            let queue_url = queue_url(&args.queue_url)?;
            let target = endpoint(&args.endpoint, args.max_attempts)?;
            let report = forwarding_dlq::redrive(&context.sqs, queue_url, &target).await?;
            match format {
                Format::JsonLines => {
                    if let (Some(at), Some(error)) = (&report.failed_at, &report.error) {
                        tracing::error!(event_id = %at, "{error}");
                    }
                    write_json_line(out, &report)?;
                }
                Format::Table => print_redrive(&report, out)?,
            }
            Ok(report.exit_status())
        }
        ForwardingCommand::Replay(args) => {
            let target = endpoint(&args.endpoint, args.pacing.max_attempts)?;
            let events = args.selection.events(&context.queries).await?;
            // Live forwarding sends no replay header: the run id only names the run here.
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let run_id = format!("forwarding-{now}");
            let target = Target::Forward(target);
            let pacing = &args.pacing;
            replay_and_print(events, &target, pacing, run_id, "forwarding", format, out).await
        }
    }
}

/// The re-drive in words: what was sent, what was left and why, where it stopped.
fn print_redrive(report: &RedriveReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "sent {} events to {} ({} retries); {} left as not forwarded events; {} still in the \
         queue",
        report.sent,
        report.target,
        report.retries,
        report.unreadable.len(),
        report.remaining
    )?;
    for (message_id, why) in &report.unreadable {
        writeln!(out, "left message {message_id}: {why}")?;
    }
    if let (Some(at), Some(error)) = (&report.failed_at, &report.error) {
        writeln!(
            out,
            "stopped at event {at}: {error} (it stays in the queue)"
        )?;
    }
    Ok(())
}

fn print_dead_letters(
    letters: &[DeadLetter],
    queue_url: &str,
    format: Format,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if format == Format::JsonLines {
        return letters
            .iter()
            .try_for_each(|letter| write_json_line(out, letter));
    }
    let rows: Vec<Vec<String>> = (letters.iter())
        .map(|l| {
            let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let event_id = match &l.unreadable {
                Some(why) => format!("(message {}: {why})", l.message_id),
                None => or_dash(&l.event_id),
            };
            let error_message = or_dash(&l.error_message);
            let (time, attempts) = (or_dash(&l.time), or_dash(&l.retry_attempts));
            let (event_type, code) = (or_dash(&l.event_type), or_dash(&l.error_code));
            vec![event_id, event_type, time, attempts, code, error_message]
        })
        .collect();
    if !rows.is_empty() {
        let headers = [
            "event_id",
            "event_type",
            "time",
            "attempts",
            "error_code",
            "error_message",
        ];
        write_table(out, &headers, &rows, Some(80))?;
    }
    writeln!(out, "{} messages in {queue_url}", letters.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(header: &str, file: Option<&std::path::Path>) -> EndpointArgs {
        EndpointArgs {
            to_url: None,
            allow_http: false,
            auth_header: header.to_owned(),
            auth_value_file: file.map(Into::into),
        }
    }

    #[test]
    fn the_credential_comes_from_a_file_or_the_environment_and_is_never_shown() {
        let dir = std::env::temp_dir().join(format!("fwd-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        std::fs::write(&file, "Bearer s3cr3t-from-file\n").unwrap();
        let from_file = credential(&endpoint("Authorization", Some(&file)), Some("env".into()));
        let from_file = from_file.unwrap();
        assert_eq!(from_file["authorization"], "Bearer s3cr3t-from-file");
        assert!(!format!("{from_file:?}").contains("s3cr3t"));
        let from_env = credential(&endpoint("x-api-key", None), Some("k3y".into()));
        assert_eq!(from_env.unwrap()["x-api-key"], "k3y");
        assert!(
            credential(&endpoint("x-api-key", None), None)
                .unwrap()
                .is_empty()
        );
        for (header, env) in [("x-api-key", ""), ("bad header", "v"), ("h", "a\u{7}b")] {
            let error = credential(&endpoint(header, None), Some(env.into())).unwrap_err();
            assert!(!error.to_string().contains("a\u{7}b"), "{error}");
        }
        let missing = credential(&endpoint("h", Some(&dir.join("none"))), None).unwrap_err();
        assert!(
            missing.to_string().contains("--auth-value-file"),
            "{missing}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
