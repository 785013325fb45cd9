//! What can go wrong in a `flowiq-events` run, each with the exit code it maps to and a message
//! the operator can act on. Messages never quote a body, a phone number or message text.

use aws_sdk_dynamodb::error::DisplayErrorContext;

use crate::contact_key_args::ContactKeyArgsError;
use crate::deployment::DeploymentError;
use crate::exit_status::ExitStatus;
use crate::queries::{Item, text};
use flowiq_webhooks::keys;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// A flag combination or value that clap cannot check alone.
    #[error("{0}")]
    Usage(String),
    /// The selection is empty; the message says what was looked for.
    #[error("{0}")]
    NotFound(String),
    /// Finding the stack or its table (shared with flowiq-bootstrap).
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
    /// The contact key: not given right (usage), or its secret unreadable (AWS).
    #[error(transparent)]
    ContactKey(#[from] ContactKeyArgsError),
    /// A WhatsApp number's conversation was asked for, or events are to be stored, without the
    /// contact key (a bug: the CLI reads the key before such a command).
    #[error(
        "finding a WhatsApp number's conversation needs the contact key (CONTACT_KEY_SECRET, CONTACT_KEY_FILE or CONTACT_KEY)"
    )]
    NoContactKey,
    /// An AWS call (DynamoDB, SQS, Athena, EventBridge outside a replay batch) that failed.
    #[error("{operation} failed: {message}")]
    Aws { operation: String, message: String },
    /// An Athena query (`flowiq-events query`) that Athena failed or cancelled: its reason as
    /// Athena gives it (a syntax error, the workgroup's bytes-scanned limit, a missing table).
    #[error("query {name} {state} (execution {execution_id}): {reason}")]
    QueryFailed {
        name: String,
        execution_id: String,
        state: String,
        reason: String,
    },
    /// A stored item that cannot be read back or shown as it is (a corrupt deflated body, a value
    /// JSON cannot hold): printing it without the attribute would hide what is stored.
    #[error("cannot show the item with {item}: attribute `{attribute}`: {problem}")]
    Unreadable {
        item: String,
        attribute: String,
        problem: String,
    },
    /// stdout is closed or full.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl EventsError {
    /// An AWS call that failed, with the SDK's whole context.
    pub fn aws(operation: impl Into<String>, error: impl std::error::Error) -> Self {
        let message = DisplayErrorContext(error).to_string();
        EventsError::Aws {
            operation: operation.into(),
            message,
        }
    }

    /// An attribute of `item` (named by its key) that cannot be read.
    pub fn unreadable(item: &Item, attribute: &str, problem: impl ToString) -> Self {
        EventsError::Unreadable {
            item: format!(
                "pk {:?}, sk {:?}",
                text(item, keys::PK),
                text(item, keys::SK)
            ),
            attribute: attribute.to_owned(),
            problem: problem.to_string(),
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self {
            EventsError::Usage(_) => ExitStatus::Usage,
            EventsError::NotFound(_) => ExitStatus::NotFound,
            EventsError::Deployment(e) if e.is_configuration() => ExitStatus::Usage,
            EventsError::ContactKey(e) if e.is_aws() => ExitStatus::Aws,
            EventsError::ContactKey(_) => ExitStatus::Usage,
            EventsError::Deployment(_)
            | EventsError::Aws { .. }
            | EventsError::QueryFailed { .. } => ExitStatus::Aws,
            EventsError::Output(_) | EventsError::Unreadable { .. } | EventsError::NoContactKey => {
                ExitStatus::Unexpected
            }
        }
    }
}
