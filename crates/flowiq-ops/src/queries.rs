//! The read side of the data model: one function per documented access pattern, each a Query or
//! a GetItem, all pages through the SDK's paginators. Results are raw items; docs/data-model.md
//! lists their attributes. No Scan: rejected deliveries have their sparse index, `by-rejection`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use flowiq_webhooks::contact_key::ContactKey;
use flowiq_webhooks::keys;
use flowiq_webhooks::message_view;
use flowiq_webhooks::records::EventItem;
use futures_util::StreamExt as _;
use futures_util::future::try_join_all;
use futures_util::stream;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("DynamoDB {operation} on table {table} failed: {message}")]
    Request {
        operation: &'static str,
        table: String,
        /// The SDK error with its context (`DisplayErrorContext`).
        message: String,
    },
    /// A stored event that cannot be read back (a damaged body): named, never skipped.
    #[error("cannot read the event with pk {pk:?}, sk {sk:?}: {problem}")]
    Unreadable {
        pk: String,
        sk: String,
        problem: String,
    },
    /// A WhatsApp number's conversation was asked for without the contact key (a bug: the CLI
    /// reads the key before such a query).
    #[error(
        "finding a WhatsApp number's conversation needs the contact key (CONTACT_KEY_SECRET, CONTACT_KEY_FILE or CONTACT_KEY)"
    )]
    NoContactKey,
}

/// The events table, read by access pattern.
#[derive(Debug, Clone)]
pub struct EventQueries {
    client: Client,
    table_name: String,
    /// Needed only to find a WhatsApp number's conversation.
    contact_key: Option<ContactKey>,
}

