//! The EventBridge Pipe's enrichment: each new FlowIQ event from the table's stream becomes the
//! `detail` of its EventBridge event, with the event as FlowIQ sent it ([`flowiq_webhooks::pipe_enrichment`]).

use flowiq_webhooks::lambda_function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    flowiq_webhooks::telemetry::init();
    lambda_function::run_pipe_enrichment().await
}
