//! The optional stored projection: keeps each WhatsApp message's `message` item from the table's
//! stream (template parameter `DeployMessageProjection`; docs/data-model.md).

use anyhow::Context as _;
use aws_lambda_events::event::dynamodb::Event;
use flowiq_webhooks::config::StoreConfig;
use flowiq_webhooks::message_projection::project;
use flowiq_webhooks::store::dynamodb::{DynamoDbEventStore, load_client};
use flowiq_webhooks::table_stream::{DecodeOptions, process_batch};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    flowiq_webhooks::telemetry::init();
    let config = StoreConfig::from_env().context("invalid configuration")?;
    let store = DynamoDbEventStore::new(load_client().await, config.table_name);
    let store = &store;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async move {
        let options = DecodeOptions { skip_expired: true };
        Ok::<_, std::convert::Infallible>(
            process_batch(&event.payload, options, |change| project(store, change)).await,
        )
    }))
    .await
}
