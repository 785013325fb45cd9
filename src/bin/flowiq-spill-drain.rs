//! The spill drain: stores the deliveries the webhook function queued while DynamoDB could not
//! take them (an SQS event source with partial batch responses).

// The runtime's future over SQS batches nests deeper than rustc's default query depth allows
// when its layout is computed (a compile-time limit only).
#![recursion_limit = "256"]

use anyhow::Context as _;
use flowiq_webhooks::config::{ContactKeySource, StoreConfig};
use flowiq_webhooks::lambda_function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    flowiq_webhooks::telemetry::init();
    let config = StoreConfig::from_env().context("invalid configuration")?;
    let contact_key = ContactKeySource::from_env().context("invalid configuration")?;
    lambda_function::run_drain(config, contact_key).await
}
