//! Registering the deployed webhook URL with FlowIQ (the `flowiq-bootstrap` binary; user docs:
//! docs/bootstrap.md).
//!
//! [`cli`] checks the flags into [`Settings`] before any network call. [`run`] then works out the
//! URL (flags, else the stack through [`crate::deployment`] and the token's secret, or with
//! `--function-name` the function's URL and environment) and, for each type, reads the
//! registration record, calls FlowIQ ([`flowiq`]) and writes the record ([`aws`]). [`report`]
//! prints what was done; the binary only wires these together.

pub mod aws;
pub mod cli;
pub mod flowiq;
pub mod report;

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::deployment::{Deployment, DeploymentError};
use crate::exit_status::ExitStatus;
use aws::{AwsClients, RegistrationRecord};
pub use cli::{ApiKey, Args, Settings, WebhookType};
use flowiq_webhooks::platform::Platform;
use report::{Registration, Report, Status};

/// The stack output with the receiver's API root (without `/webhooks/…`).
pub const WEBHOOK_BASE_URL_OUTPUT: &str = "WebhookBaseUrl";
/// The same on the custom domain, when one is deployed: preferred to [`WEBHOOK_BASE_URL_OUTPUT`].
pub const CUSTOM_DOMAIN_WEBHOOK_BASE_URL_OUTPUT: &str = "CustomDomainWebhookBaseUrl";
/// The stack output with the Secrets Manager secret holding the token (JSON key `token`).
pub const WEBHOOK_TOKEN_SECRET_ARN_OUTPUT: &str = "WebhookTokenSecretArn";

/// What stops a run, by exit code ([`ExitStatus`], docs/operations.md#exit-codes). Every message says what to
/// do, and none holds the API key or the token.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Usage: a usage or configuration mistake; nothing was sent to FlowIQ.
    #[error("{0}")]
    Usage(String),
    /// Usage for a configuration mistake, else Aws.
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
    /// KeyRejected: FlowIQ answered 401 or 403.
    #[error("{0}")]
    KeyRejected(String),
    /// Incomplete: FlowIQ refused the request or did not answer as documented.
    #[error("{0}")]
    FlowIq(String),
    /// Unreachable: no answer from FlowIQ after the last attempt.
    #[error("{0}")]
    Unreachable(String),
    /// Aws: an AWS call failed (secret, SSM parameter, table).
    #[error("{0}")]
    Aws(String),
    /// Unexpected: a bug or an environment problem.
    #[error("{0}")]
    Unexpected(String),
}

impl BootstrapError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            BootstrapError::Unexpected(_) => ExitStatus::Unexpected,
            BootstrapError::Deployment(e) if e.is_configuration() => ExitStatus::Usage,
            BootstrapError::Usage(_) => ExitStatus::Usage,
            BootstrapError::KeyRejected(_) => ExitStatus::KeyRejected,
            BootstrapError::FlowIq(_) => ExitStatus::Incomplete,
            BootstrapError::Unreachable(_) => ExitStatus::Unreachable,
            BootstrapError::Deployment(_) | BootstrapError::Aws(_) => ExitStatus::Aws,
        }
    }
}

/// The URL FlowIQ will POST to, `<base>/webhooks/<platform>/<token>`. The token makes it a
/// credential: only [`Self::masked`] is ever shown (and `Debug` hides the token).
#[derive(Debug, Clone)]
pub struct WebhookUrl {
    base: String,
    pub platform: Platform,
    token: SecretString,
}

impl WebhookUrl {
    /// `base` as [`cli::base_url`] returns it; `token` as [`cli::check_token`] does.
    pub fn new(base: &str, platform: Platform, token: SecretString) -> Self {
        WebhookUrl {
            base: base.to_owned(),
            platform,
            token,
        }
    }

    pub fn token(&self) -> &str {
        self.token.expose_secret()
    }

    /// The real URL, token included: only for the request body and the hash.
    pub fn expose_secret(&self) -> String {
        self.with_token(self.token())
    }

    /// `…/webhooks/whatsapp/AbCd…`
    pub fn masked(&self) -> String {
        self.with_token(&mask(self.token()))
    }

    fn with_token(&self, token: &str) -> String {
        format!("{}/webhooks/{}/{token}", self.base, self.platform)
    }

    /// SHA-256 of the full URL, lower-case hex: identifies the URL without revealing the token.
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(self.expose_secret()))
    }
}

