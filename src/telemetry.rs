//! Structured JSON logs on stdout (CloudWatch Logs reads them as JSON).

use tracing_subscriber::EnvFilter;

/// `RUST_LOG` selects the level (default `info`). Fields are flattened into each line; the Lambda
/// runtime's span adds `requestId` and `xrayTraceId`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .init();
}
