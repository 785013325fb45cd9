//! Each subcommand from parsed flags to printed result and exit status; the binary only wires
//! the AWS configuration to this.

use std::io::Write;

use reqwest::Url;
use serde_json::json;

use flowiq_webhooks::acceptance::Acceptor;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;

use super::cli::{Command, DrainArgs, ReplayArgs, ReplaySelection, ReprocessArgs, TargetArgs};
use super::drain::drain;
use super::error::EventsError;
use super::eventbridge_target::EventBridgeTarget;
use super::exit::ExitStatus;
use super::http_target::{HttpTarget, parse_target_url};
use super::inspect;
use super::output::{Format, write_json_line, write_table};
use super::progress::Progress;
use super::replay::{ReplayOptions, ReplayReport, Target, dry_run, replay};
use super::reprocess::{Detail, Reprocessed, Reprocessor, skip_reason};
use super::selection::Selection;
use super::time_arg::TimeArg;
use crate::queries::EventQueries;
use crate::retry::RetryPolicy;

/// The clients a run uses (built once from the operator's AWS configuration).
pub struct Context {
    pub queries: EventQueries,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The spill queue (`drain`): `--queue-url`, else the stack output `SpillQueueUrl`.
    pub spill_queue_url: Option<String>,
}

/// Where a replay goes, checked before anything is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    Url(Url),
    Bus(String),
}

