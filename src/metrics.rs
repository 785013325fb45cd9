//! CloudWatch metrics from the per-delivery log line, in the Embedded Metric Format (EMF): no
//! extra log lines, no API calls. The HTTP edge logs one line per delivery with `outcome`,
//! `event_type` and `store_latency_ms`; this writer adds the EMF members to that same JSON line
//! (`store_latency_ms` becomes `StoreLatency`)
//! (tracing's JSON formatter cannot write a nested object such as `_aws`). The contract
//! (namespace, metric and dimension names) is listed in docs/operations.md#metrics, and the
//! dashboard in template.yaml reads exactly these names.

use std::borrow::Cow;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
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
pub const OUTCOMES: [&str; 9] = [
    "stored",
    "duplicate",
    "queued",
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
    directives: Option<Directives>,
}

/// The `CloudWatchMetrics` arrays, built once: with and without the `StoreLatency` directive.
#[derive(Debug, Clone)]
struct Directives {
    deliveries: String,
    deliveries_and_latency: String,
}

impl Directives {
    fn new(namespace: &str) -> Self {
        let deliveries = json!({
            "Namespace": namespace,
            "Dimensions": [[OUTCOME], [EVENT_TYPE]],
            "Metrics": [{ "Name": DELIVERIES, "Unit": "Count" }],
        });
        let latency = json!({
            "Namespace": namespace,
            "Dimensions": [[]],
            "Metrics": [{ "Name": STORE_LATENCY, "Unit": "Milliseconds" }],
        });
        Directives {
            deliveries: format!("[{deliveries}]"),
            deliveries_and_latency: format!("[{deliveries},{latency}]"),
        }
    }
}

impl<M> EmfMakeWriter<M> {
    pub fn new(inner: M, config: MetricsConfig) -> Self {
        EmfMakeWriter {
            inner,
            directives: config.namespace.as_deref().map(Directives::new),
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for EmfMakeWriter<M> {
    type Writer = EmfWriter<'a, M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        EmfWriter {
            inner: self.inner.make_writer(),
            directives: self.directives.as_ref(),
        }
    }
}

pub struct EmfWriter<'a, W> {
    inner: W,
    directives: Option<&'a Directives>,
}

impl<W: Write> Write for EmfWriter<'_, W> {
    /// tracing's formatter writes each event as one whole line.
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        match self.directives.and_then(|d| with_metrics(line, d)) {
            Some(with_metrics) => self.inner.write_all(with_metrics.as_bytes())?,
            None => self.inner.write_all(line)?,
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

const LATENCY_MEMBER: &str = "\"store_latency_ms\":";

/// The line with the EMF members, if it is a delivery line (it has a known `outcome`). Spliced
/// into the text rather than parsed and written again: every delivery pays for this.
fn with_metrics(line: &[u8], directives: &Directives) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let members = text.strip_prefix('{').filter(|m| !m.starts_with('}'))?;
    let outcome = string_member(text, "outcome")?;
    let outcome = OUTCOMES.iter().find(|o| **o == outcome)?;
    let event_type = event_type_dimension(string_member(text, "event_type"));
    let (members, directives) = match members.contains(LATENCY_MEMBER) {
        // Moved, not copied: the line is paid for by the byte.
        true => (
            Cow::Owned(members.replacen(LATENCY_MEMBER, "\"StoreLatency\":", 1)),
            &directives.deliveries_and_latency,
        ),
        false => (Cow::Borrowed(members), &directives.deliveries),
    };
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Some(format!(
        "{{\"_aws\":{{\"Timestamp\":{timestamp},\"CloudWatchMetrics\":{directives}}},\"{OUTCOME}\":\"{outcome}\",\"{EVENT_TYPE}\":\"{event_type}\",\"{DELIVERIES}\":1,{members}"
    ))
}

/// A top-level string member of a line from tracing's JSON formatter, found by its text: the
/// fields are the edge's own, each key appears once, and a quote inside any string value is
/// escaped, so the first `"name":"` is the member. The values read here (outcomes, FlowIQ event
/// types) are identifiers without escapes.
fn string_member<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":\"");
    let start = text.find(&key)? + key.len();
    let length = text[start..].find('"')?;
    Some(&text[start..start + length])
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
        assert_eq!(with_metrics(other, &Directives::new("N")), None);
        let unknown_outcome = br#"{"outcome":"something_new"}"#;
        assert_eq!(with_metrics(unknown_outcome, &Directives::new("N")), None);
        let line = with_metrics(
            br#"{"outcome":"unauthorized","status":401}"#,
            &Directives::new("N"),
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
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

    #[test]
    fn a_quoted_lookalike_in_another_value_is_not_the_member() {
        let line = br#"{"reason":"field \"outcome\":\"stored\" is odd","outcome":"rejected","store_latency_ms":1.5}
"#;
        let with = with_metrics(line, &Directives::new("N")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&with).unwrap();
        assert_eq!(value["Outcome"], "rejected");
        assert_eq!(value["StoreLatency"], 1.5);
        assert!(value.get("store_latency_ms").is_none());
        assert_eq!(value["reason"], r#"field "outcome":"stored" is odd"#);
        assert!(
            with.ends_with("}\n") && with.matches('\n').count() == 1,
            "one line"
        );
    }
}
