//! The DynamoDB adapter of [`EventStore`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};

use super::{EventStore, PutOutcome, StoreError};
use crate::keys;
use crate::records::{EventItem, MessageUpdate, RejectedItem};

/// SDK timeouts and retries, sized so that the three writes of the slowest path (event, message,
/// message again) finish or fail within the function's 15 s timeout, well under API Gateway's 30 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(4);
pub const MAX_ATTEMPTS: u32 = 3;

/// The key of the connection warm-up's write, which never applies (no item has this key).
const WARM_UP_KEY: &str = "WARM_UP";

/// Loads the SDK configuration once (region, credentials, and `AWS_ENDPOINT_URL_DYNAMODB` for
/// DynamoDB Local) with this crate's timeouts and retries.
pub async fn load_client() -> Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await;
    Client::new(&config)
}

pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

#[derive(Debug, Clone)]
pub struct DynamoDbEventStore {
    client: Client,
    table_name: String,
    meter: Option<CapacityMeter>,
}

/// The write capacity DynamoDB reported for each write of a store (`ReturnConsumedCapacity`
/// `INDEXES`: total, table and per index), in order: for tests and measurements
/// (docs/performance.md). Clones share one record.
#[derive(Debug, Clone, Default)]
pub struct CapacityMeter(Arc<Mutex<Vec<ConsumedWrite>>>);

/// One write request that DynamoDB answered (SDK retries are not counted separately).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumedWrite {
    /// `PutItem` or `UpdateItem`.
    pub operation: &'static str,
    /// `false` when the condition failed (a duplicate event, a lower-ranked status).
    pub applied: bool,
    /// As reported; DynamoDB reports none for a write whose condition failed.
    pub capacity: Option<ConsumedCapacity>,
}

impl CapacityMeter {
    /// Everything recorded so far, and a fresh start.
    pub fn take(&self) -> Vec<ConsumedWrite> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn record(&self, write: ConsumedWrite) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(write);
    }
}

impl DynamoDbEventStore {
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        Self {
            client,
            table_name: table_name.into(),
            meter: None,
        }
    }

    /// Records the capacity of every write in `meter`.
    pub fn with_capacity_meter(mut self, meter: CapacityMeter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Logs (debug) and records what DynamoDB reported as consumed by one write.
    fn consumed(&self, operation: &'static str, applied: bool, capacity: Option<ConsumedCapacity>) {
        if let Some(c) = &capacity {
            tracing::debug!(
                operation,
                applied,
                write_units = c.capacity_units(),
                table_units = c.table().and_then(|t| t.capacity_units()),
                index_units = ?c.global_secondary_indexes(),
                "consumed capacity"
            );
        }
        if let Some(meter) = &self.meter {
            meter.record(ConsumedWrite {
                operation,
                applied,
                capacity,
            });
        }
    }

    /// Opens the connection to DynamoDB before the first delivery, so the TCP + TLS handshake and
    /// the credentials do not run inside it (docs/performance.md, "First request after a cold
    /// start"). The request is an `UpdateItem` that never applies: its condition requires an item
    /// that does not exist, so nothing is written (one write unit is charged per cold start).
    /// `UpdateItem` needs no other permission than the function has, and no other operation's
    /// code in the binary (a `DescribeTable` added 165 KB). It also reports a missing table or
    /// permission at start-up.
    pub async fn warm_up(&self) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .key(keys::PK, AttributeValue::S(WARM_UP_KEY.to_owned()))
            .key(keys::SK, AttributeValue::S(WARM_UP_KEY.to_owned()))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(request_error("UpdateItem", err)),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table_name
    }

    async fn send_message_update(
        &self,
        update: &MessageUpdate,
        with_status: bool,
    ) -> Result<bool, StoreError> {
        let mut expression = UpdateExpression::default();
        for (name, value) in &update.identity {
            expression.set(name, AttributeValue::S(value.clone()));
        }
        for (name, value) in &update.content {
            let value = serde_dynamo::to_attribute_value(value).map_err(|source| {
                StoreError::Serialization {
                    what: "message content",
                    source,
                }
            })?;
            expression.set(name, value);
        }
        if let Some(attribute) = update.fact.time_attribute {
            expression.set_once(attribute, AttributeValue::S(update.occurred_at.clone()));
        }
        if let Some(expires_at) = update.expires_at {
            // Sliding: a message is kept for the retention period after its last event.
            expression.set(
                keys::TTL_ATTRIBUTE,
                AttributeValue::N(expires_at.to_string()),
            );
        }
        expression.add_to_set("status_history", update.history_entry());
        let mut condition = None;
        if let (true, Some(status)) = (with_status, update.fact.status) {
            expression.set("status", AttributeValue::S(status.as_str().to_owned()));
            let rank = expression.set("status_rank", AttributeValue::N(status.rank().to_string()));
            // The status only climbs: a lower-ranked event arriving late must not overwrite it.
            condition = Some(format!(
                "attribute_not_exists({0}) OR {0} <= {1}",
                rank.name, rank.value
            ));
        }

        let result = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .key(
                keys::PK,
                AttributeValue::S(keys::message_pk(&update.whatsapp_message_id)),
            )
            .key(keys::SK, AttributeValue::S(keys::MESSAGE_SK.to_owned()))
            .update_expression(expression.render())
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(expression.names))
            .set_expression_attribute_values(Some(expression.values))
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await;
        match result {
            Ok(output) => {
                self.consumed("UpdateItem", true, output.consumed_capacity);
                Ok(true)
            }
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                self.consumed("UpdateItem", false, None);
                Ok(false)
            }
            Err(err) => Err(request_error("UpdateItem", err)),
        }
    }
}

