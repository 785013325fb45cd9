//! The DynamoDB adapter of [`EventStore`] and [`MessageStore`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::{EventStore, MessageStore, PutOutcome, StoreError};
use crate::keys;
use crate::message_item::MessageUpdate;
use crate::records::{EventItem, ItemType, RejectedItem};

/// SDK timeouts and retries. The writes of one delivery are bounded as a whole by
/// [`crate::acceptance::STORE_BUDGET`] (2.5 s), after which the delivery is spilled; these keep a
/// hanging connection or a throttled table from using the whole budget on one attempt
/// (docs/reliability.md#time-budget).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1_000);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1_000);
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(2_500);
pub const MAX_ATTEMPTS: u32 = 3;
/// The first retry's backoff (then doubled, with jitter): a throttled write is retried soon,
/// and a table that keeps failing leaves time for the spill.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(50);

/// The key of the connection warm-up's write, which never applies (no item has this key).
const WARM_UP_KEY: &str = "WARM_UP";

/// Loads the SDK configuration once (region, credentials, and `AWS_ENDPOINT_URL_DYNAMODB` for
/// DynamoDB Local) with this crate's timeouts and retries.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
}

/// A DynamoDB client from [`load_sdk_config`].
pub async fn load_client() -> Client {
    Client::new(&load_sdk_config().await)
}

pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
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
}

impl DynamoDbEventStore {
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        Self {
            client,
            table_name: table_name.into(),
        }
    }

    /// Opens the connection to DynamoDB before the first delivery, so the TCP + TLS handshake and
    /// the credentials do not run inside it (docs/performance.md, "First request after a cold
    /// start"). The request is a `PutItem` that never applies: its condition requires an item
    /// that does not exist, so nothing is written (one write unit is charged per cold start).
    /// `PutItem` is the one permission the function has, and its code is in the binary anyway.
    /// It also reports a missing table or permission at start-up.
    pub async fn warm_up(&self) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table_name)
            .item(keys::PK, AttributeValue::S(WARM_UP_KEY.to_owned()))
            .item(keys::SK, AttributeValue::S(WARM_UP_KEY.to_owned()))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_conditional_check_failed(&err) => Ok(()),
            Err(err) => Err(request_error("PutItem", err)),
        }
    }

    async fn send_message_update(
        &self,
        update: &MessageUpdate,
        with_status: bool,
    ) -> Result<bool, StoreError> {
        let (expression, condition) = message_update_expression(update, with_status)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .key(
                keys::PK,
                AttributeValue::S(keys::message_pk(&update.identity.whatsapp_message_id)),
            )
            .key(keys::SK, AttributeValue::S(keys::MESSAGE_SK.to_owned()))
            .update_expression(expression.render())
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(expression.names))
            .set_expression_attribute_values(Some(expression.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_check_failed(&err) => Ok(false),
            Err(err) => Err(request_error("UpdateItem", err)),
        }
    }
}

/// The `UpdateItem` of one event's merge (docs/data-model.md), and its condition when it sets the
/// status: identity and content as plain sets, the status time once, the history as a set union.
fn message_update_expression(
    update: &MessageUpdate,
    with_status: bool,
) -> Result<(UpdateExpression, Option<String>), StoreError> {
    let mut expression = UpdateExpression::default();
    let item_type = ItemType::Message.as_str().to_owned();
    expression.set("item_type", AttributeValue::S(item_type));
    for (name, value) in attributes(&update.identity, "message identity")? {
        expression.set(&name, value);
    }
    for (name, value) in attributes(&update.content, "message content")? {
        expression.set(&name, value);
    }
    if let Some(time) = update.fact.time {
        let at = AttributeValue::S(update.occurred_at.clone());
        expression.set_once(time.attribute(), at);
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
    Ok((expression, condition))
}

/// A value's attributes by name, in name order (so the expression reads the same every time).
fn attributes(
    value: &impl serde::Serialize,
    what: &'static str,
) -> Result<BTreeMap<String, AttributeValue>, StoreError> {
    let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(value)
        .map_err(|source| StoreError::Serialization { what, source })?;
    Ok(item.into_iter().collect())
}

impl EventStore for DynamoDbEventStore {
    async fn put_event(&self, item: EventItem) -> Result<PutOutcome, StoreError> {
        let item = serde_dynamo::to_item(item).map_err(|source| StoreError::Serialization {
            what: "event",
            source,
        })?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Stored),
            Err(err) if is_conditional_check_failed(&err) => Ok(PutOutcome::Duplicate),
            Err(err) => Err(request_error("PutItem", err)),
        }
    }

    async fn put_rejected(&self, item: &RejectedItem) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(item).map_err(|source| StoreError::Serialization {
            what: "rejected delivery",
            source,
        })?;
        self.client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|err| request_error("PutItem", err))?;
        Ok(())
    }
}

impl MessageStore for DynamoDbEventStore {
    async fn update_message(&self, update: &MessageUpdate) -> Result<(), StoreError> {
        let applied = self.send_message_update(update, true).await?;
        if !applied {
            // The message already has a further status: merge everything else, unconditionally.
            self.send_message_update(update, false).await?;
        }
        Ok(())
    }
}

/// A write whose condition did not hold: what dedup and the status rank rely on.
fn is_conditional_check_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

fn request_error<E>(
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