impl EventQueries {
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        Self {
            client,
            table_name: table_name.into(),
            contact_key: None,
        }
    }

    /// With the contact key (src/contact_key.rs of the receiver), for WhatsApp numbers'
    /// conversations.
    pub fn with_contact_key(mut self, contact_key: ContactKey) -> Self {
        self.contact_key = Some(contact_key);
        self
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

    /// A message's state, derived from its events (storage contract v2: one Query of the
    /// message's partition), in the attributes of the `message` item; `None` without events.
    pub async fn message_state(
        &self,
        whatsapp_message_id: &str,
    ) -> Result<Option<Item>, QueryError> {
        let items = self.message_events(whatsapp_message_id).await?;
        self.derived_message(&items)
    }

    /// The derived message of a partition's items (other item types are skipped).
    pub fn derived_message(&self, items: &[Item]) -> Result<Option<Item>, QueryError> {
        let mut events = Vec::with_capacity(items.len());
        for item in items.iter().filter(|i| text(i, "item_type") == "event") {
            let unreadable = |problem: String| QueryError::Unreadable {
                pk: text(item, keys::PK).to_owned(),
                sk: text(item, keys::SK).to_owned(),
                problem,
            };
            let event: EventItem = serde_dynamo::from_item(item.clone())
                .map_err(|e| unreadable(format!("not an event item: {e}")))?;
            // Checked one by one, so that the error names the event.
            event
                .webhook_event()
                .map_err(|e| unreadable(e.to_string()))?;
            events.push(event);
        }
        let view = message_view::derive(&events).map_err(|e| QueryError::Unreadable {
            pk: String::new(),
            sk: String::new(),
            problem: e.to_string(),
        })?;
        Ok(view.map(|view| serde_dynamo::to_item(view).expect("a message view serialises")))
    }

    /// A conversation page's entries as shown: each WhatsApp message (listed by its content
    /// event, or by its `message` item in a table written by the first storage contract) as its
    /// derived state, once; every other entry (web chat, calls) as its full event item.
    pub async fn conversation_items(
        &self,
        entries: &[Item],
        concurrency: usize,
    ) -> Result<Vec<Item>, QueryError> {
        let mut seen = std::collections::HashSet::new();
        let shown: Vec<&Item> = entries
            .iter()
            .filter(|entry| match text(entry, "whatsapp_message_id") {
                "" => true,
                wamid => seen.insert(wamid.to_owned()),
            })
            .collect();
        let items: Vec<Option<Item>> = stream::iter(shown)
            .map(|entry| async move {
                match text(entry, "whatsapp_message_id") {
                    "" => {
                        self.item(text(entry, keys::PK), text(entry, keys::SK))
                            .await
                    }
                    wamid => self.message_state(wamid).await,
                }
            })
            .buffered(concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        Ok(items.into_iter().flatten().collect())
    }

    /// A contact's conversation (every event with this contact), oldest first, from the
    /// `by-contact` index (projected attributes only; get the full item by `pk`/`sk`).
    pub async fn conversation(
        &self,
        organization_id: &str,
        whatsapp_id: &str,
    ) -> Result<Vec<Item>, QueryError> {
        let contact = Contact::WhatsappId(whatsapp_id.to_owned());
        self.conversation_of(organization_id, &contact).await
    }

    /// The whole conversation with a contact (a WhatsApp number or, for web chat, FlowIQ's
    /// contact id), oldest first: `by-contact` index entries, under the number's keyed hash and
    /// under the plain key of items stored before it ([`ContactPartitions`]).
    pub async fn conversation_of(
        &self,
        organization_id: &str,
        contact: &Contact,
    ) -> Result<Vec<Item>, QueryError> {
        let partitions = self.contact_partitions(organization_id, contact)?;
        let mut items = Vec::new();
        for pk in partitions.all() {
            items.extend(self.all_pages(self.conversation_query(pk)).await?);
        }
        if partitions.plain.is_some() {
            items.sort_by(|a, b| text(a, keys::CONTACT_SK).cmp(text(b, keys::CONTACT_SK)));
        }
        Ok(items)
    }

    /// One page of a contact's conversation, newest first: at most `limit` `by-contact` index
    /// entries after `start` (the previous page's [`Page::next`]). A WhatsApp number's entries
    /// under its keyed hash come first, then those stored under the plain key before the upgrade
    /// (a page may hold the end of one and the start of the other).
    pub async fn conversation_page(
        &self,
        organization_id: &str,
        contact: &Contact,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page, QueryError> {
        let partitions = self.contact_partitions(organization_id, contact)?;
        let in_plain = |key: &Item| {
            partitions
                .plain
                .as_deref()
                .is_some_and(|plain| text(key, keys::CONTACT_PK) == plain)
        };
        let (pk, start) = match start {
            Some(key) if in_plain(&key) => {
                (partitions.plain.as_deref().expect("in plain"), Some(key))
            }
            start => (partitions.current.as_str(), start),
        };
        let mut page = self.conversation_query_page(pk, limit, start).await?;
        let remaining = limit - page.items.len() as i32;
        if let (None, Some(plain), true) = (&page.next, &partitions.plain, pk == partitions.current)
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
    ) -> Result<Page, QueryError> {
        let output = self
            .conversation_query(contact_pk)
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

    /// Where a contact's conversation is: a number needs the contact key.
    pub fn contact_partitions(
        &self,
        organization_id: &str,
        contact: &Contact,
    ) -> Result<ContactPartitions, QueryError> {
        Ok(match contact {
            Contact::WhatsappId(number) => {
                let key = self.contact_key.as_ref().ok_or(QueryError::NoContactKey)?;
                ContactPartitions {
                    current: keys::whatsapp_contact_pk(key, organization_id, number),
                    plain: Some(keys::plain_whatsapp_contact_pk(organization_id, number)),
                }
            }
            Contact::ContactId(id) => ContactPartitions {
                current: keys::contact_id_pk(organization_id, id),
                plain: None,
            },
        })
    }

    fn conversation_query(&self, contact_pk: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .index_name(keys::BY_CONTACT_INDEX)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::CONTACT_PK)
            .expression_attribute_values(":pk", s(contact_pk))
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

    /// Rejected deliveries received at or after `since` (all when `None`), oldest first: one
    /// Query of the sparse `by-rejection` index (its entries carry the listing's attributes).
    /// With `with_body` each full item (with its body) is read too, one GetItem each.
    pub async fn rejected_deliveries(
        &self,
        since: Option<&str>,
        with_body: bool,
    ) -> Result<Vec<Item>, QueryError> {
        let mut query = self
            .client
            .query()
            .index_name(keys::BY_REJECTION_INDEX)
            .expression_attribute_names("#pk", keys::REJECTION_PK)
            .expression_attribute_values(":pk", s(keys::REJECTIONS));
        query = match since {
            Some(since) => query
                .key_condition_expression("#pk = :pk AND #sk >= :since")
                .expression_attribute_names("#sk", keys::REJECTION_SK)
                .expression_attribute_values(":since", s(since)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        let entries = self.all_pages(query).await?;
        if with_body {
            self.full_items(&entries, 16).await
        } else {
            Ok(entries)
        }
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
        QueryError::Request {
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

/// The `by-contact` partitions of one contact: `current`, the key the receiver writes now, and
/// for a WhatsApp number `plain`, the key of items stored before numbers were hashed
/// (`CONTACT#<org>#wa:<number>`), which nothing migrates (docs/security.md#contact-keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPartitions {
    pub current: String,
    pub plain: Option<String>,
}

impl ContactPartitions {
    fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.current.as_str()).chain(self.plain.as_deref())
    }
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
