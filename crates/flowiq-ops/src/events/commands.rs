//! Each subcommand from parsed flags to printed result and exit status; the binary only wires
//! the AWS configuration to this.

use std::io::Write;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderValue};

use super::analytics_query::{execution_parameters, find_named_query, run_query};
use super::cli::{Command, ForwardingCommand, QueryArgs, ReplayArgs, ReplayPacingArgs};
use super::cli::{ReplaySelection, TargetArgs};
use super::drain::run_drain;
use super::error::EventsError;
use super::eventbridge_target::EventBridgeTarget;
use super::forwarding_commands::{self, run_forwarding};
use super::http_target::{PostTarget, REPLAY_HEADER, parse_target_url};
use super::inspect;
use super::output::{Format, write_json_line, write_table};
use super::replay::{ReplayReport, Target, replay};
use super::replay_item::ReplayItem;
use super::reprocess::run_reprocess;
use crate::exit_status::ExitStatus;
use crate::queries::{Contact, EventQueries};
use crate::retry::RetryPolicy;

/// The clients a run uses (built once from the operator's AWS configuration). What the flags
/// leave out (a queue, the forwarding endpoint) the binary has filled in from the stack.
pub struct Context {
    /// The table's queries, with the contact key when the command needs it
    /// ([`needs_contact_key`]).
    pub queries: EventQueries,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub sqs: aws_sdk_sqs::Client,
}

/// The queue a command reads (`--queue-url`).
pub fn queue_url(flag: &Option<String>) -> Result<&str, EventsError> {
    let url = flag.as_deref();
    url.ok_or_else(|| EventsError::Usage("give the queue with --queue-url".into()))
}

/// Where a replay goes, checked before anything is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    Url(Url),
    Bus(String),
}

/// Checks a replay's flags: exactly one target; an https URL unless --allow-http. The URL comes
/// from --to-url (or FLOWIQ_REPLAY_TO_URL) or --to-url-file; no message ever shows it.
pub fn target_spec(args: &TargetArgs) -> Result<TargetSpec, EventsError> {
    let usage = |message: &str| Err(EventsError::Usage(message.to_owned()));
    if args.url_from_file.is_some() && args.to_url.is_some() {
        return usage("give the URL once: --to-url-file, or --to-url / FLOWIQ_REPLAY_TO_URL");
    }
    let url = args.url_from_file.as_ref().or(args.to_url.as_ref());
    match (url, args.to_eventbridge.as_deref().map(str::trim)) {
        (Some(url), None) => parse_target_url(url, args.allow_http).map(TargetSpec::Url),
        (None, Some("")) => usage("--to-eventbridge needs a bus name"),
        (None, Some(bus)) => Ok(TargetSpec::Bus(bus.to_owned())),
        (None, None) => {
            usage("replay needs a target: --to-url <https URL> or --to-eventbridge <bus>")
        }
        (Some(_), Some(_)) => usage("give one target: --to-url or --to-eventbridge, not both"),
    }
}

/// Whether the command needs the contact key: to find a WhatsApp number's conversation, or to
/// store events (their `by-contact` keys).
pub fn needs_contact_key(command: &Command) -> bool {
    let number = |selection: &ReplaySelection| {
        matches!(selection, ReplaySelection::Conversation(args)
            if matches!(args.contact, Contact::WhatsappId(_)))
    };
    match command {
        Command::Conversation(args) => matches!(args.contact.contact, Contact::WhatsappId(_)),
        Command::Replay(args) => number(&args.selection),
        Command::Forwarding(ForwardingCommand::Replay(args)) => number(&args.selection),
        Command::ReprocessRejected(args) => !args.dry_run,
        Command::Drain(_) => true,
        _ => false,
    }
}

/// Checks what can be checked without AWS (a replay's target): a usage error exits before any
/// AWS call.
pub fn validate(command: &Command) -> Result<(), EventsError> {
    match command {
        Command::Replay(args) => target_spec(&args.target).map(|_| ()),
        Command::Forwarding(command) => forwarding_commands::validate(command),
        _ => Ok(()),
    }
}

pub async fn run(
    command: &Command,
    context: &Context,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let queries = &context.queries;
    match command {
        Command::Message { wamid } => inspect::message(queries, wamid, format, out).await,
        Command::Conversation(args) => inspect::conversation(queries, args, format, out).await,
        Command::List(args) => inspect::list(queries, args, format, out).await,
        Command::Rejected { since } => {
            inspect::rejected(queries, since.as_deref(), format, out).await
        }
        Command::Replay(args) => run_replay(args, context, format, out).await,
        Command::ReprocessRejected(args) => run_reprocess(args, context, format, out).await,
        Command::Drain(args) => run_drain(args, context, format, out).await,
        Command::Forwarding(command) => run_forwarding(command, context, format, out).await,
        // It reads no table: the binary runs it with an Athena client (run_analytics_query).
        Command::Query(_) => unreachable!("`query` runs through run_analytics_query"),
    }
}

