//! The read side of the data model: one function per documented access pattern, each a Query or
//! a GetItem (never a Scan). Results are raw items; docs/data-model.md lists their attributes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::future::try_join_all;

use super::StoreError;
use super::dynamodb::{DynamoDbEventStore, request_error};
use crate::keys;

pub type Item = HashMap<String, AttributeValue>;

/// One `Query`, all pages: `key_condition` over `#pk`/`#sk` with `:pk`/`:a`/`:b`.
struct KeyQuery<'a> {
    index: Option<&'a str>,
    pk_name: &'a str,
    sk_name: &'a str,
    key_condition: &'a str,
    values: Vec<(&'a str, String)>,
}

impl DynamoDbEventStore {
    /// A message's events, oldest first (undated ones last).
    pub async fn message_events(&self, whatsapp_message_id: &str) -> Result<Vec<Item>, StoreError> {
        self.query(KeyQuery {
            index: None,
            pk_name: keys::PK,
            sk_name: keys::SK,
            key_condition: "#pk = :pk AND begins_with(#sk, :a)",
            values: vec![
                (":pk", keys::message_pk(whatsapp_message_id)),
                (":a", "EVENT#".into()),
            ],
        })
        .await
    }

    /// A message's merged state (`item_type` `message`).
    pub async fn message_state(
        &self,
        whatsapp_message_id: &str,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table_name())
            .key(
                keys::PK,
                AttributeValue::S(keys::message_pk(whatsapp_message_id)),
            )
            .key(keys::SK, AttributeValue::S(keys::MESSAGE_SK.into()))
            .send()
            .await
            .map_err(|err| request_error("GetItem", err))?;
        Ok(output.item)
    }

    /// A contact's conversation (every event with this contact), oldest first, from the
    /// `by-contact` index (projected attributes only; get the full item by `pk`/`sk`).
    pub async fn conversation(
        &self,
        organization_id: &str,
        whatsapp_id: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let pk = keys::contact_pk(organization_id, Some(whatsapp_id), None).expect("a contact");
        self.query(KeyQuery {
            index: Some(keys::BY_CONTACT_INDEX),
            pk_name: keys::CONTACT_PK,
            sk_name: keys::CONTACT_SK,
            key_condition: "#pk = :pk",
            values: vec![(":pk", pk)],
        })
        .await
    }

    /// An organization's events with `from <= time < to` (sortable UTC strings, see
    /// [`crate::clock`]), oldest first: one query per shard of the `by-organization` index,
    /// run concurrently and merged.
    pub async fn organization_events(
        &self,
        organization_id: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let shards = keys::organization_pks(organization_id).map(|pk| {
            self.query(KeyQuery {
                index: Some(keys::BY_ORGANIZATION_INDEX),
                pk_name: keys::ORG_PK,
                sk_name: keys::ORG_SK,
                // Sort keys are `<time>#<event id>`: none equals `to`, and those at `to` sort
                // after it, so BETWEEN is `from <= time < to`.
                key_condition: "#pk = :pk AND #sk BETWEEN :a AND :b",
                values: vec![(":pk", pk), (":a", from.to_owned()), (":b", to.to_owned())],
            })
        });
        let mut items: Vec<Item> = try_join_all(shards).await?.into_iter().flatten().collect();
        items.sort_by(|a, b| sort_key(a).cmp(sort_key(b)));
        Ok(items)
    }

    async fn query(&self, query: KeyQuery<'_>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .client()
                .query()
                .table_name(self.table_name())
                .set_index_name(query.index.map(str::to_owned))
                .key_condition_expression(query.key_condition)
                .expression_attribute_names("#pk", query.pk_name)
                .set_exclusive_start_key(start);
            if query.key_condition.contains("#sk") {
                request = request.expression_attribute_names("#sk", query.sk_name);
            }
            for (name, value) in &query.values {
                request =
                    request.expression_attribute_values(*name, AttributeValue::S(value.clone()));
            }
            let page = request
                .send()
                .await
                .map_err(|err| request_error("Query", err))?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

fn sort_key(item: &Item) -> &str {
    item.get(keys::ORG_SK)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}
