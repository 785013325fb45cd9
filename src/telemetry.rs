//! Structured JSON logs on stdout (CloudWatch Logs reads them as JSON).

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs [`subscriber`] on stdout for the whole process.
pub fn init() {
    tracing::subscriber::set_global_default(subscriber(std::io::stdout))
        .expect("the log subscriber is installed once, at start-up");
}

/// One JSON object per line; `RUST_LOG` selects the level (default `info`). Fields are flattened
/// into each line; the Lambda runtime's span adds `requestId` and `xrayTraceId`. Tests capture
/// the logs through `writer`.
pub fn subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(writer)
        .finish()
}
