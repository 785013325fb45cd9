//! The read side of the data model: one function per documented access pattern, each a Query or
//! a GetItem, all pages through the SDK's paginators. Results are raw items; docs/data-model.md
//! lists their attributes. No Scan: rejected deliveries have their sparse index, `by-rejection`.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_webhooks::contact_key::ContactKey;
use flowiq_webhooks::keys;
use flowiq_webhooks::message_view;
use flowiq_webhooks::records::EventItem;
use futures_util::future::try_join_all;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};

use crate::events::error::EventsError;

pub type Item = HashMap<String, AttributeValue>;

/// GetItem calls in flight when index entries are read in full.
const READ_CONCURRENCY: usize = 16;

/// The events table, read by access pattern.
#[derive(Debug, Clone)]
pub struct EventQueries {
    pub client: Client,
    pub table_name: String,
    /// The contact key (src/contact_key.rs of the receiver): needed only to find a WhatsApp
    /// number's conversation, and to store events.
    pub contact_key: Option<ContactKey>,
}

/// Whom a conversation is with: the `by-contact` key is the WhatsApp number, or FlowIQ's contact
/// id for contacts without one (web chat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    WhatsappId(String),
    ContactId(String),
}

/// One page of a paginated query.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Item>,
    /// The key to continue after (DynamoDB's `LastEvaluatedKey`); `None` on the last page.
    pub next: Option<Item>,
}

impl EventQueries {
    pub fn contact_key(&self) -> Result<&ContactKey, EventsError> {
        self.contact_key.as_ref().ok_or(EventsError::NoContactKey)
    }

    /// A message's events, oldest first (undated ones last).
    pub async fn message_events(&self, wamid: &str) -> Result<Vec<Item>, EventsError> {
        let query = (self.client.query())
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", s(keys::message_pk(wamid)))
            .expression_attribute_values(":prefix", s("EVENT#"));
        self.all_pages(query).await
    }

    /// A message's state, derived from its events (storage contract v2: one Query of the
    /// message's partition), in the attributes of the `message` item; `None` without events.
    pub async fn message_state(&self, wamid: &str) -> Result<Option<Item>, EventsError> {
        derived_message(&self.message_events(wamid).await?)
    }

    /// A conversation page's entries as shown: each WhatsApp message (listed by its content
    /// event, or by its `message` item in a table written by the first storage contract) as its
    /// derived state, once; every other entry (web chat, calls) as its full event item.
    pub async fn conversation_items(&self, entries: &[Item]) -> Result<Vec<Item>, EventsError> {
        let mut seen = HashSet::new();
        let shown = entries
            .iter()
            .filter(|entry| match text(entry, "whatsapp_message_id") {
                "" => true,
                wamid => seen.insert(wamid),
            });
        read_each(shown, |entry| async move {
            match text(entry, "whatsapp_message_id") {
                "" => self.item(entry).await,
                wamid => self.message_state(wamid).await,
            }
        })
        .await
    }

    /// The whole conversation with a contact (a WhatsApp number or, for web chat, FlowIQ's
    /// contact id), oldest first: `by-contact` index entries (projected attributes only; get the
    /// full item by `pk`/`sk`), under the number's keyed hash and under the plain key of items
    /// stored before it ([`Self::contact_partitions`]).
    pub async fn conversation(
        &self,
        org: &str,
        contact: &Contact,
    ) -> Result<Vec<Item>, EventsError> {
        let (current, plain) = self.contact_partitions(org, contact)?;
        let mut items = Vec::new();
        for pk in std::iter::once(&current).chain(&plain) {
            items.extend(self.all_pages(self.conversation_query(pk)).await?);
        }
        items.sort_by(|a, b| text(a, keys::CONTACT_SK).cmp(text(b, keys::CONTACT_SK)));
        Ok(items)
    }

