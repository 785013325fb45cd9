//! The Lambda function: receives FlowIQ webhooks and stores them in DynamoDB.

use std::sync::Arc;

use anyhow::Context as _;
use flowiq_webhooks::config::Config;
use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::http_handler;
use flowiq_webhooks::store::dynamodb::{DynamoDbEventStore, load_client};
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    flowiq_webhooks::telemetry::init();
    let config = Config::from_env().context("invalid configuration")?;
    let store = DynamoDbEventStore::new(load_client().await, config.table_name);
    let receiver = Arc::new(Receiver::new(store, config.tokens, config.retention));
    lambda_http::run(service_fn(move |request: Request| {
        let receiver = Arc::clone(&receiver);
        async move { Ok::<_, std::convert::Infallible>(http_handler::handle(&receiver, request).await) }
    }))
    .await
}
