//! The command line of `flowiq-events` (clap): subcommands, flags and their parsing. Values
//! that clap can check alone are parsed here (times, cursors, contacts), so a malformed one
//! exits 2 naming the flag before any AWS call.

use clap::{Parser, Subcommand};

use super::contact::parse_contact;
use super::cursor::{parse_page_cursor, parse_replay_cursor};
use super::time_arg::parse_time_arg;
use crate::contact_key_args::ContactKeyArgs;
use crate::deployment::{DeploymentArgs, non_empty};
use crate::exit_status::Tool;
use crate::queries::{Contact, Item};

const AFTER_HELP: &str = "\
Times: RFC 3339 (2026-03-07T10:00:00Z, 2026-03-07T12:00:00+02:00) or a duration before now
(30m, 2h, 7d, 1w). Output: a table on a terminal, JSON lines with --json or when stdout is not a
terminal.

Examples:
  flowiq-events message wamid.HBgLMjc4MzAwMDAwMDEVAgARGBI
  flowiq-events conversation --org org-1 --contact 27830000001 --limit 20
  flowiq-events list --org org-1 --since 2h --type message_failed
  flowiq-events rejected --since 7d
  FLOWIQ_REPLAY_TO_URL=https://staging.example.com/hook flowiq-events replay list --org org-1 --since 2026-03-07T10:00:00Z --dry-run
  flowiq-events replay message wamid.X --to-eventbridge my-bus
  flowiq-events reprocess-rejected --since 7d
  flowiq-events drain                     # after an outage: store what was spilled to SQS
  flowiq-events forwarding list           # what your endpoint did not take (dead-letter queue)
  flowiq-events forwarding redrive --auth-value-file key.txt
  flowiq-events forwarding replay list --org org-1 --since 2026-03-07T10:00:00Z --until 2026-03-07T12:00:00Z
  flowiq-events query broadcast-funnel 2026-03-03 2026-03-04   # the analytics archive (Athena)

Ctrl-C during a replay stops it and prints the cursor to resume from (--resume).

Details: docs/operations.md

";

const STACK_NAME_HELP: &str = "CloudFormation stack whose output TableName names the events' \
    table [default: stack_name in ./samconfig.toml, else flowiq-webhooks]";
const TABLE_NAME_HELP: &str =
    "DynamoDB table of the stored events, instead of the stack output TableName";

/// Inspect, replay and reprocess the FlowIQ events stored by the webhook receiver.
///
/// Reads the stack's DynamoDB table with your AWS credentials (never the function's role).
#[derive(Debug, Parser)]
#[command(name = "flowiq-events", version, after_help = long_help_tail())]
// The deployment flags are shared with flowiq-bootstrap; here they find the events' table.
#[command(mut_arg("stack_name", |arg| arg.help(STACK_NAME_HELP)))]
#[command(mut_arg("table_name", |arg| arg.help(TABLE_NAME_HELP)))]
pub struct Args {
    /// Which deployment (as flowiq-bootstrap finds it). Give these before the subcommand.
    #[command(flatten)]
    pub deployment: DeploymentArgs,

    /// The contact key: read only by commands that need it (a WhatsApp number's conversation,
    /// reprocess-rejected, drain).
    #[command(flatten)]
    pub contact_key: ContactKeyArgs,

    /// JSON lines on stdout (the default when stdout is not a terminal)
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A message: its state (status, times, history) and its events in time order
    Message {
        /// FlowIQ's whatsapp_message_id (wamid.…)
        #[arg(value_name = "WHATSAPP_MESSAGE_ID")]
        wamid: String,
    },
    /// A contact's conversation, newest first, one page at a time
    Conversation(ConversationArgs),
    /// An organization's events in a time range, oldest first (all index shards merged)
    List(ListArgs),
    /// Rejected deliveries (reason, size, time), oldest first, from the by-rejection index
    Rejected {
        /// Only those received at or after this time
        #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
        since: Option<String>,
    },
    /// Send stored events again, to a URL or an EventBridge bus, in time order
    Replay(ReplayArgs),
    /// Run the receiver's current validation on rejected bodies; store those that now pass
    ReprocessRejected(ReprocessArgs),
    /// Store the deliveries spilled to the SQS queue while DynamoDB failed (as the drain function)
    Drain(DrainArgs),
    /// Forwarding to your endpoint (ForwardingUrl): its dead-letter queue, re-drive, replays
    #[command(subcommand)]
    Forwarding(ForwardingCommand),
    /// Run a named query of the analytics archive through Athena and print its rows
    /// (docs/analytics.md)
    Query(QueryArgs),
}

