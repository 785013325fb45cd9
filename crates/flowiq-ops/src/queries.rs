//! The read side of the data model: one function per documented access pattern, each a Query or
//! a GetItem, all pages through the SDK's paginators. Results are raw items; docs/data-model.md
//! lists their attributes. One exception: [`EventQueries::rejected_deliveries`] is a Scan, because
//! no index serves `rejected` items across bodies (docs/operations.md#rejected explains the cost
//! and the sparse index that would replace it).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_webhooks::keys;
use flowiq_webhooks::records::ItemType;
use futures_util::StreamExt as _;
use futures_util::future::try_join_all;
use futures_util::stream;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
#[error("DynamoDB {operation} on table {table} failed: {message}")]
pub struct QueryError {
    pub operation: &'static str,
    pub table: String,
    /// The SDK error with its context (`DisplayErrorContext`).
    pub message: String,
}

/// The events table, read by access pattern.
#[derive(Debug, Clone)]
pub struct EventQueries {
    client: Client,
    table_name: String,
}

impl EventQueries {
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        Self {
            client,
            table_name: table_name.into(),
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table_name
    }

    /// A message's events, oldest first (undated ones last).
    pub async fn message_events(&self, whatsapp_message_id: &str) -> Result<Vec<Item>, QueryError> {
        let query = self
            .client
            .query()
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", s(keys::message_pk(whatsapp_message_id)))
            .expression_attribute_values(":prefix", s("EVENT#"));
        self.all_pages(query).await
    }

