//! A measurement variant of the function (docs/performance.md#cold-start; run by
//! `scripts/bench cold` and `dynamodb`): `flowiq-webhook` without opening the DynamoDB
//! connection during init, so the first delivery pays for TCP + TLS. Not deployed.

use anyhow::Context as _;
use flowiq_webhooks::config::Config;
use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::lambda_function::serve;
use flowiq_webhooks::store::dynamodb::{DynamoDbEventStore, load_client};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    flowiq_webhooks::telemetry::init();
    let config = Config::from_env().context("invalid configuration")?;
    let store = DynamoDbEventStore::new(load_client().await, config.table_name);
    serve(Receiver::new(store, config.tokens, config.retention)).await
}
