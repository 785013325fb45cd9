//! A fresh events table per test on DynamoDB Local (created from template.yaml), with clients
//! configured like the function's, and the receiver wired to it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_webhooks::delivery::{Delivery, Receiver, Reply};
use flowiq_webhooks::keys;
use flowiq_webhooks::message_view;
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::records::{EventItem, Retention};
use flowiq_webhooks::store::dynamodb::{DynamoDbEventStore, retry_config, timeout_config};
use flowiq_webhooks::webhook_tokens::WebhookTokens;

use crate::capacity_meter::CapacityMeter;
use crate::{dynamodb_local, events_table};

/// The development token in events/ (public, for local use only).
pub const DEV_TOKEN: &str = "local-dev-token-not-a-secret-0123456789";
/// A second valid token, as during a rotation.
pub const OTHER_TOKEN: &str = "rotation-token-also-not-secret-98765432";

pub type Item = HashMap<String, AttributeValue>;

/// The AWS configuration of a test's clients of any service at `endpoint` (DynamoDB Local, moto,
/// a mock): region us-east-1 and the test credentials `local`, which DynamoDB Local's tables and
/// moto accept; build a client with `<service>::Client::new(&sdk_config(endpoint))`.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "local", "local", None, None, "tests",
        )))
        .endpoint_url(endpoint)
        .build()
}

/// A client for an endpoint, configured like the function's (retries, timeouts): for tests of
/// storage failures.
pub fn client_for(endpoint: &str) -> Client {
    client_with_timeouts(endpoint, timeout_config())
}

/// A client for the test tables: the function's retries, but timeouts generous enough that a
/// busy CI machine does not turn a slow DynamoDB Local answer into a 503.
pub fn test_client(endpoint: &str) -> Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build();
    client_with_timeouts(endpoint, timeouts)
}

fn client_with_timeouts(endpoint: &str, timeouts: TimeoutConfig) -> Client {
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
        events_table::create(&client, &name).await.unwrap();
        TestTable { client, name }
    }

    /// The same client, with every write's consumed capacity recorded in `meter`.
    pub fn metered_client(&self, meter: &CapacityMeter) -> Client {
        Client::from_conf(
            self.client
                .config()
                .to_builder()
                .interceptor(meter.clone())
                .build(),
        )
    }

    pub fn store(&self) -> DynamoDbEventStore {
        DynamoDbEventStore::new(self.client.clone(), &self.name)
    }

    pub fn receiver(&self, retention: Retention) -> Receiver<DynamoDbEventStore> {
        receiver(self.store(), retention)
    }

    /// `body` delivered to the WhatsApp route with the development token, as the function would.
    pub async fn deliver(&self, body: &[u8]) -> Reply {
        let delivery = Delivery {
            platform: Platform::Whatsapp,
            token: DEV_TOKEN,
            body,
            request_id: "test",
        };
        self.receiver(Retention(None)).receive(delivery).await
    }

    /// As [`TestTable::deliver`], for a body that must be accepted.
    pub async fn store_delivery(&self, body: &str) {
        let reply = self.deliver(body.as_bytes()).await;
        assert!(matches!(reply, Reply::Accepted { .. }), "{reply:?}");
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

    /// The message's state as readers derive it from its events (storage contract v2), in the
    /// attributes of the `message` item.
    pub async fn message(&self, wamid: &str) -> Option<Item> {
        let items = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::message_pk(wamid)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap();
        derived_message(&items)
    }

    /// The `message` item the optional stored projection keeps.
    pub async fn stored_message(&self, wamid: &str) -> Option<Item> {
        self.get(&keys::message_pk(wamid), keys::MESSAGE_SK).await
    }

    /// The derived state of every message with events in the table.
    pub async fn messages(&self) -> Vec<Item> {
        let events = self.items_of_type("event").await;
        let mut by_message: std::collections::BTreeMap<String, Vec<Item>> = Default::default();
        for event in events {
            let wamid = s(&event, "whatsapp_message_id").to_owned();
            if !wamid.is_empty() {
                by_message.entry(wamid).or_default().push(event);
            }
        }
        by_message
            .values()
            .filter_map(|items| derived_message(items))
            .collect()
    }

    /// Every item (tests only: the service's access patterns never scan).
    pub async fn all_items(&self) -> Vec<Item> {
        self.client
            .scan()
            .table_name(&self.name)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap()
    }

    pub async fn items_of_type(&self, item_type: &str) -> Vec<Item> {
        self.all_items()
            .await
            .into_iter()
            .filter(|i| s(i, "item_type") == item_type)
            .collect()
    }
}

/// The derived message of a partition's items (other item types are skipped).
fn derived_message(items: &[Item]) -> Option<Item> {
    let events: Vec<EventItem> = items
        .iter()
        .filter(|i| s(i, "item_type") == "event")
        .map(|i| serde_dynamo::from_item(i.clone()).expect("a stored event item"))
        .collect();
    let view = message_view::derive(&events).expect("stored bodies parse")?;
    Some(serde_dynamo::to_item(view).expect("a view serialises"))
}

/// The receiver with the development tokens (both, as during a rotation) and contact key.
pub fn receiver<S>(store: S, retention: Retention) -> Receiver<S>
where
    S: flowiq_webhooks::store::EventStore,
{
    let tokens = WebhookTokens::parse(&format!("{DEV_TOKEN},{OTHER_TOKEN}")).unwrap();
    Receiver::new(
        store,
        tokens,
        retention,
        flowiq_webhooks::contact_key::ContactKey::local_dev(),
    )
}

/// A string attribute, or "" when absent.
pub fn s<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or("")
}

/// An event item's raw body, from `body`, `body_zd1` or `body_deflate` (see
/// `flowiq_webhooks::stored_body`).
pub fn stored_body(item: &Item) -> String {
    let binary = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_b().ok())
            .map(|b| b.as_ref())
    };
    let text = item.get("body").and_then(|v| v.as_s().ok());
    flowiq_webhooks::stored_body::Held::of(
        text.map(String::as_str),
        binary("body_zd1"),
        binary("body_deflate"),
    )
    .and_then(|held| held.read())
    .expect("an event item holds its body")
    .into_owned()
}
