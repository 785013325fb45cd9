//! A measurement variant of the function (docs/performance.md, "First request after a cold
//! start"; run by `scripts/bench dynamodb`): `src/bin/flowiq-webhook.rs` without opening the
//! DynamoDB connection during init, so the first delivery pays for TCP + TLS. Not deployed.

use anyhow::Context as _;
use flowiq_webhooks::config::Config;
use flowiq_webhooks::lambda_function::{self, ConnectionWarmUp};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    flowiq_webhooks::telemetry::init();
    let config = Config::from_env().context("invalid configuration")?;
    lambda_function::run(config, ConnectionWarmUp::OnFirstDelivery).await
}
