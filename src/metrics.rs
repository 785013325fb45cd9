//! CloudWatch metrics from the per-delivery log line, in the Embedded Metric Format (EMF): no
//! extra log lines, no API calls. The HTTP edge logs one line per delivery with `outcome` (an
//! [`Outcome`]), `event_type` and `StoreLatency`; [`EmfFormat`], the subscriber's event formatter,
//! reads those fields as the event's typed values and writes the EMF members (`_aws`, `Outcome`,
//! `EventType`, `Deliveries`) in front of tracing's own JSON members, in the same line (tracing's
//! JSON formatter cannot write a nested object such as `_aws`). The contract (namespace, metric and
//! dimension names) is listed in docs/operations.md#metrics, and the dashboard in template.yaml
//! reads exactly these names.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::outcome::Outcome;
use crate::webhook_event::EventType;

pub const DEFAULT_NAMESPACE: &str = "FlowIQWebhooks";
/// Count of deliveries, by `Outcome` and by `EventType`.
pub const DELIVERIES: &str = "Deliveries";
/// Milliseconds spent storing a delivery (the writes and what precedes them), no dimensions. Also
/// the name of the delivery line's field, so the metric is that member.
pub const STORE_LATENCY: &str = "StoreLatency";
pub const OUTCOME: &str = "Outcome";
pub const EVENT_TYPE: &str = "EventType";

/// Every `Outcome` value the function emits ([`Outcome::ALL`]).
pub const OUTCOMES: [&str; Outcome::ALL.len()] = {
    let mut names = [""; Outcome::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Outcome::ALL[i].as_str();
        i += 1;
    }
    names
};

/// Every `EventType` value: FlowIQ's named types ([`EventType::KNOWN`]: the documented ones,
/// `call`), `other` for the rest (so the dimension stays bounded: each value is a custom metric),
/// `none` when no event was read.
pub const EVENT_TYPES: [&str; EventType::KNOWN.len() + 2] = {
    let mut names = [OTHER_EVENT_TYPE; EventType::KNOWN.len() + 2];
    let mut i = 0;
    while i < EventType::KNOWN.len() {
        names[i] = match EventType::KNOWN[i].known_name() {
            Some(name) => name,
            None => panic!("known types have names"),
        };
        i += 1;
    }
    names[i + 1] = NO_EVENT_TYPE;
    names
};

const OTHER_EVENT_TYPE: &str = "other";
const NO_EVENT_TYPE: &str = "none";

/// The `EventType` dimension value of an event's type.
pub fn event_type_dimension(event_type: &EventType) -> &'static str {
    event_type.known_name().unwrap_or(OTHER_EVENT_TYPE)
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

/// An event formatter around tracing's JSON formatter (`inner`): a delivery line (an event with a
/// known `outcome`) gets the EMF members first, built from the event's typed fields; every other
/// line is `inner`'s alone.
#[derive(Debug, Clone)]
pub struct EmfFormat<F> {
    inner: F,
    directives: Option<Directives>,
}

impl<F> EmfFormat<F> {
    pub fn new(inner: F, config: MetricsConfig) -> Self {
        EmfFormat {
            inner,
            directives: config.namespace.as_deref().map(Directives::new),
        }
    }
}

/// The fields of an event the metrics need.
#[derive(Default)]
struct DeliveryFields {
    outcome: Option<Outcome>,
    /// The line's `event_type` (`none` without one).
    event_type: Option<EventType>,
    store_latency: bool,
}

impl Visit for DeliveryFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "outcome" => self.outcome = Outcome::parse(value),
            // The line carries the type as its name (tracing's field values reach a formatter as
            // text): read back by the one parser, not matched here.
            "event_type" => self.event_type = Some(EventType::parse(value)),
            _ => {}
        }
    }

    fn record_f64(&mut self, field: &Field, _value: f64) {
        self.store_latency |= field.name() == STORE_LATENCY;
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn fmt::Debug) {}
}

