//! Shared set-up: DynamoDB Local, a fresh table per test (created from template.yaml), the real
//! handler, and requests built from the sample events in events/.

pub mod dynamodb_local;
pub mod scenario;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::http_handler;
use flowiq_webhooks::keys;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::store::dynamodb::{DynamoDbEventStore, retry_config, timeout_config};
use flowiq_webhooks::table_definition::TableDefinition;
use flowiq_webhooks::webhook_tokens::WebhookTokens;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

/// The development token in events/ (public, for local use only).
pub const DEV_TOKEN: &str = "local-dev-token-not-a-secret-0123456789";
/// A second valid token, as during a rotation.
pub const OTHER_TOKEN: &str = "rotation-token-also-not-secret-98765432";

pub type Item = HashMap<String, AttributeValue>;

/// A client for an endpoint, configured like the function's (retries, timeouts): for tests of
/// storage failures.
pub fn client_for(endpoint: &str) -> Client {
    client_with_timeouts(endpoint, timeout_config())
}

/// A client for the test tables: the function's retries, but timeouts generous enough that a
/// busy CI machine does not turn a slow DynamoDB Local answer into a 503.
fn test_client(endpoint: &str) -> Client {
    let timeouts = aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .operation_attempt_timeout(std::time::Duration::from_secs(20))
        .operation_timeout(std::time::Duration::from_secs(60))
        .build();
    client_with_timeouts(endpoint, timeouts)
}

fn client_with_timeouts(
    endpoint: &str,
    timeouts: aws_sdk_dynamodb::config::timeout::TimeoutConfig,
) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .endpoint_url(endpoint)
        .retry_config(retry_config())
        .timeout_config(timeouts)
        .build();
    Client::from_conf(config)
}

pub struct TestTable {
    pub client: Client,
    pub name: String,
}

impl TestTable {
    /// A new, empty table on the shared DynamoDB Local, defined by template.yaml.
    pub async fn new() -> Self {
        Self::on(dynamodb_local::endpoint()).await
    }

    /// A new, empty table on the DynamoDB Local at `endpoint`.
    pub async fn on(endpoint: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let client = test_client(endpoint);
        let name = format!(
            "flowiq-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // Names are unique; `Ok(false)` (already exists) only when an SDK retry of the create
        // found the table its own first attempt made.
        TableDefinition::from_repository_template()
            .unwrap()
            .create(&client, &name)
            .await
            .unwrap();
        TestTable { client, name }
    }

    pub fn receiver(&self, retention: Retention) -> Receiver<DynamoDbEventStore> {
        let tokens = WebhookTokens::parse(&format!("{DEV_TOKEN},{OTHER_TOKEN}")).unwrap();
        Receiver::new(
            DynamoDbEventStore::new(self.client.clone(), &self.name),
            tokens,
            retention,
        )
    }

    pub async fn get(&self, pk: &str, sk: &str) -> Option<Item> {
        self.client
            .get_item()
            .table_name(&self.name)
            .key(keys::PK, AttributeValue::S(pk.into()))
            .key(keys::SK, AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    pub async fn message(&self, wamid: &str) -> Option<Item> {
        self.get(&keys::message_pk(wamid), keys::MESSAGE_SK).await
    }

    /// Every item (tests only: the service's access patterns never scan).
    pub async fn all_items(&self) -> Vec<Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.name)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    pub async fn items_of_type(&self, item_type: &str) -> Vec<Item> {
        self.all_items()
            .await
            .into_iter()
            .filter(|i| s(i, "item_type") == item_type)
            .collect()
    }
}

/// A string attribute, or "" when absent.
pub fn s<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or("")
}

/// A sample event from events/, as JSON.
pub fn sample(file: &str) -> Value {
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

/// The sample's body (the FlowIQ payload), parsed.
pub fn sample_payload(file: &str) -> Value {
    serde_json::from_str(sample(file)["body"].as_str().unwrap()).unwrap()
}

pub fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event")
}

/// An HTTP API (v2) request for any path and body, built on a sample event.
pub fn v2_request(method: &str, path: &str, body: Option<&str>) -> Request {
    let mut event = sample("whatsapp-message-received.json");
    event["rawPath"] = path.into();
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
    let mut event = sample("whatsapp-message-received.json");
    event["rawPath"] = path.into();
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
