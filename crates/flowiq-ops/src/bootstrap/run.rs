//! One run: the API key, the URL (stack outputs and secret when not given), then for each type
//! the idempotency record, FlowIQ's Create Webhook, and the new record.

use super::BootstrapError;
use super::api_key::load_api_key;
use super::aws::AwsClients;
use super::cli::Settings;
use super::flowiq_client::{CreateWebhook, FlowIqClient};
use super::registration_store::{RegistrationKey, RegistrationRecord, RegistrationStore};
use super::report::{Registration, Report};
use super::token_secret::fetch_webhook_token;
use super::webhook_url::{BaseUrl, WebhookUrl};
use crate::deployment::{Deployment, DeploymentError};

/// The receiver's API root, without the `/webhooks/…` route.
pub const WEBHOOK_BASE_URL_OUTPUT: &str = "WebhookBaseUrl";
/// The same on the user's custom domain, when one is deployed: preferred.
pub const CUSTOM_DOMAIN_WEBHOOK_BASE_URL_OUTPUT: &str = "CustomDomainWebhookBaseUrl";
/// The Secrets Manager secret holding the token (JSON key `token`).
pub const WEBHOOK_TOKEN_SECRET_ARN_OUTPUT: &str = "WebhookTokenSecretArn";

/// Runs the bootstrap. `report` collects what was done, also when an error stops the run
/// half-way (e.g. the first type registered, the second refused).
pub async fn run(
    settings: &Settings,
    aws: &AwsClients,
    report: &mut Report,
) -> Result<(), BootstrapError> {
    report.dry_run = settings.dry_run;
    if settings.needs_aws() && aws.dynamodb.config().region().is_none() {
        return Err(DeploymentError::NoRegion.into());
    }

    // The key first: a missing or unreadable key is the likeliest mistake, and the cheapest.
    let api_key = load_api_key(&settings.api_key, &aws.ssm).await?;
    let flowiq = FlowIqClient::new(&settings.api_base, api_key, settings.http.clone())?;
    let mut deployment = Deployment::new(
        settings.deployment.clone(),
        &settings.samconfig_dir,
        aws.cloudformation.clone(),
    );

    let base = match &settings.base_url {
        Some(base) => base.clone(),
        None => {
            let outputs = deployment.outputs().await?;
            report.stack = Some(outputs.stack_name().to_owned());
            let (output, value) = match outputs.get(CUSTOM_DOMAIN_WEBHOOK_BASE_URL_OUTPUT) {
                Some(value) => (CUSTOM_DOMAIN_WEBHOOK_BASE_URL_OUTPUT, value),
                None => (
                    WEBHOOK_BASE_URL_OUTPUT,
                    outputs.require(WEBHOOK_BASE_URL_OUTPUT, "--url")?,
                ),
            };
            BaseUrl::parse(
                value,
                &format!("stack output {output}"),
                settings.allow_http,
            )
            .map_err(|e| BootstrapError::Usage(e.into()))?
        }
    };
    let token = match &settings.token {
        Some(token) => token.clone(),
        None => {
            let outputs = deployment.outputs().await?;
            report.stack = Some(outputs.stack_name().to_owned());
            let secret_id = outputs.require(WEBHOOK_TOKEN_SECRET_ARN_OUTPUT, "WEBHOOK_TOKEN")?;
            tracing::info!("reading the webhook token from secret {secret_id}");
            fetch_webhook_token(&aws.secrets_manager, secret_id).await?
        }
    };
    let url = WebhookUrl::new(&base, settings.platform, &token);
    report.url = Some(url.masked());
    report.platform = Some(settings.platform);

    if settings.dry_run {
        for &event_type in &settings.types {
            let request = CreateWebhook {
                url: &url,
                event_type,
            };
            report.registrations.push(Registration::would_send(
                &url,
                event_type,
                flowiq.preview(&request),
            ));
        }
        return Ok(());
    }

    let table = deployment.table_name().await?;
    report.stack = deployment.stack_read().map(str::to_owned);
    report.table = Some(table.clone());
    let store = RegistrationStore::new(aws.dynamodb.clone(), table);

    for &event_type in &settings.types {
        let key = RegistrationKey::new(&url, event_type);
        if !settings.force
            && let Some(existing) = store.find(&key).await?
        {
            report.registrations.push(Registration::already_registered(
                &url, event_type, &existing,
            ));
            continue;
        }
        tracing::info!(
            "registering type {event_type} for {} with FlowIQ",
            settings.platform
        );
        let created = flowiq
            .create_webhook(&CreateWebhook {
                url: &url,
                event_type,
            })
            .await?;
        report
            .registrations
            .push(Registration::registered(&url, event_type, &created));
        let record =
            RegistrationRecord::new(&key, &created, flowiq_webhooks::clock::now_sortable());
        store
            .record(&record)
            .await
            .map_err(|source| BootstrapError::NotRecorded {
                webhook_id: created.id.clone(),
                event_type,
                table: store.table().to_owned(),
                source,
            })?;
    }
    Ok(())
}
