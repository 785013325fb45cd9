//! The Pipe's enrichment on real stream records: every sample event posted through the real
//! handler into DynamoDB Local (plain and deflated bodies, both platforms, `call` and an unknown
//! type), the table's stream read back, the records the Pipe's filter passes enriched — by the
//! library and by the `flowiq-pipe-enrichment` binary under a local Lambda Runtime API, in the
//! batch shape Pipes sends (a JSON array). Each detail carries the event as FlowIQ sent it and the
//! item's metadata, and validates against the published JSON Schema.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use flowiq_harness::runtime_api::invoke_once;
use flowiq_webhooks::pipe_enrichment::enrich;
use flowiq_webhooks::records::{EventItem, Retention};
use serde_dynamo::AttributeValue;
use serde_json::{Value, json};

use crate::support::*;

/// The published schema (docs/schema/flowiq-event.schema.json): the whole event, and its detail.
fn validators() -> (jsonschema::Validator, jsonschema::Validator, Value) {
    let path = format!(
        "{}/docs/schema/flowiq-event.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let detail_schema = json!({
        "$schema": schema["$schema"],
        "definitions": schema["definitions"],
        "$ref": "#/definitions/EventDetail",
    });
    let event = jsonschema::draft4::new(&schema).expect("the schema is valid draft 4");
    let detail = jsonschema::draft4::new(&detail_schema).unwrap();
    (event, detail, schema)
}

