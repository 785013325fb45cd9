//! DynamoDB work per delivery (docs/performance.md): every sample in events/ delivered in order
//! through the real handler into DynamoDB Local, counting the HTTP requests the SDK sends (an
//! interceptor) and reading the `ConsumedCapacity` (TOTAL and per index) DynamoDB reports
//! (`CapacityMeter`). Every delivery is one PutItem (storage contract v2), never a read; its units
//! equal what DynamoDB's documented sizing rules give for the item actually stored: 2 for a
//! receipt (the item and its `by-organization` entry), and for a content event its item's units
//! plus its `by-organization` and `by-contact` entries.
//!
//! The per-event table for docs/performance.md: `cargo test --test integration capacity -- --nocapture`
//! (lines starting with `capacity|`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_harness::capacity_meter::ConsumedWrite;
use flowiq_harness::template::{TableProperties, Template};
use flowiq_webhooks::keys;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;

use crate::support::*;

/// Every sample delivery, in an order FlowIQ could send them: each message's events in
/// lifecycle order (`sent_message` < `message_sent` < delivered < read < failed).
const IN_ORDER: [&str; 20] = [
    "whatsapp-message-received.json",
    "whatsapp-message-received-image.json",
    "whatsapp-message-received-location.json",
    "whatsapp-sent-message.json",
    "whatsapp-message-sent.json",
    "whatsapp-message-delivered.json",
    "whatsapp-message-read.json",
    "whatsapp-message-failed.json",
    "whatsapp-message-failed-undelivered.json",
    "whatsapp-message-failed-warning.json",
    "rest-api-v1-message-delivered.json",
    "http-api-named-stage.json",
    "http-api-custom-domain.json",
    "rest-api-custom-domain.json",
    "function-url.json",
    "http-api-base64-no-content-type.json",
    "whatsapp-call.json",
    "whatsapp-unknown-event.json",
    "web-message-received.json",
    "web-sent-message.json",
];

/// Operations that read (and would consume read capacity).
const READS: [&str; 6] = [
    "GetItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "TransactGetItems",
    "ExecuteStatement",
];

/// The operation of every HTTP request the SDK transmits (retries included), from `X-Amz-Target`.
#[derive(Debug, Clone, Default)]
struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// Units of one write as DynamoDB reported them: the whole request, the table, each index.
#[derive(Debug, Default, Clone, PartialEq)]
struct Units {
    total: f64,
    table: f64,
    indexes: BTreeMap<String, f64>,
}

impl Units {
    fn add(&mut self, other: &Units) {
        self.total += other.total;
        self.table += other.table;
        for (index, units) in &other.indexes {
            *self.indexes.entry(index.clone()).or_default() += units;
        }
    }

    fn index(&self, name: &str) -> f64 {
        self.indexes.get(name).copied().unwrap_or(0.0)
    }
}

fn reported(write: &ConsumedWrite) -> Option<Units> {
    let capacity = write.capacity.as_ref()?;
    Some(Units {
        total: capacity.capacity_units().unwrap_or(0.0),
        table: capacity
            .table()
            .and_then(|t| t.capacity_units())
            .unwrap_or(0.0),
        indexes: capacity
            .global_secondary_indexes()
            .into_iter()
            .flatten()
            .map(|(name, c)| (name.clone(), c.capacity_units().unwrap_or(0.0)))
            .collect(),
    })
}

// DynamoDB's documented item sizes ("Item sizes and formats"; index entries: "Storage
// considerations" of global secondary indexes): attribute names count, strings and binaries by
// their bytes, numbers about 1 byte per 2 significant digits plus 1, booleans and nulls 1 byte,
// sets the sum of their members, an index entry = its projected attributes and keys + 100 bytes.

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => panic!("unexpected attribute type {value:?}"),
    }
}

