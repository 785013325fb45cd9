//! The webhook function's wiring: the SDK client, the store and the receiver, built once per
//! instance, then the Lambda runtime loop. Shared by `src/bin/flowiq-webhook.rs` and the
//! measurement variant `examples/no-warm-up-function.rs`.

use std::sync::Arc;

use lambda_http::{Request, service_fn};

use crate::config::Config;
use crate::delivery::Receiver;
use crate::http_handler;
use crate::store::dynamodb::{DynamoDbEventStore, load_client};

/// When the DynamoDB connection (TCP, TLS, credentials) is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionWarmUp {
    /// During init, with [`DynamoDbEventStore::warm_up`]: what the function does, chosen by
    /// measurement (docs/performance.md, "First request after a cold start").
    DuringInit,
    /// By the first delivery: only for comparison.
    OnFirstDelivery,
}

/// Runs the function until the runtime stops it.
pub async fn run(config: Config, warm_up: ConnectionWarmUp) -> Result<(), lambda_http::Error> {
    let store = DynamoDbEventStore::new(load_client().await, config.table_name);
    if warm_up == ConnectionWarmUp::DuringInit {
        // Never fatal: a failure here only means the first delivery opens the connection itself
        // (and answers 503 if the problem persists).
        if let Err(err) = store.warm_up().await {
            tracing::warn!(error = %err, "could not open the DynamoDB connection during init");
        }
    }
    let receiver = Arc::new(Receiver::new(store, config.tokens, config.retention));
    lambda_http::run(service_fn(move |request: Request| {
        let receiver = Arc::clone(&receiver);
        async move { Ok::<_, std::convert::Infallible>(http_handler::handle(&receiver, request).await) }
    }))
    .await
}
