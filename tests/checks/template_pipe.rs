//! The EventBridge Pipe (issue "Out of the table"): off by default; on, it enriches batches of the
//! stream's new events with `flowiq-pipe-enrichment` and puts each element of its answer on the
//! bus as it is; the optional schema registry publishes the very schema in docs/schema/.

use flowiq_harness::template::{Stack, Template, text};
use flowiq_webhooks::event_detail::EVENT_SOURCE;
use serde_json::Value;

fn deploy(overrides: &[(&str, &str)]) -> Stack {
    Template::repository()
        .deploy(overrides)
        .unwrap_or_else(|e| panic!("{overrides:?}: {e}"))
}

const PIPE_PARTS: [&str; 6] = [
    "EventsPipe",
    "EventsPipeRole",
    "PipeFailureQueue",
    "PipeEnrichmentFunction",
    "PipeEnrichmentFunctionRole",
    "PipeEnrichmentFunctionLogGroup",
];

#[test]
fn nothing_of_the_pipe_exists_unless_asked_for() {
    for stack in [deploy(&[]), deploy(&[("EnableSchemaRegistry", "true")])] {
        for part in PIPE_PARTS
            .iter()
            .chain(&["EventsSchemaRegistry", "EventsSchema"])
        {
            assert!(!stack.has(part), "{part}");
        }
    }
    let pipe = deploy(&[("EnableEventBridgePipe", "true")]);
    for part in PIPE_PARTS {
        assert!(pipe.has(part), "{part}");
    }
    assert!(!pipe.has("EventsSchema"), "the registry is its own choice");
}

#[test]
fn the_pipe_enriches_batches_and_puts_each_detail_as_it_is() {
    let stack = deploy(&[("EnableEventBridgePipe", "true")]);
    let pipe = stack.properties("EventsPipe");
    let one = |path: &str| {
        let values = stack.each(&format!("EventsPipe.Properties.{path}"));
        assert_eq!(values.len(), 1, "{path}");
        text(values[0]).unwrap_or_else(|| values[0].to_string())
    };
    // The alias: the version the last deploy published, as the role's grant names it.
    assert_eq!(one("Enrichment"), "PipeEnrichmentFunctionAliaslive");
    let source = "SourceParameters.DynamoDBStreamParameters";
    assert_eq!(one(&format!("{source}.BatchSize")), "100");
    assert_eq!(
        one(&format!("{source}.MaximumBatchingWindowInSeconds")),
        "1"
    );
    assert_eq!(
        one(&format!("{source}.OnPartialBatchItemFailure")),
        "AUTOMATIC_BISECT"
    );
    assert_eq!(
        one(&format!("{source}.DeadLetterConfig.Arn")),
        "PipeFailureQueue.Arn"
    );
    let bus = "TargetParameters.EventBridgeEventBusParameters";
    assert_eq!(one(&format!("{bus}.Source")), EVENT_SOURCE);
    // The detail's event_type (always present: a required member of the schema).
    assert_eq!(one(&format!("{bus}.DetailType")), "$.event_type");
    assert!(
        pipe["TargetParameters"]["InputTemplate"].is_null(),
        "the enrichment's element is the detail, untransformed"
    );
    let binary = stack.each("PipeEnrichmentFunction.Metadata.BuildProperties.Binary");
    assert_eq!(text(binary[0]).as_deref(), Some("flowiq-pipe-enrichment"));
}

#[test]
fn the_registry_publishes_the_schema_of_the_repository() {
    let stack = deploy(&[
        ("EnableEventBridgePipe", "true"),
        ("EnableSchemaRegistry", "true"),
    ]);
    let schema = stack.properties("EventsSchema");
    assert_eq!(schema["Type"], "JSONSchemaDraft4");
    let published: Value = serde_json::from_str(schema["Content"].as_str().unwrap()).unwrap();
    let path = format!(
        "{}/docs/schema/flowiq-event.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let in_repository: Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(published, in_repository);
    assert_eq!(
        published["properties"]["source"]["enum"][0], EVENT_SOURCE,
        "the schema names the source the Pipe sets"
    );
}
