//! A measurement variant of the function (docs/performance.md#cold-start; run by
//! `scripts/bench cold` and `dynamodb`): `flowiq-webhook` without opening the DynamoDB
//! connection during init, so the first delivery pays for TCP + TLS. Not deployed.

use anyhow::Context as _;
use flowiq_webhooks::config::Config;
use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::lambda_function::{contact_key, read_tokens, serve_refreshing};
use flowiq_webhooks::store::dynamodb::{DynamoDbEventStore, load_sdk_config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    flowiq_webhooks::telemetry::init();
    let config = Config::from_env().context("invalid configuration")?;
    let sdk_config = load_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config);
    let store = DynamoDbEventStore::new(client, config.table_name);
    let (tokens, contact_key) = tokio::join!(
        read_tokens(config.tokens, &sdk_config),
        contact_key(config.contact_key, &sdk_config)
    );
    let (tokens, refresh) = tokens?;
    let receiver = Receiver::new(store, tokens, config.retention, contact_key?)
        .with_rejected_retention(config.rejected_retention);
    serve_refreshing(receiver, refresh).await
}
