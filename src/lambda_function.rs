//! The functions' wiring: the SDK configuration, the store, the spill and the receiver, built
//! once per instance, then the Lambda runtime loop.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt as _;
use lambda_http::{Adapter, Request, service_fn};

use crate::acceptance::Acceptor;
use crate::config::{Config, StoreConfig};
use crate::delivery::Receiver;
use crate::spill::Spill;
use crate::spill::sqs::SqsSpill;
use crate::spill_drain::drain_batch;
use crate::store::EventStore;
use crate::store::dynamodb::{DynamoDbEventStore, load_sdk_config};
use crate::{http_event, http_handler};

/// Runs the webhook function until the runtime stops it. The DynamoDB connection is opened during
/// init ([`DynamoDbEventStore::warm_up`]), chosen by measurement (docs/performance.md#cold-start);
/// the SQS client makes no request until a delivery is spilled.
pub async fn run(config: Config) -> Result<(), lambda_http::Error> {
    let sdk_config = load_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config);
    let store = DynamoDbEventStore::new(client, config.table_name);
    // Never fatal: a failure here only means the first delivery opens the connection itself
    // (and is spilled if the problem persists).
    if let Err(err) = store.warm_up().await {
        tracing::warn!(error = %err, "could not open the DynamoDB connection during init");
    }
    let receiver = Receiver::new(store, config.tokens, config.retention);
    match config.spill_queue_url {
        Some(queue_url) => serve(receiver.with_spill(SqsSpill::new(&sdk_config, queue_url))).await,
        None => {
            tracing::warn!(
                "SPILL_QUEUE_URL is not set: a delivery DynamoDB cannot take will be answered 503"
            );
            serve(receiver).await
        }
    }
}

/// The runtime loop over one receiver: `lambda_http::run`, with the event's unusable client
/// headers dropped before lambda_http converts it (src/http_event.rs says why).
pub async fn serve<S: EventStore + 'static, Q: Spill + 'static>(
    receiver: Receiver<S, Q>,
) -> Result<(), lambda_http::Error> {
    let receiver = Arc::new(receiver);
    let handler = Adapter::from(service_fn(move |request: Request| {
        let receiver = Arc::clone(&receiver);
        async move { Ok::<_, std::convert::Infallible>(http_handler::handle(&receiver, request).await) }
    }));
    let handler = handler.map_request(|mut event: LambdaEvent<LambdaRequest>| {
        http_event::drop_unusable_uri_parts(&mut event.payload);
        event
    });
    lambda_runtime::run(handler).await
}

/// Runs the spill drain (an SQS event source) until the runtime stops it.
pub async fn run_drain(config: StoreConfig) -> Result<(), lambda_runtime::Error> {
    let client = aws_sdk_dynamodb::Client::new(&load_sdk_config().await);
    let acceptor = Arc::new(Acceptor::new(
        DynamoDbEventStore::new(client, config.table_name),
        config.retention,
    ));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<SqsEvent>| {
            let acceptor = Arc::clone(&acceptor);
            async move {
                Ok::<_, std::convert::Infallible>(drain_batch(&acceptor, &event.payload).await)
            }
        },
    ))
    .await
}