    /// One page of a contact's conversation, newest first: at most `limit` `by-contact` index
    /// entries after `start` (the previous page's [`Page::next`]). A WhatsApp number's entries
    /// under its keyed hash come first, then those stored under the plain key before the upgrade
    /// (a page may hold the end of one and the start of the other).
    pub async fn conversation_page(
        &self,
        org: &str,
        contact: &Contact,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page, EventsError> {
        let (current, plain) = self.contact_partitions(org, contact)?;
        let in_plain = |key: &Item| plain.as_deref() == Some(text(key, keys::CONTACT_PK));
        let pk = match (&start, &plain) {
            (Some(key), Some(plain)) if in_plain(key) => plain,
            _ => &current,
        };
        let mut page = self.conversation_query_page(pk, limit, start).await?;
        let remaining = limit - page.items.len() as i32;
        if let (None, Some(plain), true) = (&page.next, &plain, *pk == current)
            && remaining > 0
        {
            let rest = self.conversation_query_page(plain, remaining, None).await?;
            page.items.extend(rest.items);
            page.next = rest.next;
        }
        Ok(page)
    }

    async fn conversation_query_page(
        &self,
        contact_pk: &str,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page, EventsError> {
        let output = (self.conversation_query(contact_pk))
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

    /// The `by-contact` partitions of one contact: the key the receiver writes now, and for a
    /// WhatsApp number the key of items stored before numbers were hashed
    /// (`CONTACT#<org>#wa:<number>`), which nothing migrates (docs/security.md#contact-keys).
    /// A number needs the contact key.
    fn contact_partitions(
        &self,
        org: &str,
        contact: &Contact,
    ) -> Result<(String, Option<String>), EventsError> {
        Ok(match contact {
            Contact::WhatsappId(number) => (
                keys::whatsapp_contact_pk(self.contact_key()?, org, number),
                Some(keys::plain_whatsapp_contact_pk(org, number)),
            ),
            Contact::ContactId(id) => (keys::contact_id_pk(org, id), None),
        })
    }

    fn conversation_query(&self, contact_pk: &str) -> QueryFluentBuilder {
        (self.client.query())
            .index_name(keys::BY_CONTACT_INDEX)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::CONTACT_PK)
            .expression_attribute_values(":pk", s(contact_pk))
    }

    /// An organization's events with `from <= time < to` (sortable UTC strings, see
    /// [`flowiq_webhooks::clock`]) whose `event_type` is one of `types` (all when empty), oldest
    /// first: one query per shard of the `by-organization` index, run concurrently and merged.
    /// The type is a filter on each shard's query: filtered-out entries are still read (and
    /// paid for).
    pub async fn organization_events(
        &self,
        org: &str,
        from: &str,
        to: &str,
        types: &[String],
    ) -> Result<Vec<Item>, EventsError> {
        let placeholders: Vec<String> = (0..types.len()).map(|n| format!(":type{n}")).collect();
        let shards = keys::organization_pks(org).map(|pk| {
            // Sort keys are `<time>#<event id>`: none equals `to`, and those at `to` sort after
            // it, so BETWEEN is `from <= time < to`.
            let mut query = (self.client.query())
                .index_name(keys::BY_ORGANIZATION_INDEX)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", keys::ORG_PK)
                .expression_attribute_names("#sk", keys::ORG_SK)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to));
            if !types.is_empty() {
                query = query
                    .filter_expression(format!("#type IN ({})", placeholders.join(", ")))
                    .expression_attribute_names("#type", "event_type");
            }
            for (placeholder, event_type) in placeholders.iter().zip(types) {
                query = query.expression_attribute_values(placeholder, s(event_type));
            }
            self.all_pages(query)
        });
        let mut items: Vec<Item> = try_join_all(shards).await?.into_iter().flatten().collect();
        items.sort_by(|a, b| text(a, keys::ORG_SK).cmp(text(b, keys::ORG_SK)));
        Ok(items)
    }

    /// The item with the key (`pk`, `sk`) of `entry`, e.g. the full item, with `body`, of an
    /// index entry.
    pub async fn item(&self, entry: &Item) -> Result<Option<Item>, EventsError> {
        let output = (self.client.get_item())
            .table_name(&self.table_name)
            .key(keys::PK, s(text(entry, keys::PK)))
            .key(keys::SK, s(text(entry, keys::SK)))
            .send()
            .await
            .map_err(|err| self.error("GetItem", err))?;
        Ok(output.item)
    }

    /// The full items of index entries, in the entries' order; entries whose item is gone
    /// (expired since) are left out.
    pub async fn full_items(&self, entries: &[Item]) -> Result<Vec<Item>, EventsError> {
        read_each(entries, |entry| self.item(entry)).await
    }

    /// Rejected deliveries received at or after `since` (all when `None`), oldest first: one
    /// Query of the sparse `by-rejection` index (its entries carry the listing's attributes).
    /// With `with_body` each full item (with its body) is read too, one GetItem each.
    pub async fn rejected_deliveries(
        &self,
        since: Option<&str>,
        with_body: bool,
    ) -> Result<Vec<Item>, EventsError> {
        let query = (self.client.query())
            .index_name(keys::BY_REJECTION_INDEX)
            .expression_attribute_names("#pk", keys::REJECTION_PK)
            .expression_attribute_values(":pk", s(keys::REJECTIONS));
        let query = match since {
            Some(since) => query
                .key_condition_expression("#pk = :pk AND #sk >= :since")
                .expression_attribute_names("#sk", keys::REJECTION_SK)
                .expression_attribute_values(":since", s(since)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        let entries = self.all_pages(query).await?;
        if with_body {
            return self.full_items(&entries).await;
        }
        Ok(entries)
    }

    async fn all_pages(&self, query: QueryFluentBuilder) -> Result<Vec<Item>, EventsError> {
        let pages = query.table_name(&self.table_name).into_paginator();
        let items = pages.items().send().collect::<Result<_, _>>().await;
        items.map_err(|err| self.error("Query", err))
    }

    fn error(&self, operation: &str, err: impl std::error::Error) -> EventsError {
        EventsError::aws(
            format!("DynamoDB {operation} on table {}", self.table_name),
            err,
        )
    }
}

/// The derived message of a partition's items (other item types are skipped). Each event is read
/// on its own first, so that an error names it.
pub fn derived_message(items: &[Item]) -> Result<Option<Item>, EventsError> {
    let mut events = Vec::with_capacity(items.len());
    for item in items.iter().filter(|i| text(i, "item_type") == "event") {
        let event: EventItem = serde_dynamo::from_item(item.clone())
            .map_err(|e| EventsError::unreadable(item, "(the event item)", e))?;
        event
            .webhook_event()
            .map_err(|e| EventsError::unreadable(item, "body", e))?;
        events.push(event);
    }
    let view = message_view::derive(&events)
        .map_err(|e| EventsError::unreadable(&items[0], "(the message's events)", e))?;
    Ok(view.map(|view| serde_dynamo::to_item(view).expect("a message view serialises")))
}

/// `read` of each entry, at most [`READ_CONCURRENCY`] at a time, in the entries' order; those it
/// finds nothing for are left out.
async fn read_each<'a, Read>(
    entries: impl IntoIterator<Item = &'a Item>,
    read: impl FnMut(&'a Item) -> Read,
) -> Result<Vec<Item>, EventsError>
where
    Read: Future<Output = Result<Option<Item>, EventsError>>,
{
    let found: Vec<Option<Item>> = stream::iter(entries)
        .map(read)
        .buffered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
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
