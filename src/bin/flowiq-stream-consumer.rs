//! Example consumer of the table's DynamoDB Stream: one structured log line per new FlowIQ event.
//! A starting point: replace `on_change` with your own logic (forward to a CRM, analytics, ...).

use std::convert::Infallible;

use aws_lambda_events::event::dynamodb::Event;
use flowiq_webhooks::table_stream::{DecodeOptions, TableChange, process_batch};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    flowiq_webhooks::telemetry::init();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async move {
        let options = DecodeOptions { skip_expired: true };
        Ok::<_, Infallible>(process_batch(&event.payload, options, on_change).await)
    }))
    .await
}

/// No phone numbers or message text at the default level: ids, types and times only.
async fn on_change(change: TableChange) -> Result<(), Infallible> {
    if let TableChange::NewEvent(event) = change {
        tracing::info!(
            event_id = event.event_id,
            event_type = event.event_type.as_str(),
            platform = event.platform.as_str(),
            organization_id = event.organization_id,
            whatsapp_message_id = event.whatsapp_message_id,
            occurred_at = event.occurred_at,
            "new FlowIQ event"
        );
    }
    Ok(())
}