    /// A message's merged state (`item_type` `message`).
    pub async fn message_state(
        &self,
        whatsapp_message_id: &str,
    ) -> Result<Option<Item>, QueryError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .key(keys::PK, s(keys::message_pk(whatsapp_message_id)))
            .key(keys::SK, s(keys::MESSAGE_SK))
            .send()
            .await
            .map_err(|err| self.error("GetItem", err))?;
        Ok(output.item)
    }

    /// A contact's conversation (every event with this contact), oldest first, from the
    /// `by-contact` index (projected attributes only; get the full item by `pk`/`sk`).
    pub async fn conversation(
        &self,
        organization_id: &str,
        whatsapp_id: &str,
    ) -> Result<Vec<Item>, QueryError> {
        let contact = Contact::WhatsappId(whatsapp_id.to_owned());
        self.all_pages(self.conversation_query(organization_id, &contact))
            .await
    }

    /// The whole conversation with a contact (a WhatsApp number or, for web chat, FlowIQ's
    /// contact id), oldest first: `by-contact` index entries.
    pub async fn conversation_of(
        &self,
        organization_id: &str,
        contact: &Contact,
    ) -> Result<Vec<Item>, QueryError> {
        self.all_pages(self.conversation_query(organization_id, contact))
            .await
    }

    /// One page of a contact's conversation, newest first: at most `limit` `by-contact` index
    /// entries after `start` (the previous page's [`Page::next`]).
    pub async fn conversation_page(
        &self,
        organization_id: &str,
        contact: &Contact,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page, QueryError> {
        let output = self
            .conversation_query(organization_id, contact)
            .table_name(&self.table_name)
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| self.error("Query", err))?;
        Ok(Page {
            items: output.items.unwrap_or_default(),
            next: output.last_evaluated_key.filter(|key| !key.is_empty()),
        })
    }

    fn conversation_query(&self, organization_id: &str, contact: &Contact) -> QueryFluentBuilder {
        let pk = match contact {
            Contact::WhatsappId(number) => keys::contact_pk(organization_id, Some(number), None),
            Contact::ContactId(id) => keys::contact_pk(organization_id, None, Some(id)),
        }
        .expect("a contact");
        self.client
            .query()
            .index_name(keys::BY_CONTACT_INDEX)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::CONTACT_PK)
            .expression_attribute_values(":pk", s(pk))
    }

    /// An organization's events with `from <= time < to` (sortable UTC strings, see
    /// [`flowiq_webhooks::clock`]), oldest first: one query per shard of the `by-organization`
    /// index, run concurrently and merged.
    pub async fn organization_events(
        &self,
        organization_id: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Item>, QueryError> {
        self.organization_events_of_types(organization_id, from, to, &[])
            .await
    }

    /// As [`Self::organization_events`], only events whose `event_type` is one of `types` (all
    /// when empty). The type is a filter on each shard's query: filtered-out entries are still
    /// read (and paid for).
    pub async fn organization_events_of_types(
        &self,
        organization_id: &str,
        from: &str,
        to: &str,
        types: &[String],
    ) -> Result<Vec<Item>, QueryError> {
        let shards = keys::organization_pks(organization_id).map(|pk| {
            // Sort keys are `<time>#<event id>`: none equals `to`, and those at `to` sort after
            // it, so BETWEEN is `from <= time < to`.
            let mut query = self
                .client
                .query()
                .index_name(keys::BY_ORGANIZATION_INDEX)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", keys::ORG_PK)
                .expression_attribute_names("#sk", keys::ORG_SK)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to));
            if !types.is_empty() {
                let placeholders: Vec<String> =
                    (0..types.len()).map(|n| format!(":type{n}")).collect();
                query = query
                    .filter_expression(format!("#type IN ({})", placeholders.join(", ")))
                    .expression_attribute_names("#type", "event_type");
                for (placeholder, event_type) in placeholders.iter().zip(types) {
                    query = query.expression_attribute_values(placeholder, s(event_type));
                }
            }
            self.all_pages(query)
        });
        let mut items: Vec<Item> = try_join_all(shards).await?.into_iter().flatten().collect();
        items.sort_by(|a, b| text(a, keys::ORG_SK).cmp(text(b, keys::ORG_SK)));
        Ok(items)
    }

    /// Any item by its key (e.g. the full item, with `body`, of an index entry).
    pub async fn item(&self, pk: &str, sk: &str) -> Result<Option<Item>, QueryError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .send()
            .await
            .map_err(|err| self.error("GetItem", err))?;
        Ok(output.item)
    }

    /// The full items of index entries, in the entries' order; entries whose item is gone
    /// (expired since) are left out. At most `concurrency` GetItems at a time.
    pub async fn full_items(
        &self,
        entries: &[Item],
        concurrency: usize,
    ) -> Result<Vec<Item>, QueryError> {
        let found: Vec<Option<Item>> = stream::iter(entries)
            .map(|entry| self.item(text(entry, keys::PK), text(entry, keys::SK)))
            .buffered(concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Rejected deliveries received at or after `since` (all when `None`), oldest first.
    ///
    /// A **Scan** (with a filter on `item_type = rejected`): `rejected` items are keyed by body
    /// hash and no index lists them, so this reads — and is billed for — the whole table, one
    /// read unit per 4 KB (eventually consistent: half), whatever the filter keeps. With
    /// `with_body` false the bodies are not returned (the read cost is the same).
    pub async fn rejected_deliveries(
        &self,
        since: Option<&str>,
        with_body: bool,
    ) -> Result<Vec<Item>, QueryError> {
        let mut scan = self
            .client
            .scan()
            .table_name(&self.table_name)
            .expression_attribute_names("#type", "item_type")
            .expression_attribute_values(":rejected", s(ItemType::Rejected.as_str()));
        scan = match since {
            Some(since) => scan
                .filter_expression("#type = :rejected AND #received >= :since")
                .expression_attribute_names("#received", "received_at")
                .expression_attribute_values(":since", s(since)),
            None => scan.filter_expression("#type = :rejected"),
        };
        if !with_body {
            let names = [
                "pk",
                "sk",
                "platform",
                "reason",
                "status_code",
                "received_at",
                "request_id",
                "body_size",
                "body_sha256",
                "reprocessed_at",
                "reprocess_outcome",
                "event_id",
            ];
            let projection: Vec<String> = names.iter().map(|n| format!("#p_{n}")).collect();
            scan = scan.projection_expression(projection.join(", "));
            for name in names {
                scan = scan.expression_attribute_names(format!("#p_{name}"), name);
            }
        }
        let mut items: Vec<Item> = scan
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|err| self.error("Scan", err))?;
        items.sort_by(|a, b| {
            (text(a, "received_at"), text(a, keys::SK))
                .cmp(&(text(b, "received_at"), text(b, keys::SK)))
        });
        Ok(items)
    }

    async fn all_pages(&self, query: QueryFluentBuilder) -> Result<Vec<Item>, QueryError> {
        query
            .table_name(&self.table_name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|err| self.error("Query", err))
    }

    fn error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> QueryError
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        QueryError {
            operation,
            table: self.table_name.clone(),
            message: DisplayErrorContext(&err).to_string(),
        }
    }
}

/// Whom a conversation is with: the `by-contact` key is the WhatsApp number, or FlowIQ's contact
/// id for contacts without one (web chat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    WhatsappId(String),
    ContactId(String),
}

/// One page of a paginated query.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// The key to continue after (DynamoDB's `LastEvaluatedKey`); `None` on the last page.
    pub next: Option<Item>,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A string attribute, or "" when absent.
pub fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}