/// `AbCdEfGh…` → `AbCd…`: four characters of a secret of 16 or more, else just `…`.
pub fn mask(secret: &str) -> String {
    let shown = if secret.chars().count() >= 16 { 4 } else { 0 };
    secret.chars().take(shown).chain(['…']).collect()
}

/// `text` with each secret (8 characters or more) masked: for text from elsewhere, such as
/// FlowIQ's answers, which might quote a secret back.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let secrets = secrets.iter().filter(|s| s.len() >= 8);
    secrets.fold(text.to_owned(), |text, secret| {
        text.replace(secret, &mask(secret))
    })
}

/// Runs the bootstrap. `report` collects what was done, also when an error stops the run
/// half-way (e.g. the first type registered, the second refused).
pub async fn run(
    settings: &Settings,
    aws: &AwsClients,
    report: &mut Report,
) -> Result<(), BootstrapError> {
    report.dry_run = settings.args.dry_run;
    if settings.needs_aws() && aws.dynamodb.config().region().is_none() {
        return Err(DeploymentError::NoRegion.into());
    }
    // The key first: a missing or unreadable key is the likeliest mistake, and the cheapest.
    let api_key = match &settings.api_key {
        ApiKey::Given(key) => key.clone(),
        ApiKey::SsmParameter(name) => aws.api_key(name).await?,
    };
    let flowiq = flowiq::Client::new(settings, api_key)?;
    let deployment = (settings.args.deployment.clone(), &settings.samconfig_dir);
    let mut sources = Sources {
        settings,
        aws,
        deployment: Deployment::new(deployment.0, deployment.1, aws.cloudformation.clone()),
        function: settings.args.function_name.as_deref(),
        environment: None,
    };
    let result = register(&mut sources, &flowiq, report).await;
    report.stack = sources.deployment.stack_read().map(str::to_owned);
    report.function = sources
        .function
        .filter(|_| sources.environment.is_some())
        .map(str::to_owned);
    result
}

async fn register(
    sources: &mut Sources<'_>,
    flowiq: &flowiq::Client,
    report: &mut Report,
) -> Result<(), BootstrapError> {
    let (settings, aws) = (sources.settings, sources.aws);
    let (base, token, platform) = (
        sources.base_url().await?,
        sources.token().await?,
        settings.args.platform,
    );
    let url = WebhookUrl::new(&base, platform, token);
    (report.url, report.platform) = (Some(url.masked()), Some(platform));
    let registration = |status, event_type| Registration::new(status, &url, event_type);
    if settings.args.dry_run {
        for &event_type in &settings.types {
            report.registrations.push(Registration {
                request: Some(flowiq.preview(&url, event_type)),
                ..registration(Status::DryRun, event_type)
            });
        }
        return Ok(());
    }

    let table = sources.table_name().await?;
    report.table = Some(table.clone());
    for &event_type in &settings.types {
        let pk = RegistrationRecord::pk(&url, event_type);
        if !settings.args.force
            && let Some(found) = aws.find_registration(&table, &pk).await?
        {
            report.registrations.push(Registration {
                webhook_id: Some(found.webhook_id),
                created_at: Some(found.created_at),
                registered_at: Some(found.registered_at),
                ..registration(Status::AlreadyRegistered, event_type)
            });
            continue;
        }
        tracing::info!("registering type {event_type} for {platform} with FlowIQ");
        let created = flowiq.create_webhook(&url, event_type).await?;
        report.registrations.push(Registration {
            webhook_id: Some(created.id.clone()),
            created_at: Some(created.created_at.clone()),
            message: created.message.clone(),
            ..registration(Status::Registered, event_type)
        });
        let record = RegistrationRecord::new(&url, event_type, &created);
        aws.put_registration(&table, &record).await.map_err(|e| {
            BootstrapError::Aws(format!(
                "FlowIQ created webhook {} (type {event_type}), but it could not be recorded: \
                 {e}. Running again would create a second webhook for this type: fix the table \
                 access and add the record, or delete the duplicate in FlowIQ",
                created.id
            ))
        })?;
    }
    Ok(())
}

/// Where the URL's parts and the table come from: the flags, else `--function-name`'s function
/// (its URL and environment stand in for a stack's outputs), else the stack's outputs.
struct Sources<'a> {
    settings: &'a Settings,
    aws: &'a AwsClients,
    deployment: Deployment,
    function: Option<&'a str>,
    /// The function's, read once, when a value is first needed; before its URL, so that a
    /// missing function is named as such.
    environment: Option<HashMap<String, String>>,
}