/// Checks a replay's flags: exactly one target; an https URL unless --allow-http.
pub fn target_spec(args: &TargetArgs) -> Result<TargetSpec, EventsError> {
    match (&args.to_url, &args.to_eventbridge) {
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

pub fn replay_selection(selection: &ReplaySelection) -> Selection {
    match selection {
        ReplaySelection::Message {
            whatsapp_message_id,
        } => Selection::Message {
            whatsapp_message_id: whatsapp_message_id.clone(),
        },
        ReplaySelection::Conversation(args) => Selection::Conversation {
            organization_id: args.organization_id.clone(),
            contact: args.contact.clone(),
        },
        ReplaySelection::List(args) => Selection::List {
            organization_id: args.organization_id.clone(),
            since: args.since.clone(),
            until: args.until.clone(),
            types: args.types.clone(),
        },
    }
}

/// Checks what can be checked without AWS (a replay's target): a usage error exits before any
/// AWS call.
pub fn validate(command: &Command) -> Result<(), EventsError> {
    if let Command::Replay(args) = command {
        target_spec(&args.target)?;
    }
    Ok(())
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
    }
    Ok(ExitStatus::Success)
}

pub async fn run_replay(
    args: &ReplayArgs,
    context: &Context,
    format: Format,
    out: &mut impl Write,
) -> Result<ExitStatus, EventsError> {
    let spec = target_spec(&args.target)?;
    let options = ReplayOptions {
        rate: Some(args.target.rate),
        concurrency: usize::from(args.target.concurrency),
        resume: args.target.resume.clone(),
    };
    let run_id = args.target.run_id.clone().unwrap_or_else(new_run_id);
    let mut events = replay_selection(&args.selection)
        .events(&context.queries)
        .await?;
    if let Some(platform) = &args.target.platform {
        events.retain(|event| &event.platform == platform);
        if events.is_empty() {
            return Err(EventsError::NotFound(format!(
                "the selection has no {platform} events"
            )));
        }
    }
    let retry = RetryPolicy {
        max_attempts: args.target.max_attempts,
        ..RetryPolicy::default()
    };
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
    let report = if args.target.dry_run {
        dry_run(&events, &options)
    } else {
        let progress = Progress::new((events.len()) as u64, "replaying");
        replay(events, &target, &options, &progress).await
    };
    print_replay(
        &report,
        &target.describe(),
        &run_id,
        args.target.dry_run,
        format,
        out,
    )?;
    Ok(match &report.failure {
        Some((_, error)) => error.exit_status(),
        None => ExitStatus::Success,
    })
}

fn new_run_id() -> String {
    let seconds = time::OffsetDateTime::now_utc().unix_timestamp();
    format!("replay-{seconds}-{:08x}", fastrand::u32(..))
}

fn print_replay(
    report: &ReplayReport,
    target: &str,
    run_id: &str,
    dry_run: bool,
    format: Format,
    out: &mut impl Write,
) -> Result<(), EventsError> {
    let remaining = report.selected - report.skipped;
    match format {
        Format::JsonLines => write_json_line(
            out,
            &json!({
                "kind": "replay_summary",
                "dry_run": dry_run,
                "run_id": run_id,
                "target": target,
                "selected": report.selected,
                "skipped_by_resume": report.skipped,
                "to_send": remaining,
                "sent": report.sent,
                "sent_after_failure": report.sent_after_failure,
                "retries": report.retries,
                "cursor": report.cursor,
                "failed_at": report.failure.as_ref().map(|(at, _)| at),
                "error": report.failure.as_ref().map(|(_, e)| e.to_string()),
            }),
        )?,
        Format::Table if dry_run => writeln!(
            out,
            "dry run: would send {remaining} of {} selected events to {target} ({} at or before \
             the resume cursor)",
            report.selected, report.skipped
        )?,
        Format::Table => {
            writeln!(
                out,
                "sent {} of {remaining} events to {target} (run {run_id}, {} retries{})",
                report.sent,
                report.retries,
                if report.skipped > 0 {
                    format!(
                        ", {} skipped: at or before the resume cursor",
                        report.skipped
                    )
                } else {
                    String::new()
                }
            )?;
            if let Some((at, error)) = &report.failure {
                writeln!(out, "stopped at {at}: {error}")?;
            }
        }
    }
    if let Some(cursor) = &report.cursor
        && format == Format::Table
    {
        writeln!(out, "cursor: {cursor}  (continue with --resume {cursor})")?;
    }
    Ok(())
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
    let reprocessor = Reprocessor::new(
        context.dynamodb.clone(),
        context.queries.table_name(),
        args.retention_days,
    );
    let mut results: Vec<Reprocessed> = Vec::new();
    if !args.dry_run {
        let progress = Progress::new(todo.len() as u64, "reprocessing");
        for item in &todo {
            results.push(reprocessor.reprocess(item).await);
            progress.advance(1);
        }
        progress.finish();
    }
    let failed = results.iter().filter(|r| r.result.is_err()).count();
    let count = |outcome: &str| {
        results
            .iter()
            .filter(|r| matches!(&r.result, Ok((o, _)) if o.as_str() == outcome))
            .count()
    };
    match format {
        Format::JsonLines => {
            for r in &results {
                let (outcome, event_id, reason, error) = match &r.result {
                    Ok((o, Detail::EventId(id))) => (o.as_str(), Some(id), None, None),
                    Ok((o, Detail::Reason(reason))) => (o.as_str(), None, Some(reason), None),
                    Err(error) => ("error", None, None, Some(error)),
                };
                write_json_line(
                    out,
                    &json!({"kind": "reprocessed", "pk": r.pk, "sk": r.sk,
                            "received_at": r.received_at, "outcome": outcome,
                            "event_id": event_id, "reason": reason, "error": error}),
                )?;
            }
            write_json_line(
                out,
                &json!({"kind": "reprocess_summary", "dry_run": args.dry_run,
                        "rejected": items.len(), "to_reprocess": todo.len(),
                        "skipped": skipped.len(), "stored": count("stored"),
                        "duplicate": count("duplicate"), "still_invalid": count("still_invalid"),
                        "failed": failed}),
            )?;
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = results
                .iter()
                .map(|r| {
                    let (outcome, detail) = match &r.result {
                        Ok((o, Detail::EventId(id))) => (o.as_str(), id.clone()),
                        Ok((o, Detail::Reason(reason))) => (o.as_str(), reason.clone()),
                        Err(error) => ("error", error.clone()),
                    };
                    vec![r.received_at.clone(), outcome.to_owned(), detail]
                })
                .collect();
            if !rows.is_empty() {
                write_table(
                    out,
                    &["received_at", "outcome", "event id / reason"],
                    &rows,
                    100,
                )?;
            }
            if args.dry_run {
                writeln!(
                    out,
                    "dry run: would reprocess {} of {} rejected deliveries ({} skipped: no body \
                     kept, or already stored)",
                    todo.len(),
                    items.len(),
                    skipped.len()
                )?;
            } else {
                writeln!(
                    out,
                    "{} rejected deliveries: {} stored, {} duplicate, {} still invalid, {} \
                     failed, {} skipped (no body kept, or already stored)",
                    items.len(),
                    count("stored"),
                    count("duplicate"),
                    count("still_invalid"),
                    failed,
                    skipped.len()
                )?;
            }
        }
    }
    Ok(if failed > 0 {
        ExitStatus::PartialFailure
    } else {
        ExitStatus::Success
    })
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