/// The records the Pipe's filter passes: INSERTs of `event` items.
fn pipe_records(event: &Event) -> Vec<EventRecord> {
    event
        .records
        .iter()
        .filter(|r| {
            r.event_name == "INSERT"
                && r.change.new_image.get("item_type") == Some(&AttributeValue::S("event".into()))
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn every_stored_event_becomes_its_detail_with_the_event_as_sent() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let mut sent = BTreeMap::new();
    for file in delivery_sample_files() {
        let event = sample(&file);
        let answer = send(&receiver, request(&event)).await;
        assert_eq!(answer.status, 200, "{file}: {:?}", answer.json);
        sent.insert(
            answer.json["event_id"].as_str().unwrap().to_owned(),
            sample_body(&event),
        );
    }
    let stream: Event = serde_json::from_value(read_stream_as_lambda_event(&table).await).unwrap();
    let records = pipe_records(&stream);
    assert_eq!(records.len(), sent.len(), "one INSERT per distinct event");

    let details = enrich(&records).expect("every stored event enriches");
    assert_eq!(
        details.len(),
        records.len(),
        "one detail per record, in order"
    );
    let (event_schema, detail_schema, schema) = validators();
    let declared = schema["definitions"]["EventDetail"]["properties"]
        .as_object()
        .unwrap();
    let (mut deflated, mut plain, mut platforms, mut types) = (0, 0, BTreeMap::new(), Vec::new());
    for (record, detail) in records.iter().zip(&details) {
        let item: EventItem = serde_dynamo::from_item(record.change.new_image.clone()).unwrap();
        assert_eq!(detail.event_id, item.event_id, "in the records' order");
        // The event as FlowIQ sent it: what any JSON parser reads from the body sent.
        let body = &sent[&item.event_id];
        let as_sent: Value = serde_json::from_str(body).unwrap();
        let json = serde_json::to_value(detail).unwrap();
        assert_eq!(json["event"], as_sent, "{}", item.event_id);
        // The metadata is the item's.
        let event_type = item.event_type.to_string();
        for (name, value) in [
            ("event_id", Some(&item.event_id)),
            ("event_type", Some(&event_type)),
            ("organization_id", item.organization_id.as_ref()),
            ("whatsapp_message_id", item.whatsapp_message_id.as_ref()),
            ("occurred_at", item.occurred_at.as_ref()),
            ("received_at", Some(&item.received_at)),
            ("pk", Some(&item.pk)),
            ("sk", Some(&item.sk)),
        ] {
            assert_eq!(
                json.get(name).and_then(Value::as_str),
                value.map(String::as_str),
                "{name}"
            );
        }
        assert_eq!(json["platform"], item.platform.as_str());
        for (name, field) in [("contact_id", "contact_id"), ("whatsapp_id", "whatsapp_id")] {
            assert_eq!(
                json.get(name),
                as_sent.get(field),
                "{name} where the event has it"
            );
        }
        // Valid against the schema, as a detail and inside the event the Pipe puts on the bus;
        // every member is one the schema declares.
        let errors: Vec<String> = detail_schema
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", item.event_id);
        let bus_event =
            json!({"source": "flowiq.webhooks", "detail-type": detail.event_type, "detail": json});
        assert!(event_schema.is_valid(&bus_event));
        for member in json.as_object().unwrap().keys() {
            assert!(
                declared.contains_key(member),
                "{member} is not in the schema"
            );
        }
        for (name, value) in json.as_object().unwrap() {
            assert!(
                value != "" && !value.is_null(),
                "{name}: absent values are absent"
            );
        }
        match (&item.body, &item.body_zd1) {
            (Some(_), None) => plain += 1,
            (None, Some(_)) => deflated += 1,
            other => panic!("{other:?}"),
        }
        *platforms.entry(item.platform.as_str()).or_insert(0) += 1;
        types.push(item.event_type.clone());
    }
    assert!(
        deflated > 0 && plain > 0,
        "both body forms: {deflated} deflated, {plain} plain"
    );
    assert_eq!(platforms.len(), 2, "both platforms: {platforms:?}");
    for event_type in ["call", "contact_updated", "message_failed", "sent_message"] {
        assert!(
            types.iter().any(|t| t == event_type),
            "{event_type} among {types:?}"
        );
    }

    // `PIPE_BATCH_OUT=events/pipe-enrichment` writes this batch and its details: the sample
    // `cargo lambda invoke flowiq-pipe-enrichment` and the measurements use.
    if let Some(dir) = std::env::var_os("PIPE_BATCH_OUT") {
        let dir = Path::new(&dir);
        let pretty = |value: &Value| serde_json::to_string_pretty(value).unwrap() + "\n";
        let batch = serde_json::to_value(&records).unwrap();
        std::fs::write(dir.join("batch.json"), pretty(&batch)).unwrap();
        let out = serde_json::to_value(&details).unwrap();
        std::fs::write(dir.join("details.json"), pretty(&out)).unwrap();
    }

    // The binary, as Lambda runs it, on the batch as Pipes sends it: the same details.
    let binary = Path::new(env!("CARGO_BIN_EXE_flowiq-pipe-enrichment"));
    let batch = serde_json::to_vec(&records).unwrap();
    let response = invoke_once(binary, &[], &batch).expect("the function answers the batch");
    assert_eq!(response, serde_json::to_value(&details).unwrap());

    // A damaged deflated body fails the batch, naming the item; the binary reports it as an
    // invocation error (Pipes then retries, bisects and sends it to the failure queue).
    let mut damaged = records.clone();
    let (index, pk, sk) = damaged
        .iter_mut()
        .enumerate()
        .find_map(|(i, record)| {
            let image = &mut record.change.new_image;
            let Some(AttributeValue::B(bytes)) = image.get_mut("body_zd1") else {
                return None;
            };
            bytes.truncate(bytes.len() / 2);
            let key = |name| match image.get(name) {
                Some(AttributeValue::S(value)) => value.clone(),
                other => panic!("{other:?}"),
            };
            Some((i, key("pk"), key("sk")))
        })
        .expect("a deflated body among the samples");
    let error = enrich(&damaged).unwrap_err().to_string();
    assert!(error.contains(&pk) && error.contains(&sk), "{error}");
    assert!(
        error.contains(&damaged[index].event_id),
        "names the stream record: {error}"
    );
    let reported = invoke_once(binary, &[], &serde_json::to_vec(&damaged).unwrap()).unwrap_err();
    assert!(
        reported.contains(&pk) && reported.contains(&sk),
        "{reported}"
    );
}