/// `query`: the named query `args.name` of `workgroup`, run through Athena with its
/// parameters; its rows printed as a table or one JSON line each (`kind` = `row`), and a summary
/// (rows, bytes scanned, execution id) logged on stderr. `poll` is the first wait between
/// status checks.
pub async fn run_analytics_query(
    args: &QueryArgs,
    athena: &aws_sdk_athena::Client,
    workgroup: &str,
    format: Format,
    out: &mut impl Write,
    poll: std::time::Duration,
) -> Result<ExitStatus, EventsError> {
    let query = find_named_query(athena, workgroup, &args.name).await?;
    let parameters = execution_parameters(&query, &args.parameters)?;
    let result = run_query(athena, workgroup, &query, parameters, poll).await?;
    let mut rows = result.rows.iter();
    match format {
        Format::JsonLines => {
            rows.try_for_each(|row| write_json_line(out, &result.row_json(row)))?
        }
        Format::Table => {
            let headers: Vec<&str> = (result.columns.iter()).map(|(name, _)| &name[..]).collect();
            let rows: Vec<Vec<String>> = rows
                .map(|row| row.iter().map(|c| c.clone().unwrap_or_default()).collect())
                .collect();
            write_table(out, &headers, &rows, None)?;
        }
    }
    tracing::info!(
        query = %query.name,
        execution_id = %result.execution_id,
        rows = result.rows.len(),
        data_scanned_bytes = result.data_scanned_bytes,
        "query succeeded"
    );
    Ok(ExitStatus::Success)
}

pub async fn run_replay(
    args: &ReplayArgs,
    context: &Context,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let pacing = &args.target.pacing;
    let retry = RetryPolicy::with_attempts(pacing.max_attempts);
    let run_id = args.target.run_id.clone().unwrap_or_else(|| {
        let seconds = time::OffsetDateTime::now_utc().unix_timestamp();
        format!("replay-{seconds}-{:08x}", fastrand::u32(..))
    });
    let target = match target_spec(&args.target)? {
        TargetSpec::Url(url) => {
            let header = HeaderValue::from_str(&run_id)
                .map_err(|_| EventsError::Usage("the run id must be printable ASCII".to_owned()))?;
            let headers = HeaderMap::from_iter([(REPLAY_HEADER, header)]);
            Target::Http(PostTarget::new(url, retry, headers)?)
        }
        TargetSpec::Bus(bus) => {
            let client = context.eventbridge.clone();
            Target::EventBridge(EventBridgeTarget { client, bus, retry })
        }
    };
    let mut events = args.selection.events(&context.queries).await?;
    if let Some(platform) = &args.target.platform {
        events.retain(|event| event.event.platform.as_str() == platform);
        if events.is_empty() {
            let problem = format!("the selection has no {platform} events");
            return Err(EventsError::NotFound(problem));
        }
    }
    replay_and_print(events, &target, pacing, run_id, "replaying", format, out).await
}

/// Replays `events` to `target` as `pacing` says (or counts them, in a dry run), prints the
/// outcome once (on a terminal the summary names the error, no log line repeats it; in JSON
/// lines the summary has it and a log line on stderr tells whoever watches the run), and gives
/// its exit status.
pub(super) async fn replay_and_print(
    events: Vec<ReplayItem>,
    target: &Target,
    pacing: &ReplayPacingArgs,
    run_id: String,
    doing: &str,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let mut report = replay(events, target, pacing, doing, ctrl_c()).await;
    report.run_id = run_id;
    match format {
        Format::JsonLines => {
            if let (Some(at), Some(error)) = (&report.failed_at, &report.error) {
                tracing::error!(at = %at, "{error}");
            }
            write_json_line(out, &report)?;
        }
        Format::Table => print_replay(&report, out)?,
    }
    Ok(match &report.error {
        Some(error) => error.exit_status(),
        // Stopped before the end: resume from the printed cursor, as after a refusal.
        None if report.interrupted => ExitStatus::Incomplete,
        None => ExitStatus::Success,
    })
}

/// Resolves at the first Ctrl-C (SIGINT); never when the handler cannot be installed (the
/// default then applies: the process ends without a summary).
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The outcome in words, and the cursor to resume from.
fn print_replay(report: &ReplayReport, out: &mut impl Write) -> std::io::Result<()> {
    let (target, skipped) = (&report.target, report.skipped);
    if report.dry_run {
        writeln!(
            out,
            "dry run: would send {} of {} selected events to {target} ({skipped} at or before \
             the resume cursor)",
            report.to_send, report.selected
        )?;
    } else {
        let skipped = match skipped {
            0 => String::new(),
            n => format!(", {n} skipped: at or before the resume cursor"),
        };
        writeln!(
            out,
            "sent {} of {} events to {target} (run {}, {} retries{skipped})",
            report.sent, report.to_send, report.run_id, report.retries,
        )?;
        if let (Some(at), Some(error)) = (&report.failed_at, &report.error) {
            writeln!(out, "stopped at {at}: {error}")?;
        } else if report.interrupted && report.cursor.is_none() {
            writeln!(
                out,
                "interrupted before any event was sent: nothing to resume from"
            )?;
        } else if report.interrupted {
            writeln!(
                out,
                "interrupted: sends in flight were abandoned (they may have arrived; a resume \
                 sends them again)"
            )?;
        }
    }
    if let Some(cursor) = &report.cursor {
        writeln!(out, "cursor: {cursor}  (continue with --resume {cursor})")?;
    }
    Ok(())
}
