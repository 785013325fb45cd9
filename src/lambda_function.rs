//! The functions' wiring: the SDK configuration, the store, the spill and the receiver, built
//! once per instance, then the Lambda runtime loop.

use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt as _;
use lambda_http::{Adapter, Request, service_fn};

use crate::acceptance::Acceptor;
use crate::config::{Config, ContactKeySource, StoreConfig, TokenSource};
use crate::contact_key::ContactKey;
use crate::contact_key_secret::{ContactKeySecretError, read_contact_key};
use crate::delivery::Receiver;
use crate::pipe_enrichment;
use crate::spill::Spill;
use crate::spill::sqs::SqsSpill;
use crate::spill_drain::drain_batch;
use crate::store::EventStore;
use crate::store::dynamodb::{DynamoDbEventStore, load_sdk_config};
use crate::token_secret::{TokenRefresh, TokenSecret, TokenSecretError};
use crate::webhook_tokens::WebhookTokens;
use crate::{http_event, http_handler};

/// Runs the webhook function until the runtime stops it. The DynamoDB connection is opened during
/// init ([`DynamoDbEventStore::warm_up`]), chosen by measurement (docs/performance.md#cold-start),
/// at the same time as the token secret and the contact key are read; the SQS client makes no
/// request until a delivery is spilled.
pub async fn run(config: Config) -> Result<(), lambda_http::Error> {
    let sdk_config = load_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config);
    let store = DynamoDbEventStore::new(client, config.table_name);
    let (warm_up, tokens, contact_key) = tokio::join!(
        store.warm_up(),
        read_tokens(config.tokens, &sdk_config),
        contact_key(config.contact_key, &sdk_config)
    );
    // Never fatal: a failure here only means the first delivery opens the connection itself
    // (and is spilled if the problem persists).
    if let Err(err) = warm_up {
        tracing::warn!(error = %err, "could not open the DynamoDB connection during init");
    }
    // Fatal: without its tokens the function cannot tell FlowIQ from anyone else.
    let (tokens, refresh) = tokens?;
    // Fatal too: without it, conversations would be stored under keys nobody can find.
    let contact_key = contact_key?;
    let receiver = Receiver::new(store, tokens, config.retention, contact_key)
        .with_rejected_retention(config.rejected_retention);
    match config.spill_queue_url {
        Some(queue_url) => {
            let receiver = receiver.with_spill(SqsSpill::new(&sdk_config, queue_url));
            serve_refreshing(receiver, refresh).await
        }
        None => {
            tracing::warn!(
                "SPILL_QUEUE_URL is not set: a delivery DynamoDB cannot take will be answered 503"
            );
            serve_refreshing(receiver, refresh).await
        }
    }
}

/// The tokens to start with, and how to read them again when they come from the token secret.
pub async fn read_tokens(
    source: TokenSource,
    sdk_config: &SdkConfig,
) -> Result<(WebhookTokens, Option<TokenRefresh>), TokenSecretError> {
    match source {
        TokenSource::List(tokens) => Ok((tokens, None)),
        TokenSource::Secret(secret_id) => {
            let secret = TokenSecret::new(sdk_config, secret_id);
            let tokens = secret.fetch().await?;
            Ok((tokens, Some(TokenRefresh::new(secret, Instant::now()))))
        }
    }
}

/// The contact key, from its secret (one `GetSecretValue`, during init only) or the environment.
pub async fn contact_key(
    source: ContactKeySource,
    sdk_config: &SdkConfig,
) -> Result<ContactKey, ContactKeySecretError> {
    match source {
        ContactKeySource::Key(key) => Ok(key),
        ContactKeySource::Secret(secret_id) => {
            let client = aws_sdk_secretsmanager::Client::new(sdk_config);
            read_contact_key(&client, &secret_id).await
        }
    }
}

/// The runtime loop over one receiver: `lambda_http::run`, with the event's unusable client
/// headers dropped before lambda_http converts it (src/http_event.rs says why).
pub async fn serve<S: EventStore + 'static, Q: Spill + 'static>(
    receiver: Receiver<S, Q>,
) -> Result<(), lambda_http::Error> {
    serve_refreshing(receiver, None).await
}

/// [`serve`], reading the token secret again before a delivery when `refresh` says it is due.
pub async fn serve_refreshing<S: EventStore + 'static, Q: Spill + 'static>(
    receiver: Receiver<S, Q>,
    refresh: Option<TokenRefresh>,
) -> Result<(), lambda_http::Error> {
    let receiver = Arc::new(receiver);
    let refresh = Arc::new(refresh);
    let handler = Adapter::from(service_fn(move |request: Request| {
        let receiver = Arc::clone(&receiver);
        let refresh = Arc::clone(&refresh);
        async move {
            if let Some(refresh) = refresh.as_ref() {
                refresh_tokens(refresh, &receiver).await;
            }
            Ok::<_, std::convert::Infallible>(http_handler::handle(&receiver, request).await)
        }
    }));
    let handler = handler.map_request(|mut event: LambdaEvent<LambdaRequest>| {
        http_event::drop_unusable_uri_parts(&mut event.payload);
        event
    });
    lambda_runtime::run(handler).await
}

/// Reads the token secret again when due; on failure the last good tokens stay.
pub async fn refresh_tokens<S: EventStore, Q: Spill>(
    refresh: &TokenRefresh,
    receiver: &Receiver<S, Q>,
) {
    match refresh.refresh_if_due(Instant::now()).await {
        None => {}
        Some(Ok(tokens)) => receiver.replace_tokens(tokens),
        Some(Err(err)) => {
            tracing::warn!(error = %err, "could not read the token secret again: the tokens read before stay in use");
        }
    }
}

/// Runs the spill drain (an SQS event source) until the runtime stops it.
pub async fn run_drain(
    config: StoreConfig,
    contact_key_source: ContactKeySource,
) -> Result<(), lambda_runtime::Error> {
    let sdk_config = load_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config);
    let contact_key = contact_key(contact_key_source, &sdk_config).await?;
    let acceptor = Arc::new(
        Acceptor::new(
            DynamoDbEventStore::new(client, config.table_name),
            config.retention,
            contact_key,
        )
        .with_rejected_retention(config.rejected_retention),
    );
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