#[derive(Debug, Clone, Subcommand)]
pub enum ForwardingCommand {
    /// What waits in the forwarding dead-letter queue: event ids, types, errors (the queue is
    /// unchanged)
    List(ForwardingListArgs),
    /// Send what waits in the forwarding dead-letter queue to the endpoint, as live forwarding
    /// does; each message is deleted after its 2xx
    Redrive(ForwardingRedriveArgs),
    /// Send stored events to the endpoint as live forwarding does (body: the FlowIQ event; the
    /// event id in X-FlowIQ-Event-Id), in time order
    Replay(ForwardingReplayArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ForwardingListArgs {
    /// The forwarding dead-letter queue [default: the stack output ForwardingDeadLetterQueueUrl]
    #[arg(long, value_name = "URL", value_parser = non_empty)]
    pub queue_url: Option<String>,

    /// At most this many messages
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ForwardingRedriveArgs {
    /// The forwarding dead-letter queue [default: the stack output ForwardingDeadLetterQueueUrl]
    #[arg(long, value_name = "URL", value_parser = non_empty)]
    pub queue_url: Option<String>,

    #[command(flatten)]
    pub endpoint: EndpointArgs,

    /// Attempts per event, the first included (retries: connection errors, timeouts, 429, 5xx)
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,
}

/// The endpoint and its credential. The credential's value is read from a file or from the
/// environment variable FLOWIQ_FORWARDING_AUTH, never from a flag, and never printed.
#[derive(Debug, Clone, clap::Args)]
pub struct EndpointArgs {
    /// The endpoint [default: the stack output ForwardingEndpointUrl]
    #[arg(long, value_name = "URL", global = true)]
    pub to_url: Option<String>,

    /// Allow an http:// --to-url (local test endpoints only)
    #[arg(long, global = true)]
    pub allow_http: bool,

    /// The header that carries the endpoint's credential (e.g. x-api-key)
    #[arg(
        long,
        value_name = "NAME",
        default_value = "Authorization",
        global = true
    )]
    pub auth_header: String,

    /// A file holding the credential header's value (an API key, "Basic <base64>",
    /// "Bearer <token>") [default: the environment variable FLOWIQ_FORWARDING_AUTH, else none]
    #[arg(long, value_name = "PATH", global = true)]
    pub auth_value_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ForwardingReplayArgs {
    #[command(subcommand)]
    pub selection: ReplaySelection,

    #[command(flatten)]
    pub endpoint: EndpointArgs,

    #[command(flatten)]
    pub pacing: ReplayPacingArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    /// The named query: broadcast-funnel, daily-delivery, failures-by-kind, lost-receipts,
    /// inbound-volume or first-response-time
    pub name: String,

    /// Its parameters, in order; the stack's queries take two: the first and the last day
    /// (yyyy-MM-dd, UTC) on which the events reached the archive
    #[arg(value_name = "PARAMETER")]
    pub parameters: Vec<String>,

    /// The Athena workgroup [default: the stack output AnalyticsWorkGroupName]
    #[arg(long, value_name = "WORKGROUP", value_parser = non_empty)]
    pub workgroup: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DrainArgs {
    /// The spill queue [default: the stack output SpillQueueUrl]
    #[arg(long, value_name = "URL", value_parser = non_empty)]
    pub queue_url: Option<String>,

    /// Retention of the stored events, in days, as the function's RETENTION_DAYS [default: none]
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u32>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ContactArgs {
    /// Organization id (FlowIQ's organization_id)
    #[arg(long = "org", value_name = "ORG_ID")]
    pub organization_id: String,

    /// The contact: a WhatsApp number (digits), or FlowIQ's contact id (web chat); force one with
    /// wa:<number> or id:<contact id>
    #[arg(long, value_name = "CONTACT", value_parser = parse_contact)]
    pub contact: Contact,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ConversationArgs {
    #[command(flatten)]
    pub contact: ContactArgs,

    /// Entries per page
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub limit: i32,

    /// Continue after the previous page (its next_cursor)
    #[arg(long, value_name = "CURSOR", value_parser = parse_page_cursor)]
    pub cursor: Option<Item>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// Organization id (FlowIQ's organization_id)
    #[arg(long = "org", value_name = "ORG_ID")]
    pub organization_id: String,

    /// From this time (inclusive)
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    pub since: String,

    /// To this time (exclusive) [default: no end]
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    pub until: Option<String>,

    /// Only this event_type; repeat for several
    #[arg(long = "type", value_name = "EVENT_TYPE")]
    pub types: Vec<String>,
}

/// How a replay sends: the same flags for `replay` and `forwarding replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayPacingArgs {
    /// At most this many events started per second
    #[arg(long, value_name = "PER_SECOND", default_value_t = 10.0, global = true,
          value_parser = parse_rate)]
    pub rate: f64,

    /// Sends in flight at once (1 keeps strict time order where they arrive)
    #[arg(long, value_name = "N", default_value_t = 1, global = true,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Attempts per send, the first included (retries: connection errors, timeouts, 429, 5xx)
    #[arg(long, value_name = "N", default_value_t = 5, global = true,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,

    /// Continue strictly after this cursor (printed by an earlier run)
    #[arg(long, value_name = "CURSOR", global = true, value_parser = parse_replay_cursor)]
    pub resume: Option<String>,

    /// Count what would be sent; send nothing
    #[arg(long, global = true)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    #[command(subcommand)]
    pub selection: ReplaySelection,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ReplaySelection {
    /// A message's events
    Message {
        /// FlowIQ's whatsapp_message_id (wamid.…)
        #[arg(value_name = "WHATSAPP_MESSAGE_ID")]
        wamid: String,
    },
    /// Every event of a contact's conversation (all pages)
    Conversation(ContactArgs),
    /// An organization's events in a time range
    List(ListArgs),
}

/// Where and how a replay sends (global: may come before or after the selection).
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// POST each stored body to this https:// URL. A receiver's URL holds its token: give it
    /// in FLOWIQ_REPLAY_TO_URL or --to-url-file instead, so it stays out of shell history and
    /// the process list
    #[arg(
        long,
        value_name = "URL",
        global = true,
        env = "FLOWIQ_REPLAY_TO_URL",
        hide_env_values = true
    )]
    pub to_url: Option<String>,