impl Sources<'_> {
    async fn environment(
        &mut self,
        function: &str,
    ) -> Result<&HashMap<String, String>, BootstrapError> {
        if self.environment.is_none() {
            tracing::info!("reading the configuration of Lambda function {function}");
            self.environment = Some(self.aws.function_environment(function).await?);
        }
        Ok(self.environment.as_ref().expect("read above"))
    }

    /// The receiver's API root: `--url`, else the function's URL, else the stack's output (its
    /// custom domain's when deployed).
    async fn base_url(&mut self) -> Result<String, BootstrapError> {
        let allow_http = self.settings.args.allow_http;
        if let Some(base) = &self.settings.base_url {
            return Ok(base.clone());
        }
        if let Some(function) = self.function {
            self.environment(function).await?;
            let url = self.aws.function_url(function).await?;
            let what = format!("the URL of Lambda function {function}");
            return cli::base_url(&url, &what, allow_http);
        }
        let outputs = self.deployment.outputs().await?;
        // A custom domain, when deployed, is the URL to give out.
        let output = match outputs.get(CUSTOM_DOMAIN_WEBHOOK_BASE_URL_OUTPUT) {
            Some(_) => CUSTOM_DOMAIN_WEBHOOK_BASE_URL_OUTPUT,
            None => WEBHOOK_BASE_URL_OUTPUT,
        };
        let base = outputs.require(output, "--url")?;
        cli::base_url(base, &format!("stack output {output}"), allow_http)
    }

    /// The path token: `WEBHOOK_TOKEN`, else the function's (its secret's, or its environment's),
    /// else the stack's secret.
    async fn token(&mut self) -> Result<SecretString, BootstrapError> {
        if let Some(token) = &self.settings.token {
            return Ok(token.clone());
        }
        let aws = self.aws;
        let secret_id = match self.function {
            Some(function) => {
                let environment = self.environment(function).await?;
                // A function with the token secret (as template.yaml deploys it) names the
                // secret, never the token; one deployed by hand may still carry WEBHOOK_TOKENS.
                match environment
                    .get(aws::TOKEN_SECRET_VARIABLE)
                    .map(|id| id.trim())
                {
                    Some(secret_id) if !secret_id.is_empty() => secret_id.to_owned(),
                    _ => return aws::token_from_function(environment, function),
                }
            }
            None => {
                let outputs = self.deployment.outputs().await?;
                outputs
                    .require(WEBHOOK_TOKEN_SECRET_ARN_OUTPUT, "WEBHOOK_TOKEN")?
                    .to_owned()
            }
        };
        tracing::info!("reading the webhook token from secret {secret_id}");
        aws.webhook_token(&secret_id).await
    }

    /// The table of registration records: `--table-name`, else the function's `TABLE_NAME`,
    /// else the stack's.
    async fn table_name(&mut self) -> Result<String, BootstrapError> {
        let Some(function) = self
            .function
            .filter(|_| self.settings.args.deployment.table_name.is_none())
        else {
            return Ok(self.deployment.table_name().await?);
        };
        let table = self.environment(function).await?.get("TABLE_NAME");
        let table = table.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
            BootstrapError::Aws(format!(
                "Lambda function {function:?} has no TABLE_NAME in its environment: is it the \
                 FlowIQ webhook function? Otherwise pass --table-name"
            ))
        })?;
        Ok(table.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_redacted() {
        for (secret, masked) in [
            ("fiq_test-key-0123456789", "fiq_…"),
            ("AbCdEfGhIjKlMnOp", "AbCd…"),
            ("0123456789abcde", "…"),
            ("", "…"),
            ("ééééééééééééééééé", "éééé…"),
        ] {
            assert_eq!(mask(secret), masked, "{secret:?}");
        }
        let key = "fiq_live_0123456789abcdef";
        let token = "local-dev-token-not-a-secret-0123456789";
        let text = format!("bad key {key}, url https://x/webhooks/web/{token} ({key})");
        assert_eq!(
            redact(&text, &[key, token, "", "a"]),
            "bad key fiq_…, url https://x/webhooks/web/loca… (fiq_…)"
        );
    }
}