fn number_size(n: &str) -> usize {
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// A global secondary index of the table, as template.yaml defines it.
struct Index {
    name: String,
    partition_key: String,
    sort_key: String,
    /// Every attribute an entry holds: the table's keys, the index's keys, the projection.
    attributes: Vec<String>,
}

fn indexes(definition: &TableProperties) -> Vec<Index> {
    definition
        .global_secondary_indexes
        .iter()
        .map(|index| {
            let key = |kind: &str| {
                index
                    .key_schema
                    .iter()
                    .find(|k| k.key_type == kind)
                    .unwrap()
                    .attribute_name
                    .clone()
            };
            let (partition_key, sort_key) = (key("HASH"), key("RANGE"));
            assert_eq!(index.projection.projection_type, "INCLUDE");
            let mut attributes = vec![
                keys::PK.to_owned(),
                keys::SK.to_owned(),
                partition_key.clone(),
                sort_key.clone(),
            ];
            for name in &index.projection.non_key_attributes {
                if !attributes.contains(name) {
                    attributes.push(name.clone());
                }
            }
            Index {
                name: index.index_name.clone(),
                partition_key,
                sort_key,
                attributes,
            }
        })
        .collect()
}

impl Index {
    /// The size of the entry `item` has in this index, if it has the index's keys.
    fn entry_size(&self, item: &Item) -> Option<usize> {
        if !item.contains_key(&self.partition_key) || !item.contains_key(&self.sort_key) {
            return None;
        }
        let size = self
            .attributes
            .iter()
            .filter_map(|a| item.get(a).map(|v| a.len() + value_size(v)))
            .sum::<usize>();
        Some(size + 100)
    }

    fn entry(&self, item: &Item) -> Vec<Option<AttributeValue>> {
        self.attributes
            .iter()
            .map(|a| item.get(a).cloned())
            .collect()
    }
}

fn units_of(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// What DynamoDB's rules charge for writing `after` over `before` (None: no item).
fn expected_units(indexes: &[Index], before: Option<&Item>, after: &Item) -> (Units, usize) {
    let size = before.map_or(0, item_size).max(item_size(after));
    let mut units = Units {
        table: units_of(size),
        ..Units::default()
    };
    for index in indexes {
        let old = before.and_then(|b| index.entry_size(b));
        let new = index.entry_size(after);
        let index_units = match (before, old, new) {
            (_, None, None) => 0.0,
            (_, None, Some(new)) => units_of(new),
            (_, Some(old), None) => units_of(old),
            // The same index keys: rewritten only when a projected attribute changed.
            (Some(before), Some(old), Some(new)) => {
                let same_key = [&index.partition_key, &index.sort_key]
                    .iter()
                    .all(|k| before.get(*k) == after.get(*k));
                if !same_key {
                    units_of(old) + units_of(new)
                } else if index.entry(before) != index.entry(after) {
                    units_of(old.max(new))
                } else {
                    0.0
                }
            }
            (None, Some(_), Some(_)) => unreachable!("no entry without an item"),
        };
        if index_units > 0.0 {
            units.indexes.insert(index.name.clone(), index_units);
        }
    }
    units.total = units.table + units.indexes.values().sum::<f64>();
    (units, item_size(after))
}

struct Row {
    sample: &'static str,
    event_type: String,
    requests: Vec<String>,
    units: Units,
    duplicate_requests: Vec<String>,
    duplicate_units: Units,
    event_bytes: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_costs_one_write_and_no_reads() {
    // Every sample but the stream record is in the list, so a new sample cannot be forgotten.
    let samples = delivery_sample_files();
    let mut listed: Vec<String> = IN_ORDER.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(listed, samples, "IN_ORDER lists every sample event");

    let table = TestTable::new().await;
    let indexes = indexes(&Template::repository().events_table().unwrap());
    let requests = RequestLog::default();
    let meter = CapacityMeter::default();
    let client = Client::from_conf(
        table
            .metered_client(&meter)
            .config()
            .to_builder()
            .interceptor(requests.clone())
            .build(),
    );
    let receiver = receiver(
        DynamoDbEventStore::new(client, &table.name),
        Retention(None),
    );

    let mut rows = Vec::new();
    for sample_file in IN_ORDER {
        let event = sample(sample_file);
        let payload = sample_payload(sample_file);

        let answer = send(&receiver, request(&event)).await;
        assert_eq!(answer.status, 200, "{sample_file}: {}", answer.json);
        assert_eq!(answer.json["status"], "stored", "{sample_file}");
        let sent = requests.take();
        let writes = meter.take();

        assert_eq!(sent, ["PutItem"], "{sample_file}: one request per delivery");
        assert!(
            !sent.iter().any(|op| READS.contains(&op.as_str())),
            "{sample_file}: no reads: {sent:?}"
        );
        assert_eq!(
            writes.iter().map(|w| w.operation).collect::<Vec<_>>(),
            sent,
            "{sample_file}: the meter saw every request"
        );
        assert!(writes.iter().all(|w| w.applied), "{sample_file}: in order");

        // The stored items, read with the plain client (not counted).
        let event_id = answer.json["event_id"].as_str().unwrap().to_owned();
        let event_item = table
            .all_items()
            .await
            .into_iter()
            .find(|i| s(i, "item_type") == "event" && s(i, "event_id") == event_id)
            .expect("the event is stored");

        // What DynamoDB's sizing rules charge for that item.
        let (put_expected, event_bytes) = expected_units(&indexes, None, &event_item);
        let expected = [put_expected];

        let mut units = Units::default();
        for (write, expected) in writes.iter().zip(&expected) {
            let reported = reported(write).unwrap_or_else(|| {
                panic!(
                    "{sample_file}: DynamoDB reported no consumed capacity for an applied {}",
                    write.operation
                )
            });
            assert_eq!(
                &reported, expected,
                "{sample_file}: {} units as reported by DynamoDB and as its sizing rules give",
                write.operation
            );
            units.add(&reported);
        }

        // The contract's figures: a receipt 2 units (item and by-organization entry); a content
        // event its item's units plus its by-organization and by-contact entries.
        let event_type = payload["event_type"].as_str().unwrap_or("");
        let receipt = event_type.starts_with("message_") && event_type != "message_received";
        if receipt {
            assert_eq!(
                units.total, 2.0,
                "{sample_file}: a receipt is 2 write units"
            );
        } else if ["message_received", "sent_message"].contains(&event_type) {
            // One KB of item (its body deflated with the preset dictionary: 952-1,000 B for
            // the samples) and one unit in each index.
            assert_eq!(
                units.total, 3.0,
                "{sample_file}: a content event is 3 write units ({event_bytes} B item)"
            );
        }

        // A redelivery: the put fails its condition, and that is all.
        let again = send(&receiver, request(&event)).await;
        assert_eq!(again.json["status"], "duplicate", "{sample_file}");
        let duplicate_requests = requests.take();
        // A write whose condition failed reports no capacity: DynamoDB charges it by the larger of
        // the existing and the new item (Developer Guide, "DynamoDB read and write operations"),
        // with no index writes. Here both are the stored item.
        let mut duplicate_units = Units::default();
        for write in meter.take() {
            match reported(&write) {
                Some(reported) => duplicate_units.add(&reported),
                None => {
                    duplicate_units.table += units_of(event_bytes);
                    duplicate_units.total += units_of(event_bytes);
                }
            }
        }
        assert_eq!(
            duplicate_requests,
            ["PutItem"],
            "{sample_file}: a duplicate is one failed conditional put"
        );

        rows.push(Row {
            sample: sample_file,
            event_type: payload["event_type"].as_str().unwrap_or("").to_owned(),
            requests: sent,
            units,
            duplicate_requests,
            duplicate_units,
            event_bytes,
        });
    }

    print_table(&rows);
}

fn print_table(rows: &[Row]) {
    println!(
        "capacity|write units: ConsumedCapacity reported by DynamoDB Local (checked against the sizing rules)"
    );
    println!(
        "capacity|| sample | event_type | requests | event item, bytes | WCU table | WCU by-organization | WCU by-contact | WCU total | duplicate: requests | duplicate: WCU |"
    );
    println!("capacity||---|---|---|---:|---:|---:|---:|---:|---|---:|");
    for row in rows {
        println!(
            "capacity|| {} | {} | {} | {} | {} | {} | {} | **{}** | {} | {} |",
            row.sample.trim_end_matches(".json"),
            row.event_type,
            row.requests.join(" + "),
            row.event_bytes,
            row.units.table,
            row.units.index("by-organization"),
            row.units.index("by-contact"),
            row.units.total,
            row.duplicate_requests.join(" + "),
            row.duplicate_units.total,
        );
    }
}

/// Write units of the largest bodies a token holder can send, as docs/security.md#storage-abuse
/// and docs/performance.md#dynamodb-write-units give them: (table, total with index entries).
const LARGEST_ACCEPTED_UNITS: (f64, f64) = (49.0, 50.0);
const LARGEST_REJECTED_UNITS: (f64, f64) = (65.0, 66.0);
const OVER_LIMIT_UNITS: (f64, f64) = (1.0, 2.0);

/// `len` random bytes (a fixed seed): what DEFLATE cannot shrink.
fn noise(len: usize, alphabet: Option<&[u8]>) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(27);
    (0..len)
        .map(|_| match alphabet {
            Some(alphabet) => alphabet[rng.usize(..alphabet.len())],
            None => rng.u8(..),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_bodies_cost_the_documented_write_units() {
    use flowiq_webhooks::records::RejectedItem;
    use flowiq_webhooks::webhook_event::MAX_BODY_BYTES;

    let table = TestTable::new().await;
    let indexes = indexes(&Template::repository().events_table().unwrap());
    let meter = CapacityMeter::default();
    let receiver = receiver(
        DynamoDbEventStore::new(table.metered_client(&meter), &table.name),
        Retention(None),
    );
    let base64_alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // The largest accepted body: an event type stored as received, padded with random base64
    // text (as a media payload would be) to exactly the limit.
    let head = r#"{"event_type":"call","organization_id":"org-cap","x":""#;
    let mut accepted = head.as_bytes().to_vec();
    accepted.extend(noise(
        MAX_BODY_BYTES - head.len() - 2,
        Some(base64_alphabet),
    ));
    accepted.extend(b"\"}");
    // The largest rejected body: random bytes (not JSON, not UTF-8) of exactly the limit.
    let rejected = noise(MAX_BODY_BYTES, None);
    let over_limit = vec![b'x'; MAX_BODY_BYTES + 1];

    let mut figures = Vec::new();
    for (name, body, status, expected) in [
        ("largest accepted", &accepted, 200, LARGEST_ACCEPTED_UNITS),
        (
            "largest rejected (400)",
            &rejected,
            400,
            LARGEST_REJECTED_UNITS,
        ),
        ("over the limit (413)", &over_limit, 413, OVER_LIMIT_UNITS),
    ] {
        assert_eq!(
            body.len(),
            MAX_BODY_BYTES + usize::from(status == 413),
            "{name}"
        );
        let request = raw_request(
            "POST",
            &format!("/webhooks/whatsapp/{DEV_TOKEN}"),
            body,
            false,
            None,
        );
        let answer = send(&receiver, request).await;
        assert_eq!(answer.status, status, "{name}: {}", answer.json);
        let writes = meter.take();
        assert_eq!(writes.len(), 1, "{name}: one write");
        let reported = reported(&writes[0]).expect("an applied write reports its units");

        let kind = if status == 200 { "event" } else { "rejected" };
        let items = table.items_of_type(kind).await;
        let item = items
            .iter()
            .max_by_key(|i| s(i, "received_at").to_owned())
            .expect("the item is stored");
        let (by_rules, item_bytes) = expected_units(&indexes, None, item);
        assert_eq!(
            reported, by_rules,
            "{name}: DynamoDB's units and its sizing rules agree"
        );
        assert_eq!(
            (reported.table, reported.total),
            expected,
            "{name}: {item_bytes} B item; the documented units"
        );
        if status == 400 {
            // Kept compressed (incompressible here, so about its own size) and read back exactly.
            assert!(item.contains_key("body_zd1"), "{name}: deflated");
            let kept: RejectedItem = serde_dynamo::from_item(item.clone()).unwrap();
            assert_eq!(
                kept.raw_body().unwrap().unwrap().as_ref(),
                rejected.as_slice()
            );
        }
        figures.push(format!(
            "capacity|| {name} | {} | {item_bytes} | {} | {} |",
            body.len(),
            reported.table,
            reported.total
        ));
    }
    println!("capacity|| body | body bytes | item bytes | WCU table | WCU total |");
    println!("capacity||---|---:|---:|---:|---:|");
    for line in figures {
        println!("{line}");
    }
}
