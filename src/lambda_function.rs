//! The webhook function's wiring: the SDK client, the store and the receiver, built once per
//! instance, then the Lambda runtime loop.

use std::sync::Arc;

use lambda_http::{Request, service_fn};

use crate::config::Config;
use crate::delivery::Receiver;
use crate::http_handler;
use crate::store::EventStore;
use crate::store::dynamodb::{DynamoDbEventStore, load_client};

/// Runs the function until the runtime stops it. The DynamoDB connection is opened during init
/// ([`DynamoDbEventStore::warm_up`]), chosen by measurement (docs/performance.md#cold-start).
pub async fn run(config: Config) -> Result<(), lambda_http::Error> {
    let store = DynamoDbEventStore::new(load_client().await, config.table_name);
    // Never fatal: a failure here only means the first delivery opens the connection itself
    // (and answers 503 if the problem persists).
    if let Err(err) = store.warm_up().await {
        tracing::warn!(error = %err, "could not open the DynamoDB connection during init");
    }
    serve(Receiver::new(store, config.tokens, config.retention)).await
}

/// The runtime loop over one receiver.
pub async fn serve<S: EventStore + 'static>(
    receiver: Receiver<S>,
) -> Result<(), lambda_http::Error> {
    let receiver = Arc::new(receiver);
    lambda_http::run(service_fn(move |request: Request| {
        let receiver = Arc::clone(&receiver);
        async move { Ok::<_, std::convert::Infallible>(http_handler::handle(&receiver, request).await) }
    }))
    .await
}
