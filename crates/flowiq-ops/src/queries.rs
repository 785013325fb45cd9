//! The read side of the data model: one function per documented access pattern, each a Query or
//! a GetItem (never a Scan), all pages through the SDK's paginators. Results are raw items;
//! docs/data-model.md lists their attributes.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_webhooks::keys;
use futures_util::future::try_join_all;

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
        let pk = keys::contact_pk(organization_id, Some(whatsapp_id), None).expect("a contact");
        let query = self
            .client
            .query()
            .index_name(keys::BY_CONTACT_INDEX)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::CONTACT_PK)
            .expression_attribute_values(":pk", s(pk));
        self.all_pages(query).await
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
        let shards = keys::organization_pks(organization_id).map(|pk| {
            // Sort keys are `<time>#<event id>`: none equals `to`, and those at `to` sort after
            // it, so BETWEEN is `from <= time < to`.
            let query = self
                .client
                .query()
                .index_name(keys::BY_ORGANIZATION_INDEX)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", keys::ORG_PK)
                .expression_attribute_names("#sk", keys::ORG_SK)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to));
            self.all_pages(query)
        });
        let mut items: Vec<Item> = try_join_all(shards).await?.into_iter().flatten().collect();
        items.sort_by(|a, b| text(a, keys::ORG_SK).cmp(text(b, keys::ORG_SK)));
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

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A string attribute, or "" when absent.
pub fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}