impl EventStore for DynamoDbEventStore {
    async fn put_event(&self, item: EventItem) -> Result<PutOutcome, StoreError> {
        let item = event_attributes(item);
        let result = self
            .client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await;
        match result {
            Ok(output) => {
                self.consumed("PutItem", true, output.consumed_capacity);
                Ok(PutOutcome::Stored)
            }
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                self.consumed("PutItem", false, None);
                Ok(PutOutcome::Duplicate)
            }
            Err(err) => Err(request_error("PutItem", err)),
        }
    }

    async fn update_message(&self, update: &MessageUpdate) -> Result<(), StoreError> {
        let applied = self.send_message_update(update, true).await?;
        if !applied {
            // The message already has a further status: merge everything else, unconditionally.
            self.send_message_update(update, false).await?;
        }
        Ok(())
    }

    async fn put_rejected(&self, item: &RejectedItem) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(item).map_err(|source| StoreError::Serialization {
            what: "rejected delivery",
            source,
        })?;
        let output = self
            .client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await
            .map_err(|err| request_error("PutItem", err))?;
        self.consumed("PutItem", true, output.consumed_capacity);
        Ok(())
    }
}

/// The attributes of an event item, as `serde_dynamo::to_item` maps them (a test checks that it
/// does), built straight into the SDK's map with the item's strings moved in: one map and no
/// copies instead of two maps and two copies of each value, on the path every delivery takes.
pub fn event_attributes(item: EventItem) -> HashMap<String, AttributeValue> {
    // Destructured so that a new field does not compile until it is mapped here.
    let EventItem {
        pk,
        sk,
        item_type,
        event_id,
        event_type,
        platform,
        organization_id,
        whatsapp_message_id,
        whatsapp_id,
        contact_id,
        occurred_at,
        received_at,
        body,
        expires_at,
        contact_pk,
        contact_sk,
        org_pk,
        org_sk,
    } = item;
    let mut attributes = HashMap::with_capacity(20);
    let text = AttributeValue::S;
    for (name, value) in [
        (keys::PK, text(pk)),
        (keys::SK, text(sk)),
        ("item_type", text(item_type.as_str().to_owned())),
        ("event_id", text(event_id)),
        ("event_type", text(event_type)),
        ("platform", text(platform.as_str().to_owned())),
        ("received_at", text(received_at)),
        ("body", text(body)),
    ] {
        attributes.insert(name.to_owned(), value);
    }
    for (name, value) in [
        ("organization_id", organization_id),
        ("whatsapp_message_id", whatsapp_message_id),
        ("whatsapp_id", whatsapp_id),
        ("contact_id", contact_id),
        ("occurred_at", occurred_at),
        (keys::CONTACT_PK, contact_pk),
        (keys::CONTACT_SK, contact_sk),
        (keys::ORG_PK, org_pk),
        (keys::ORG_SK, org_sk),
    ] {
        if let Some(value) = value {
            attributes.insert(name.to_owned(), text(value));
        }
    }
    if let Some(expires_at) = expires_at {
        attributes.insert(
            keys::TTL_ATTRIBUTE.to_owned(),
            AttributeValue::N(expires_at.to_string()),
        );
    }
    attributes
}

