//! The SQS adapter of [`Spill`]: one SendMessage per spilled delivery, to `SPILL_QUEUE_URL`.
//! The client is built at init from the shared SDK configuration (no request until a spill).

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sqs::error::DisplayErrorContext;
use std::time::Duration;

use super::{SPILL_BUDGET, Spill, SpillError};
use crate::queued_delivery::QueuedDelivery;

#[derive(Debug, Clone)]
pub struct SqsSpill {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsSpill {
    /// The SQS endpoint comes from the usual configuration (`AWS_ENDPOINT_URL_SQS` locally).
    /// Timeouts and retries fit [`SPILL_BUDGET`]: a connection is usually new here (the spill is
    /// rare), hence a connect timeout of its own.
    pub fn new(sdk_config: &SdkConfig, queue_url: impl Into<String>) -> Self {
        let config = aws_sdk_sqs::config::Builder::from(sdk_config)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_millis(900))
                    .operation_attempt_timeout(Duration::from_millis(900))
                    .operation_timeout(SPILL_BUDGET)
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(50)),
            )
            .build();
        SqsSpill {
            client: aws_sdk_sqs::Client::from_conf(config),
            queue_url: queue_url.into(),
        }
    }
}

impl Spill for SqsSpill {
    async fn send(&self, delivery: &QueuedDelivery) -> Result<(), SpillError> {
        let send = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(delivery.to_json())
            .send();
        match tokio::time::timeout(SPILL_BUDGET, send).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(SpillError::Request {
                message: DisplayErrorContext(&err).to_string(),
                source: Some(Box::new(err)),
            }),
            Err(_) => Err(SpillError::Request {
                message: format!("no answer within {} ms", SPILL_BUDGET.as_millis()),
                source: None,
            }),
        }
    }
}
