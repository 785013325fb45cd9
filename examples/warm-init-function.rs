//! A measurement variant of the function (docs/performance.md, "Warming the DynamoDB connection
//! during init"; run by `scripts/bench dynamodb`): `src/bin/flowiq-webhook.rs` plus one request
//! to DynamoDB during init, so the TCP + TLS connection (and the trust store) are ready before the
//! first delivery. The request is an `UpdateItem` with an empty key: DynamoDB refuses it with a
//! `ValidationException` before touching the table (no capacity, no write), and the function's
//! role allows `UpdateItem`. Not deployed: it exists to decide by measurement whether the real
//! function should do this.

use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_webhooks::config::Config;
use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::http_handler;
use flowiq_webhooks::keys;
use flowiq_webhooks::store::dynamodb::{DynamoDbEventStore, load_client};
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    flowiq_webhooks::telemetry::init();
    let config = Config::from_env().context("invalid configuration")?;
    let client = load_client().await;
    let warm_up = client
        .update_item()
        .table_name(&config.table_name)
        .key(keys::PK, AttributeValue::S(String::new()))
        .key(keys::SK, AttributeValue::S(String::new()))
        .send()
        .await;
    tracing::debug!(refused = warm_up.is_err(), "DynamoDB connection warmed");
    let store = DynamoDbEventStore::new(client, config.table_name);
    let receiver = Arc::new(Receiver::new(store, config.tokens, config.retention));
    lambda_http::run(service_fn(move |request: Request| {
        let receiver = Arc::clone(&receiver);
        async move { Ok::<_, std::convert::Infallible>(http_handler::handle(&receiver, request).await) }
    }))
    .await
}