pub(super) fn request_error<E>(
    operation: &'static str,
    err: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Request {
        operation,
        message: DisplayErrorContext(&err).to_string(),
        source: Box::new(err),
    }
}

/// Placeholders for one attribute in an expression.
struct Placeholder {
    name: String,
    value: String,
}

/// Builds `SET ... ADD ...` with placeholders for every name (many are reserved words).
#[derive(Default)]
struct UpdateExpression {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    set: Vec<String>,
    add: Vec<String>,
}

impl UpdateExpression {
    fn placeholder(&mut self, name: &str, value: AttributeValue) -> Placeholder {
        let index = self.values.len();
        let placeholder = Placeholder {
            name: format!("#a{index}"),
            value: format!(":v{index}"),
        };
        self.names.insert(placeholder.name.clone(), name.to_owned());
        self.values.insert(placeholder.value.clone(), value);
        placeholder
    }

    fn set(&mut self, name: &str, value: AttributeValue) -> Placeholder {
        let p = self.placeholder(name, value);
        self.set.push(format!("{} = {}", p.name, p.value));
        p
    }

    /// Keeps the first value written (per-status times).
    fn set_once(&mut self, name: &str, value: AttributeValue) {
        let p = self.placeholder(name, value);
        self.set
            .push(format!("{0} = if_not_exists({0}, {1})", p.name, p.value));
    }

    fn add_to_set(&mut self, name: &str, member: String) {
        let p = self.placeholder(name, AttributeValue::Ss(vec![member]));
        self.add.push(format!("{} {}", p.name, p.value));
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if !self.set.is_empty() {
            out.push_str("SET ");
            out.push_str(&self.set.join(", "));
        }
        if !self.add.is_empty() {
            out.push_str(" ADD ");
            out.push_str(&self.add.join(", "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;
    use crate::records::ItemType;

    fn serde_dynamo_item(item: &EventItem) -> HashMap<String, AttributeValue> {
        serde_dynamo::to_item(item).unwrap()
    }

    #[test]
    fn event_attributes_are_what_serde_dynamo_maps() {
        let full = EventItem {
            pk: "MSG#w".into(),
            sk: "EVENT#t#e".into(),
            item_type: ItemType::Event,
            event_id: "e".into(),
            event_type: "message_read".into(),
            platform: Platform::Web,
            organization_id: Some("o".into()),
            whatsapp_message_id: Some("w".into()),
            whatsapp_id: Some("27".into()),
            contact_id: Some("c".into()),
            occurred_at: Some("t".into()),
            received_at: "r".into(),
            body: "{\"event_type\":\"message_read\"}".into(),
            expires_at: Some(1_800_000_000),
            contact_pk: Some("CONTACT#o#wa:27".into()),
            contact_sk: Some("t#e".into()),
            org_pk: Some("ORG#o#07".into()),
            org_sk: Some("t#e".into()),
        };
        let sparse = EventItem {
            platform: Platform::Whatsapp,
            organization_id: None,
            whatsapp_message_id: None,
            whatsapp_id: None,
            contact_id: None,
            occurred_at: None,
            expires_at: None,
            contact_pk: None,
            contact_sk: None,
            org_pk: None,
            org_sk: None,
            ..full.clone()
        };
        assert_eq!(event_attributes(full.clone()).len(), 18);
        for item in [full, sparse] {
            assert_eq!(serde_dynamo_item(&item), event_attributes(item));
        }
    }
}
