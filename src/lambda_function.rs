//! The functions' wiring: the SDK configuration, the store, the spill and the receiver, built
//! once per instance, then the Lambda runtime loop.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Request, service_fn};

use crate::acceptance::Acceptor;
use crate::config::{Config, StoreConfig};
use crate::delivery::Receiver;
use crate::http_handler;
use crate::pipe_enrichment;
use crate::spill::Spill;
use crate::spill::sqs::SqsSpill;
use crate::spill_drain::drain_batch;
use crate::store::EventStore;
use crate::store::dynamodb::{DynamoDbEventStore, load_sdk_config};

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

/// The runtime loop over one receiver.
pub async fn serve<S: EventStore + 'static, Q: Spill + 'static>(
    receiver: Receiver<S, Q>,
) -> Result<(), lambda_http::Error> {
    let receiver = Arc::new(receiver);
    lambda_http::run(service_fn(move |request: Request| {
        let receiver = Arc::clone(&receiver);
        async move { Ok::<_, std::convert::Infallible>(http_handler::handle(&receiver, request).await) }
    }))
    .await
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

/// Runs the Pipe's enrichment until the runtime stops it. It makes no AWS call: the stream record
/// holds the whole item. A batch it cannot enrich is an error (Pipes retries, bisects, then sends
/// the records to the Pipe's failure queue), logged with the record that failed it.
pub async fn run_pipe_enrichment() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: LambdaEvent<Vec<EventRecord>>| async move {
            let records = event.payload;
            pipe_enrichment::enrich(&records)
                .inspect(|details| tracing::info!(records = details.len(), "enriched"))
                .inspect_err(|err| tracing::error!(error = %err, records = records.len(), "batch not enriched"))
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
