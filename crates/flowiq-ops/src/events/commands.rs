//! Each subcommand from parsed flags to printed result and exit status; the binary only wires
//! the AWS configuration to this.

use std::io::Write;

use reqwest::Url;
use serde::Serialize;
use serde_json::json;

use flowiq_webhooks::acceptance::Acceptor;
use flowiq_webhooks::contact_key::ContactKey;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;

use super::analytics_query::{find_named_query, run_query};
use super::cli::{
    Command, DrainArgs, ForwardingCommand, QueryArgs, ReplayArgs, ReplayPacingArgs,
    ReplaySelection, ReprocessArgs, TargetArgs,
};
use super::drain::drain;
use super::error::EventsError;
use super::eventbridge_target::EventBridgeTarget;
use super::forwarding_commands::{self, ForwardingDeployment, run_forwarding};
use super::http_target::{HttpTarget, parse_target_url};
use super::inspect::{self, REJECTED_COLUMNS, rejected_row};
use super::output::{Column, Format, item_json, write_json_line, write_table, write_table_of};
use super::progress::Progress;
use super::replay::{ReplayOptions, ReplayReport, Target, dry_run, replay};
use super::replay_item::ReplayItem;
use super::reprocess::{Detail, Outcome, Reprocessed, Reprocessor, skip_reason};
use super::time_arg::TimeArg;
use crate::exit_status::ExitStatus;
use crate::queries::{Contact, EventQueries, Item};
use crate::retry::RetryPolicy;

