//! The Lambda function: receives FlowIQ webhooks and stores them in DynamoDB.

use anyhow::Context as _;
use flowiq_webhooks::config::Config;
use flowiq_webhooks::lambda_function;

// One thread: an instance handles one delivery at a time, and a second worker thread would only
// add start-up work and cross-thread wake-ups (docs/performance.md#cpu-per-warm-invocation).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    flowiq_webhooks::telemetry::init();
    let config = Config::from_env().context("invalid configuration")?;
    lambda_function::run(config).await
}