    /// Read the --to-url URL from this file (its first line)
    #[arg(long = "to-url-file", value_name = "PATH", global = true, value_parser = url_in_file)]
    pub url_from_file: Option<String>,

    /// PutEvents to this EventBridge bus (name or ARN), as the stack's Pipe does
    #[arg(long, value_name = "BUS", global = true)]
    pub to_eventbridge: Option<String>,

    /// Only events of this platform (a receiver URL is per platform: /webhooks/<platform>/…)
    #[arg(long, value_name = "PLATFORM", global = true,
          value_parser = clap::builder::PossibleValuesParser::new(["whatsapp", "web"]))]
    pub platform: Option<String>,

    /// Allow an http:// --to-url (local test targets only)
    #[arg(long, global = true)]
    pub allow_http: bool,

    #[command(flatten)]
    pub pacing: ReplayPacingArgs,

    /// The value of the X-FlowIQ-Replay header [default: a new random id]
    #[arg(long, value_name = "ID", global = true)]
    pub run_id: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReprocessArgs {
    /// Only deliveries received at or after this time
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    pub since: Option<String>,

    /// Retention of newly stored events, in days [default: the rejected item's own, from its
    /// expires_at; none if it has none]
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u32>,

    /// Show what would be reprocessed; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// The URL on the first line of `--to-url-file`, read as the flags are parsed: a file that cannot
/// be read, or holds nothing, exits 2 naming the file, never its content.
fn url_in_file(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read --to-url-file {path}: {}", err.kind()))?;
    match text.lines().next().unwrap_or_default().trim() {
        "" => Err(format!(
            "--to-url-file {path} is empty: put the URL on its first line"
        )),
        url => Ok(url.to_owned()),
    }
}

fn parse_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= 10_000.0 => Ok(rate),
        _ => Err("expected events per second, a number above 0 and at most 10000".to_owned()),
    }
}

/// `--help`'s tail: examples and the exit codes.
pub fn long_help_tail() -> String {
    format!("{AFTER_HELP}{}", Tool::Events.exit_codes_help())
}
