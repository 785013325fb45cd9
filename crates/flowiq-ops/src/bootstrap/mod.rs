//! Registering the deployed webhook URL with FlowIQ (the `flowiq-bootstrap` binary).
//!
//! - pure: [`webhook_url`] (the URL, the token, https checks), [`masking`], [`webhook_type`],
//!   [`retry`] (backoff), [`cli`] (flags → [`cli::Settings`],
//!   exit codes), [`report`] (text and JSON output);
//! - edges, each taking its client as a parameter: [`flowiq_client`] (Create Webhook over HTTP,
//!   base URL injected), [`token_secret`] (Secrets Manager),
//!   [`api_key`] (environment, file or SSM), [`registration_store`] (DynamoDB);
//! - [`run()`] ties them together; the binary only parses flags, prints and exits.
//!
//! The user's docs: docs/bootstrap.md.

pub mod api_key;
pub mod aws;
pub mod cli;
pub mod flowiq_client;
pub mod masking;
pub mod registration_store;
pub mod report;
pub mod retry;
mod run;
pub mod token_secret;
pub mod webhook_type;
pub mod webhook_url;

pub use run::run;

use crate::deployment::DeploymentError;
use api_key::ApiKeyError;
use cli::{ExitStatus, UsageError};
use flowiq_client::FlowIqError;
use registration_store::RegistrationStoreError;
use token_secret::SecretError;
use webhook_type::WebhookType;

/// Everything that can stop a run. Messages say what to do; none contains the key or the token.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    ApiKey(#[from] ApiKeyError),
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    FlowIq(#[from] FlowIqError),
    #[error(transparent)]
    Store(#[from] RegistrationStoreError),
    #[error(
        "FlowIQ created webhook {webhook_id} (type {event_type}), but it could not be recorded \
         in table {table:?}: {source}. Running again would create a second webhook for this \
         type: fix the table access and add the record, or delete the duplicate in FlowIQ"
    )]
    NotRecorded {
        webhook_id: String,
        event_type: WebhookType,
        table: String,
        #[source]
        source: RegistrationStoreError,
    },
}

impl BootstrapError {
    /// The documented exit code for this error.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            BootstrapError::Usage(UsageError::ApiKey(e)) | BootstrapError::ApiKey(e)
                if e.is_aws() =>
            {
                ExitStatus::Aws
            }
            BootstrapError::Deployment(e) if e.is_configuration() => ExitStatus::Usage,
            BootstrapError::Usage(_) | BootstrapError::ApiKey(_) => ExitStatus::Usage,
            BootstrapError::Deployment(_)
            | BootstrapError::Secret(_)
            | BootstrapError::Store(_)
            | BootstrapError::NotRecorded { .. } => ExitStatus::Aws,
            BootstrapError::FlowIq(e) => match e {
                FlowIqError::Unauthorized { .. } => ExitStatus::KeyRejected,
                FlowIqError::Rejected { .. }
                | FlowIqError::NotCreated { .. }
                | FlowIqError::UnexpectedResponse { .. } => ExitStatus::FlowIqError,
                FlowIqError::RetriesExhausted { .. } => ExitStatus::Unreachable,
                FlowIqError::Setup(_) => ExitStatus::Unexpected,
            },
        }
    }
}

/// The error and its causes on one line (`a: b: c`), leaving out causes the message already
/// quotes.
pub fn describe_error(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::flowiq_client::AttemptFailure;
    use std::path::PathBuf;

    #[test]
    fn every_error_has_its_documented_exit_code() {
        let store_error = || RegistrationStoreError::Write {
            table: "t".into(),
            message: "denied".into(),
        };
        let cases: Vec<(BootstrapError, u8)> = vec![
            (ApiKeyError::Missing.into(), 2),
            (UsageError::ApiKey(ApiKeyError::Missing).into(), 2),
            (DeploymentError::NoRegion.into(), 2),
            (
                ApiKeyError::Ssm {
                    name: "/k".into(),
                    message: "AccessDenied".into(),
                }
                .into(),
                6,
            ),
            (
                FlowIqError::Unauthorized {
                    status: 401,
                    message: None,
                }
                .into(),
                3,
            ),
            (
                FlowIqError::Rejected {
                    status: 422,
                    message: None,
                }
                .into(),
                4,
            ),
            (
                FlowIqError::UnexpectedResponse {
                    status: 200,
                    problem: "x".into(),
                }
                .into(),
                4,
            ),
            (
                FlowIqError::RetriesExhausted {
                    endpoint: "e".into(),
                    attempts: 5,
                    last: AttemptFailure::Connection("refused".into()),
                }
                .into(),
                5,
            ),
            (
                DeploymentError::StackNotFound {
                    stack: "s".into(),
                    region: "r".into(),
                }
                .into(),
                6,
            ),
            (
                SecretError::MissingTokenKey {
                    secret_id: "arn".into(),
                }
                .into(),
                6,
            ),
            (store_error().into(), 6),
            (
                BootstrapError::NotRecorded {
                    webhook_id: "wh".into(),
                    event_type: WebhookType::All,
                    table: "t".into(),
                    source: store_error(),
                },
                6,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.exit_status().code(), code, "{error}");
        }
    }

    #[test]
    fn descriptions_include_causes_once() {
        let error = BootstrapError::ApiKey(ApiKeyError::ReadFile {
            path: PathBuf::from("/nope/key"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file"),
        });
        assert_eq!(
            describe_error(&error),
            "cannot read the FlowIQ API key file /nope/key: No such file"
        );
        let error = BootstrapError::NotRecorded {
            webhook_id: "wh".into(),
            event_type: WebhookType::All,
            table: "t".into(),
            source: RegistrationStoreError::Write {
                table: "t".into(),
                message: "denied".into(),
            },
        };
        let text = describe_error(&error);
        assert_eq!(text.matches("denied").count(), 1, "{text}");
        assert!(text.contains("webhook wh"), "{text}");
    }
}
