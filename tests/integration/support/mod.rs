//! Shared set-up: DynamoDB Local, a fresh table per test (created from template.yaml), the real
//! handler, and requests built from the sample events in events/.

pub mod scenario;

pub use flowiq_harness::capacity_meter::CapacityMeter;
pub use flowiq_harness::dynamodb_local;
pub use flowiq_harness::samples::{delivery_sample_files, sample};
pub use flowiq_harness::test_table::{
    DEV_TOKEN, Item, OTHER_TOKEN, TestTable, client_for, receiver, s, stored_body,
};
use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::http_handler;
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

/// The sample's body (the FlowIQ payload), parsed.
pub fn sample_payload(file: &str) -> Value {
    serde_json::from_str(&sample_body(&sample(file))).unwrap()
}

/// The FlowIQ payload a sample carries, as the function receives it (base64 decoded).
pub fn sample_body(event: &Value) -> String {
    String::from_utf8(request(event).body().to_vec()).expect("sample bodies are UTF-8")
}

/// The platform a sample is posted to: the path segment after `webhooks` (function URLs have
/// no path parameters).
pub fn sample_platform(event: &Value) -> String {
    let path = event.get("rawPath").or_else(|| event.get("path"));
    let path = path.and_then(Value::as_str).expect("a sample has a path");
    let mut segments = path.split('/').skip_while(|s| *s != "webhooks");
    segments.nth(1).expect("a webhook path").to_owned()
}

/// The request the function's handler gets for `event` (lambda_http's conversion, as the
/// function runs it).
pub fn request(event: &Value) -> Request {
    flowiq_webhooks::http_event::request_from_json(&event.to_string())
        .expect("a valid API Gateway event")
}

/// A sample event for any path, as a function URL passes it: the path alone says where it goes
/// (no path parameters, which API Gateway only sets when its route matches).
fn path_request(path: &str) -> Value {
    let mut event = sample("whatsapp-message-received.json");
    event.as_object_mut().unwrap().remove("pathParameters");
    event["rawPath"] = path.into();
    event
}

/// An HTTP API (v2) request for any path and body, built on a sample event.
pub fn v2_request(method: &str, path: &str, body: Option<&str>) -> Request {
    let mut event = path_request(path);
    event["requestContext"]["http"]["path"] = path.into();
    event["requestContext"]["http"]["method"] = method.into();
    event["body"] = body.map_or(Value::Null, Value::from);
    event["headers"]
        .as_object_mut()
        .unwrap()
        .remove("content-length");
    request(&event)
}

/// Any request as API Gateway (HTTP API) would deliver it: the body base64-encoded when it is not
/// UTF-8 or when `base64` is set; `content_type` replaces the sample's (None: no header).
pub fn raw_request(
    method: &str,
    path: &str,
    body: &[u8],
    base64: bool,
    content_type: Option<&str>,
) -> Request {
    let mut event = path_request(path);
    event["requestContext"]["http"]["path"] = path.into();
    event["requestContext"]["http"]["method"] = method.into();
    let headers = event["headers"].as_object_mut().unwrap();
    headers.remove("content-length");
    headers.remove("content-type");
    if let Some(content_type) = content_type {
        headers.insert("content-type".into(), content_type.into());
    }
    match std::str::from_utf8(body) {
        Ok(text) if !base64 => {
            event["body"] = text.into();
            event["isBase64Encoded"] = false.into();
        }
        _ => {
            event["body"] = base64_encode(body).into();
            event["isBase64Encoded"] = true.into();
        }
    }
    request(&event)
}

/// A tiny base64 encoder, so the tests do not depend on the crate lambda_http decodes with.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A POST of `payload` to `/webhooks/{platform}/{token}`.
pub fn delivery(platform: &str, token: &str, payload: &str) -> Request {
    v2_request(
        "POST",
        &format!("/webhooks/{platform}/{token}"),
        Some(payload),
    )
}

pub struct Answer {
    pub status: u16,
    pub json: Value,
    pub response: Response<Body>,
}

pub async fn send(receiver: &Receiver<DynamoDbEventStore>, request: Request) -> Answer {
    let response = http_handler::handle(receiver, request).await;
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json");
    let json = serde_json::from_slice(response.body().as_ref()).expect("every response is JSON");
    Answer {
        status,
        json,
        response,
    }
}

/// Every record of the table's stream, as the JSON Lambda delivers to a stream consumer.
pub async fn read_stream_as_lambda_event(table: &TestTable) -> Value {
    let description = table
        .client
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
        .unwrap();
    let stream_arn = description
        .table
        .unwrap()
        .latest_stream_arn
        .expect("the table has a stream");
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .endpoint_url(dynamodb_local::endpoint())
        .build();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(config);
    let stream = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .unwrap();
    let mut records = Vec::new();
    for shard in stream
        .stream_description
        .unwrap()
        .shards
        .unwrap_or_default()
    {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&stream_arn)
            .shard_id(shard.shard_id.unwrap())
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(current) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .unwrap();
            let batch = page.records.unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            for record in batch {
                let change = record.dynamodb.unwrap();
                let image = |image: Option<std::collections::HashMap<_, _>>| {
                    image.map(|i| serde_json::to_value(serde_dynamo::Item::from(i)).unwrap())
                };
                records.push(json!({
                    "eventID": record.event_id,
                    "eventName": record.event_name.unwrap().as_str(),
                    "eventVersion": record.event_version,
                    "eventSource": record.event_source,
                    "awsRegion": record.aws_region,
                    "eventSourceARN": stream_arn,
                    "dynamodb": {
                        "ApproximateCreationDateTime": change.approximate_creation_date_time.map(|t| t.secs()),
                        "Keys": image(change.keys),
                        "NewImage": image(change.new_image),
                        "OldImage": image(change.old_image),
                        "SequenceNumber": change.sequence_number,
                        "SizeBytes": change.size_bytes,
                        "StreamViewType": change.stream_view_type.map(|v| v.as_str().to_owned()),
                    }
                }));
            }
            iterator = page.next_shard_iterator;
        }
    }
    json!({ "Records": records })
}