/// The clients a run uses (built once from the operator's AWS configuration).
pub struct Context {
    /// The table's queries, with the contact key when the command needs it.
    pub queries: EventQueries,
    /// The contact key, read when the command needs it ([`needs_contact_key`]).
    pub contact_key: Option<ContactKey>,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The spill queue (`drain`): `--queue-url`, else the stack output `SpillQueueUrl`.
    pub spill_queue_url: Option<String>,
    /// The forwarding dead-letter queue and endpoint (`forwarding …`).
    pub forwarding: ForwardingDeployment,
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
    let from_file = match &args.to_url_file {
        None => None,
        Some(_) if args.to_url.is_some() => {
            return Err(EventsError::Usage(
                "give the URL once: --to-url-file, or --to-url / FLOWIQ_REPLAY_TO_URL".into(),
            ));
        }
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|err| {
                EventsError::Usage(format!(
                    "cannot read --to-url-file {}: {}",
                    path.display(),
                    err.kind()
                ))
            })?;
            let url = text.lines().next().unwrap_or_default().trim().to_owned();
            if url.is_empty() {
                return Err(EventsError::Usage(format!(
                    "--to-url-file {} is empty: put the URL on its first line",
                    path.display()
                )));
            }
            Some(url)
        }
    };
    match (
        from_file.as_ref().or(args.to_url.as_ref()),
        &args.to_eventbridge,
    ) {
        (Some(url), None) => parse_target_url(url, args.allow_http)
            .map(TargetSpec::Url)
            .map_err(|err| EventsError::Usage(err.to_string())),
        (None, Some(bus)) if !bus.trim().is_empty() => Ok(TargetSpec::Bus(bus.trim().to_owned())),
        (None, Some(_)) => Err(EventsError::Usage(
            "--to-eventbridge needs a bus name".into(),
        )),
        (None, None) => Err(EventsError::Usage(
            "replay needs a target: --to-url <https URL> or --to-eventbridge <bus>".into(),
        )),
        (Some(_), Some(_)) => Err(EventsError::Usage(
            "give one target: --to-url or --to-eventbridge, not both".into(),
        )),
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

/// The contact key of a command that needs one (the binary reads it first).
fn required_contact_key(context: &Context) -> Result<ContactKey, EventsError> {
    context
        .contact_key
        .clone()
        .ok_or(EventsError::Query(crate::queries::QueryError::NoContactKey))
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
        Command::Message {
            whatsapp_message_id,
        } => inspect::message(queries, whatsapp_message_id, format, out).await?,
        Command::Conversation(args) => inspect::conversation(queries, args, format, out).await?,
        Command::List(args) => inspect::list(queries, args, format, out).await?,
        Command::Rejected { since } => {
            inspect::rejected(queries, since.as_ref(), format, out).await?
        }
        Command::Replay(args) => return run_replay(args, context, format, out).await,
        Command::ReprocessRejected(args) => {
            return run_reprocess(args, context, format, out).await;
        }
        Command::Drain(args) => return run_drain(args, context, format, out).await,
        Command::Forwarding(command) => {
            return run_forwarding(command, context, format, out).await;
        }
        // It reads no table: the binary runs it with an Athena client (run_analytics_query).
        Command::Query(_) => unreachable!("`query` runs through run_analytics_query"),
    }
    Ok(ExitStatus::Success)
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
    let parameters = query.execution_parameters(&args.parameters)?;
    let result = run_query(athena, workgroup, &query, parameters, poll).await?;
    match format {
        Format::JsonLines => {
            for row in &result.rows {
                write_json_line(out, &result.row_json(row))?;
            }
        }
        Format::Table => {
            let headers = result.columns.iter().map(|(name, _)| name.as_str());
            let cuts = vec![None; result.columns.len()];
            let rows: Vec<Vec<String>> = result
                .rows
                .iter()
                .map(|row| row.iter().map(|c| c.clone().unwrap_or_default()).collect())
                .collect();
            write_table_of(out, headers, &cuts, &rows)?;
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
    let spec = target_spec(&args.target)?;
    let pacing = &args.target.pacing;
    let run_id = args.target.run_id.clone().unwrap_or_else(new_run_id);
    let mut events = args.selection.events(&context.queries).await?;
    if let Some(platform) = &args.target.platform {
        events.retain(|event| &event.platform == platform);
        if events.is_empty() {
            return Err(EventsError::NotFound(format!(
                "the selection has no {platform} events"
            )));
        }
    }
    let retry = RetryPolicy::with_attempts(pacing.max_attempts);
    let target = match spec {
        TargetSpec::Url(url) => {
            Target::Http(HttpTarget::new(url, &run_id, retry).map_err(EventsError::Usage)?)
        }
        TargetSpec::Bus(bus) => Target::EventBridge(EventBridgeTarget::new(
            context.eventbridge.clone(),
            bus,
            retry,
        )),
    };
    replay_and_print(events, &target, pacing, &run_id, "replaying", format, out).await
}

/// Replays `events` to `target` as `pacing` says (or counts them, in a dry run), prints the
/// outcome, and gives its exit status.
pub(super) async fn replay_and_print(
    events: Vec<ReplayItem>,
    target: &Target,
    pacing: &ReplayPacingArgs,
    run_id: &str,
    doing: &str,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let options = ReplayOptions {
        rate: Some(pacing.rate),
        concurrency: usize::from(pacing.concurrency),
        resume: pacing.resume.clone(),
    };
    let report = if pacing.dry_run {
        dry_run(&events, &options)
    } else {
        let progress = Progress::new(events.len() as u64, doing);
        replay(events, target, &options, &progress, ctrl_c()).await
    };
    let describe = target.describe();
    print_replay(&report, &describe, run_id, pacing.dry_run, format, out)?;
    Ok(match &report.failure {
        Some((_, error)) => error.exit_status(),
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

fn new_run_id() -> String {
    let seconds = time::OffsetDateTime::now_utc().unix_timestamp();
    format!("replay-{seconds}-{:08x}", fastrand::u32(..))
}

/// The `replay_summary` line.
#[derive(Serialize)]
struct ReplaySummary<'a> {
    kind: &'static str,
    dry_run: bool,
    run_id: &'a str,
    target: &'a str,
    selected: usize,
    skipped_by_resume: usize,
    to_send: usize,
    sent: usize,
    sent_after_failure: usize,
    retries: u64,
    cursor: Option<&'a str>,
    failed_at: Option<&'a str>,
    error: Option<String>,
    interrupted: bool,
}

/// The outcome, once: on a terminal the summary names the error (no log line repeats it); in
/// JSON lines the summary has it and a log line on stderr tells whoever watches the run.
fn print_replay(
    report: &ReplayReport,
    target: &str,
    run_id: &str,
    dry_run: bool,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    match format {
        Format::JsonLines => {
            if let Some((at, error)) = &report.failure {
                tracing::error!(at = %at, "{error}");
            }
            let summary = ReplaySummary {
                kind: "replay_summary",
                dry_run,
                run_id,
                target,
                selected: report.selected,
                skipped_by_resume: report.skipped,
                to_send: report.selected - report.skipped,
                sent: report.sent,
                sent_after_failure: report.sent_after_failure,
                retries: report.retries,
                cursor: report.cursor.as_deref(),
                failed_at: report.failure.as_ref().map(|(at, _)| at.as_str()),
                error: report.failure.as_ref().map(|(_, e)| e.to_string()),
                interrupted: report.interrupted,
            };
            write_json_line(out, &serde_json::to_value(summary).expect("serialises"))?;
        }
        Format::Table => print_replay_table(report, target, run_id, dry_run, out)?,
    }
    Ok(())
}

/// The outcome in words, and the cursor to resume from.
fn print_replay_table(
    report: &ReplayReport,
    target: &str,
    run_id: &str,
    dry_run: bool,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    let remaining = report.selected - report.skipped;
    if dry_run {
        writeln!(
            out,
            "dry run: would send {remaining} of {} selected events to {target} ({} at or before \
             the resume cursor)",
            report.selected, report.skipped
        )?;
    } else {
        let skipped = match report.skipped {
            0 => String::new(),
            n => format!(", {n} skipped: at or before the resume cursor"),
        };
        writeln!(
            out,
            "sent {} of {remaining} events to {target} (run {run_id}, {} retries{skipped})",
            report.sent, report.retries,
        )?;
        if let Some((at, error)) = &report.failure {
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

/// The line of one reprocessed delivery.
#[derive(Serialize)]
struct ReprocessedLine<'a> {
    kind: &'static str,
    pk: &'a str,
    sk: &'a str,
    received_at: &'a str,
    outcome: &'a str,
    event_id: Option<&'a str>,
    reason: Option<&'a str>,
    error: Option<&'a str>,
}

impl<'a> ReprocessedLine<'a> {
    fn new(r: &'a Reprocessed) -> Self {
        let (outcome, event_id, reason, error) = match &r.result {
            Ok((o, Detail::EventId(id))) => (o.as_str(), Some(id.as_str()), None, None),
            Ok((o, Detail::Reason(reason))) => (o.as_str(), None, Some(reason.as_str()), None),
            Err(error) => ("error", None, None, Some(error.as_str())),
        };
        ReprocessedLine {
            kind: "reprocessed",
            pk: &r.pk,
            sk: &r.sk,
            received_at: &r.received_at,
            outcome,
            event_id,
            reason,
            error,
        }
    }
}

pub async fn run_reprocess(
    args: &ReprocessArgs,
    context: &Context,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let items = context
        .queries
        .rejected_deliveries(args.since.as_ref().map(TimeArg::as_str), true)
        .await?;
    let (todo, skipped): (Vec<_>, Vec<_>) =
        items.iter().partition(|item| skip_reason(item).is_none());
    let mut summary = ReprocessSummary {
        kind: "reprocess_summary",
        dry_run: args.dry_run,
        rejected: items.len(),
        to_reprocess: todo.len(),
        skipped: skipped.len(),
        stored: 0,
        duplicate: 0,
        still_invalid: 0,
        failed: 0,
    };
    if args.dry_run {
        print_reprocess_candidates(&todo, &summary, format, out)?;
        return Ok(ExitStatus::Success);
    }
    let reprocessor = Reprocessor::new(
        context.dynamodb.clone(),
        context.queries.table_name(),
        args.retention_days,
        required_contact_key(context)?,
    );
    let mut results: Vec<Reprocessed> = Vec::new();
    let progress = Progress::new(todo.len() as u64, "reprocessing");
    for item in &todo {
        results.push(reprocessor.reprocess(item).await);
        progress.advance(1);
    }
    progress.finish();
    for result in &results {
        match &result.result {
            Ok((Outcome::Stored, _)) => summary.stored += 1,
            Ok((Outcome::Duplicate, _)) => summary.duplicate += 1,
            Ok((Outcome::StillInvalid, _)) => summary.still_invalid += 1,
            Err(_) => summary.failed += 1,
        }
    }
    print_reprocessed(&results, &summary, format, out)?;
    Ok(if summary.failed > 0 {
        ExitStatus::Incomplete
    } else {
        ExitStatus::Success
    })
}

/// The `reprocess_summary` line: its counts also make the table's last line.
#[derive(Serialize)]
struct ReprocessSummary {
    kind: &'static str,
    dry_run: bool,
    rejected: usize,
    to_reprocess: usize,
    skipped: usize,
    stored: usize,
    duplicate: usize,
    still_invalid: usize,
    failed: usize,
}

/// Each reprocessed delivery (a line, or a table row) and the counts.
fn print_reprocessed(
    results: &[Reprocessed],
    summary: &ReprocessSummary,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    if format == Format::JsonLines {
        for r in results {
            let line = serde_json::to_value(ReprocessedLine::new(r)).expect("serialises");
            write_json_line(out, &line)?;
        }
        let line = serde_json::to_value(summary).expect("serialises");
        return Ok(write_json_line(out, &line)?);
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let line = ReprocessedLine::new(r);
            let why = line.reason.or(line.error).unwrap_or_default();
            [
                line.received_at,
                line.outcome,
                line.event_id.unwrap_or_default(),
                why,
            ]
            .map(str::to_owned)
            .to_vec()
        })
        .collect();
    if !rows.is_empty() {
        let columns = [
            Column::whole("received_at"),
            Column::whole("outcome"),
            Column::whole("event_id"),
            Column::cut("reason / error", 100),
        ];
        write_table(out, &columns, &rows)?;
    }
    writeln!(
        out,
        "{} rejected deliveries: {} stored, {} duplicate, {} still invalid, {} failed, {} \
         skipped (no body kept, or already stored)",
        summary.rejected,
        summary.stored,
        summary.duplicate,
        summary.still_invalid,
        summary.failed,
        summary.skipped
    )?;
    Ok(())
}

/// `reprocess-rejected --dry-run`: each delivery that would be reprocessed, as `rejected` shows
/// it (JSON: the item without its body, kind `reprocess_candidate`), then the counts.
fn print_reprocess_candidates(
    todo: &[&Item],
    summary: &ReprocessSummary,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    match format {
        Format::JsonLines => {
            for item in todo {
                let mut item = (*item).clone();
                item.remove("body");
                item.remove("body_bytes");
                write_json_line(out, &item_json("reprocess_candidate", &item)?)?;
            }
            let line = serde_json::to_value(summary).expect("serialises");
            write_json_line(out, &line)?;
        }
        Format::Table => {
            if !todo.is_empty() {
                let rows: Vec<Vec<String>> = todo.iter().map(|item| rejected_row(item)).collect();
                write_table(out, &REJECTED_COLUMNS, &rows)?;
            }
            writeln!(
                out,
                "dry run: would reprocess {} of {} rejected deliveries ({} skipped: \
                 no body kept, or already stored)",
                summary.to_reprocess, summary.rejected, summary.skipped,
            )?;
        }
    }
    Ok(())
}

pub async fn run_drain(
    args: &DrainArgs,
    context: &Context,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let queue_url = context
        .spill_queue_url
        .as_deref()
        .ok_or_else(|| EventsError::Usage("drain needs --queue-url".into()))?;
    let store = DynamoDbEventStore::new(context.dynamodb.clone(), context.queries.table_name());
    let acceptor = Acceptor::new(
        store,
        Retention(args.retention_days.filter(|days| *days > 0)),
        required_contact_key(context)?,
    );
    let report = drain(&context.sqs, queue_url, &acceptor).await?;
    let status = report.exit_status();
    match format {
        Format::JsonLines => {
            let mut line = serde_json::to_value(&report).expect("a report serialises");
            line["kind"] = json!("drain_summary");
            line["queue_url"] = json!(queue_url);
            write_json_line(out, &line)?;
        }
        Format::Table => {
            writeln!(
                out,
                "{queue_url}: {} stored, {} duplicates, {} kept as rejected; {} left while DynamoDB \
                 fails, {} unreadable; {} still in the queue",
                report.stored,
                report.duplicates,
                report.rejected,
                report.storage_unavailable,
                report.unreadable,
                report.remaining
            )?;
        }
    }
    Ok(status)
}