impl<S, N, F> FormatEvent<S, N> for EmfFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(directives) = &self.directives else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut fields = DeliveryFields::default();
        event.record(&mut fields);
        let Some(outcome) = fields.outcome else {
            return self.inner.format_event(ctx, writer, event);
        };
        let directives = match fields.store_latency {
            true => &directives.deliveries_and_latency,
            false => &directives.deliveries,
        };
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let event_type = fields
            .event_type
            .as_ref()
            .map_or(NO_EVENT_TYPE, event_type_dimension);
        write!(
            writer,
            "{{\"_aws\":{{\"Timestamp\":{timestamp},\"CloudWatchMetrics\":{directives}}},\"{OUTCOME}\":\"{}\",\"{EVENT_TYPE}\":\"{event_type}\",\"{DELIVERIES}\":1,",
            outcome.as_str()
        )?;
        // `inner` opens its own object: its members follow ours in the same object.
        let mut members = WithoutFirstBrace {
            inner: writer,
            opened: false,
        };
        self.inner
            .format_event(ctx, Writer::new(&mut members), event)
    }
}

/// Passes everything through but the first character, `inner`'s opening `{`.
struct WithoutFirstBrace<'w> {
    inner: Writer<'w>,
    opened: bool,
}

impl fmt::Write for WithoutFirstBrace<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let text = match self.opened {
            true => text,
            false => {
                self.opened = !text.is_empty();
                text.strip_prefix('{').unwrap_or(text)
            }
        };
        self.inner.write_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_fold_into_a_bounded_set() {
        let dimension = |name| event_type_dimension(&EventType::parse(name));
        assert_eq!(dimension("message_read"), "message_read");
        assert_eq!(dimension("sent_message"), "sent_message");
        assert_eq!(dimension("call"), "call");
        assert_eq!(dimension("contact_updated"), "other");
        let line = line_of(
            || tracing::info!(outcome = "stored"),
            MetricsConfig::from_value(None),
        );
        assert_eq!(line["EventType"], "none");
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

    /// The production subscriber's line for one event.
    fn line_of(emit: impl FnOnce(), metrics: MetricsConfig) -> serde_json::Value {
        let captured = flowiq_harness::captured_writer::CapturedWriter::default();
        let writer = captured.clone();
        let subscriber = crate::telemetry::subscriber(move || writer.clone(), metrics);
        tracing::subscriber::with_default(subscriber, emit);
        let text = captured.text();
        assert_eq!(text.matches('\n').count(), 1, "one line: {text}");
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn only_delivery_lines_get_metrics() {
        let on = || MetricsConfig::from_value(None);
        let other = line_of(
            || tracing::warn!("could not open the DynamoDB connection"),
            on(),
        );
        assert!(other.get("_aws").is_none(), "{other}");
        let unknown = line_of(|| tracing::info!(outcome = "something_new"), on());
        assert!(unknown.get("_aws").is_none(), "{unknown}");
        let line = line_of(
            || tracing::warn!(outcome = "unauthorized", status = 401),
            on(),
        );
        assert_eq!(line["Outcome"], "unauthorized");
        assert_eq!(line["EventType"], "none");
        assert_eq!(line["Deliveries"], 1);
        assert_eq!(line["status"], 401, "tracing's own members follow: {line}");
        assert!(
            line.get("StoreLatency").is_none(),
            "no store call, no latency"
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(),
            1
        );
        let off = line_of(
            || tracing::info!(outcome = "stored", StoreLatency = 1.5),
            MetricsConfig::from_value(Some(String::new())),
        );
        assert!(
            off.get("_aws").is_none() && off["StoreLatency"] == 1.5,
            "{off}"
        );
    }

    #[test]
    fn the_typed_fields_decide_not_a_lookalike_in_another_value() {
        let line = line_of(
            || {
                tracing::warn!(
                    reason = r#"field "outcome":"stored" is odd"#,
                    outcome = "rejected",
                    event_type = "sent_message",
                    StoreLatency = 1.5
                )
            },
            MetricsConfig::from_value(None),
        );
        assert_eq!(line["Outcome"], "rejected");
        assert_eq!(line["EventType"], "sent_message");
        assert_eq!(line["StoreLatency"], 1.5);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(),
            2
        );
        assert_eq!(line["reason"], r#"field "outcome":"stored" is odd"#);
    }

    #[test]
    fn the_lists_are_the_enums() {
        assert_eq!(OUTCOMES.len(), Outcome::ALL.len());
        assert!(OUTCOMES.iter().all(|o| Outcome::parse(o).is_some()));
        assert_eq!(&EVENT_TYPES[6..], ["call", "other", "none"]);
        for documented in EventType::DOCUMENTED {
            assert!(EVENT_TYPES.contains(&documented.as_str()));
        }
    }
}
