//! CloudWatch metrics from the per-delivery log line, in the Embedded Metric Format (EMF): no
//! extra log lines, no API calls. The HTTP edge logs one line per delivery with `outcome`,
//! `event_type` and `store_latency_ms`; this writer adds the EMF members to that same JSON line
//! (`store_latency_ms` becomes `StoreLatency`)
//! (tracing's JSON formatter cannot write a nested object such as `_aws`). The contract
//! (namespace, metric and dimension names) is listed in docs/operations.md#metrics, and the
//! dashboard in template.yaml reads exactly these names.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tracing_subscriber::fmt::MakeWriter;

use crate::webhook_event::EventType;

pub const DEFAULT_NAMESPACE: &str = "FlowIQWebhooks";
/// Count of deliveries, by `Outcome` and by `EventType`.
pub const DELIVERIES: &str = "Deliveries";
/// Milliseconds spent storing a delivery (the writes and what precedes them), no dimensions.
pub const STORE_LATENCY: &str = "StoreLatency";
pub const OUTCOME: &str = "Outcome";
pub const EVENT_TYPE: &str = "EventType";

/// Every `Outcome` value the function emits.
pub const OUTCOMES: [&str; 8] = [
    "stored",
    "duplicate",
    "rejected",
    "too_large",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "storage_unavailable",
];

/// Every `EventType` value: FlowIQ's types, `other` for the rest (so the dimension stays bounded:
/// each value is a custom metric), `none` when no event was read.
pub const EVENT_TYPES: [&str; 9] = [
    "message_received",
    "sent_message",
    "message_sent",
    "message_delivered",
    "message_read",
    "message_failed",
    "call",
    "other",
    "none",
];

/// The `EventType` dimension value of a logged `event_type`.
pub fn event_type_dimension(event_type: Option<&str>) -> &'static str {
    let Some(name) = event_type else {
        return "none";
    };
    match EventType::parse(name) {
        EventType::Other(other) if other == "call" => "call",
        EventType::Other(_) => "other",
        known => EVENT_TYPES
            .iter()
            .find(|t| **t == known.as_str())
            .expect("every known type is a dimension value"),
    }
}

/// Where metrics go: `METRICS_NAMESPACE` (unset: [`DEFAULT_NAMESPACE`]; empty: metrics off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub namespace: Option<String>,
}

impl MetricsConfig {
    pub fn from_env() -> Self {
        Self::from_value(std::env::var("METRICS_NAMESPACE").ok())
    }

    pub fn from_value(value: Option<String>) -> Self {
        let namespace = match value {
            None => Some(DEFAULT_NAMESPACE.to_owned()),
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(v.trim().to_owned()),
        };
        MetricsConfig { namespace }
    }
}

/// A [`MakeWriter`] that adds the EMF members to each delivery line its inner writer gets.
#[derive(Debug, Clone)]
pub struct EmfMakeWriter<M> {
    inner: M,
    namespace: Option<String>,
}

impl<M> EmfMakeWriter<M> {
    pub fn new(inner: M, config: MetricsConfig) -> Self {
        EmfMakeWriter {
            inner,
            namespace: config.namespace,
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for EmfMakeWriter<M> {
    type Writer = EmfWriter<'a, M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        EmfWriter {
            inner: self.inner.make_writer(),
            namespace: self.namespace.as_deref(),
        }
    }
}

pub struct EmfWriter<'a, W> {
    inner: W,
    namespace: Option<&'a str>,
}

impl<W: Write> Write for EmfWriter<'_, W> {
    /// tracing's formatter writes each event as one whole line.
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        match self.namespace.and_then(|ns| with_metrics(line, ns)) {
            Some(with_metrics) => self.inner.write_all(&with_metrics)?,
            None => self.inner.write_all(line)?,
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The line with the EMF members, if it is a delivery line (it has an `outcome`).
fn with_metrics(line: &[u8], namespace: &str) -> Option<Vec<u8>> {
    let mut object: Map<String, Value> = serde_json::from_slice(line).ok()?;
    let outcome = object.get("outcome")?.as_str()?;
    let outcome = OUTCOMES.iter().find(|o| **o == outcome)?;
    let event_type = event_type_dimension(object.get("event_type").and_then(Value::as_str));
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut directives = vec![json!({
        "Namespace": namespace,
        "Dimensions": [[OUTCOME], [EVENT_TYPE]],
        "Metrics": [{ "Name": DELIVERIES, "Unit": "Count" }],
    })];
    // Moved, not copied: the line is paid for by the byte.
    if let Some(latency) = object.remove("store_latency_ms") {
        object.insert(STORE_LATENCY.to_owned(), latency);
        directives.push(json!({
            "Namespace": namespace,
            "Dimensions": [[]],
            "Metrics": [{ "Name": STORE_LATENCY, "Unit": "Milliseconds" }],
        }));
    }
    object.insert(OUTCOME.to_owned(), Value::from(*outcome));
    object.insert(EVENT_TYPE.to_owned(), Value::from(event_type));
    object.insert(DELIVERIES.to_owned(), Value::from(1));
    object.insert(
        "_aws".to_owned(),
        json!({ "Timestamp": timestamp, "CloudWatchMetrics": directives }),
    );
    let mut out = serde_json::to_vec(&object).ok()?;
    out.push(b'\n');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_fold_into_a_bounded_set() {
        assert_eq!(event_type_dimension(Some("message_read")), "message_read");
        assert_eq!(event_type_dimension(Some("sent_message")), "sent_message");
        assert_eq!(event_type_dimension(Some("call")), "call");
        assert_eq!(event_type_dimension(Some("contact_updated")), "other");
        assert_eq!(event_type_dimension(None), "none");
    }

    #[test]
    fn the_namespace_is_configurable_and_empty_turns_metrics_off() {
        assert_eq!(
            MetricsConfig::from_value(None).namespace.as_deref(),
            Some(DEFAULT_NAMESPACE)
        );
        assert_eq!(
            MetricsConfig::from_value(Some("Acme/Hooks".into()))
                .namespace
                .as_deref(),
            Some("Acme/Hooks")
        );
        assert_eq!(
            MetricsConfig::from_value(Some(String::new())).namespace,
            None
        );
    }

    #[test]
    fn only_delivery_lines_get_metrics() {
        let other = br#"{"level":"WARN","message":"could not open the DynamoDB connection"}"#;
        assert_eq!(with_metrics(other, "N"), None);
        let unknown_outcome = br#"{"outcome":"something_new"}"#;
        assert_eq!(with_metrics(unknown_outcome, "N"), None);
        let line = with_metrics(br#"{"outcome":"unauthorized","status":401}"#, "N").unwrap();
        let value: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["Outcome"], "unauthorized");
        assert_eq!(value["EventType"], "none");
        assert_eq!(value["Deliveries"], 1);
        assert!(
            value.get("StoreLatency").is_none(),
            "no store call, no latency"
        );
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(),
            1
        );
    }
}
