//! Structured JSON logs on stdout (CloudWatch Logs reads them as JSON).

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::JsonFields;

use crate::metrics::{EmfFormat, MetricsConfig};

/// Installs [`subscriber`] on stdout for the whole process, with metrics as `METRICS_NAMESPACE`
/// says.
pub fn init() {
    let subscriber = subscriber(std::io::stdout, MetricsConfig::from_env());
    tracing::subscriber::set_global_default(subscriber)
        .expect("the log subscriber is installed once, at start-up");
}

/// One JSON object per line; `RUST_LOG` selects the level (default `info`). Fields are flattened
/// into each line with the current span's (the HTTP edge's `delivery` span: Lambda's request id). Delivery lines
/// carry CloudWatch metrics ([`crate::metrics`]) unless `metrics` has no namespace. Tests capture
/// the logs through `writer`.
pub fn subscriber<W>(writer: W, metrics: MetricsConfig) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = tracing_subscriber::fmt::format()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        // CloudWatch Logs timestamps every event (and EMF lines carry `_aws.Timestamp`): a time
        // in the line would only add bytes to a line paid for per delivery.
        .without_time();
    tracing_subscriber::fmt()
        .fmt_fields(JsonFields::new())
        .event_format(EmfFormat::new(json, metrics))
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}
