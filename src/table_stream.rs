//! Consuming the table's DynamoDB Stream: decode each record (`aws_lambda_events`) into the
//! project's typed items (`serde_dynamo`), and process a batch with partial batch responses so
//! one bad record never fails the records before it.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Deserialize;

use crate::message_item::MessageItem;
use crate::records::{EventItem, ItemType, RejectedItem};

/// What one stream record says happened in the table.
#[derive(Debug, Clone, PartialEq)]
pub enum TableChange {
    /// A new FlowIQ event was stored (exactly once per event).
    NewEvent(Box<EventItem>),
    /// A message's state was created (`old` is `None`) or changed.
    Message {
        old: Option<Box<MessageItem>>,
        new: Box<MessageItem>,
    },
    /// A delivery was rejected and kept.
    Rejected(Box<RejectedItem>),
    /// An item was deleted: by DynamoDB's TTL (`expired`) or by someone.
    Removed {
        item_type: Option<ItemType>,
        pk: String,
        sk: String,
        expired: bool,
    },
    /// Anything else (registrations written by `flowiq-bootstrap`, events modified by hand).
    Other { item_type: Option<ItemType> },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Drop deletions made by DynamoDB's TTL (retention), which most consumers do not care about.
    pub skip_expired: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("stream record {event_id}: {what}")]
    Malformed { event_id: String, what: String },
    #[error(
        "stream record {event_id}: the {image} image is not a valid {item_type} item: {source}"
    )]
    Item {
        event_id: String,
        image: &'static str,
        item_type: &'static str,
        #[source]
        source: serde_dynamo::Error,
    },
}

#[derive(Deserialize)]
struct ItemHeader {
    item_type: Option<ItemType>,
    pk: Option<String>,
    sk: Option<String>,
}

/// Decodes one record; `Ok(None)` for a record skipped by `options`.
pub fn decode(
    record: &EventRecord,
    options: DecodeOptions,
) -> Result<Option<TableChange>, DecodeError> {
    match record.event_name.as_str() {
        "INSERT" | "MODIFY" => written(record).map(Some),
        "REMOVE" => removed(record, options),
        other => Err(malformed(record, &format!("unknown eventName {other:?}"))),
    }
}

fn malformed(record: &EventRecord, what: &str) -> DecodeError {
    DecodeError::Malformed {
        event_id: record.event_id.clone(),
        what: what.to_owned(),
    }
}

/// An item written: typed by its `item_type` (an event only when new).
fn written(record: &EventRecord) -> Result<TableChange, DecodeError> {
    let change = &record.change;
    let new = &change.new_image;
    let header: ItemHeader = image(record, "new", new, "")?;
    Ok(match header.item_type {
        Some(ItemType::Event) if record.event_name == "INSERT" => {
            TableChange::NewEvent(Box::new(image(record, "new", new, "event")?))
        }
        Some(ItemType::Message) => {
            let old = if change.old_image.is_empty() {
                None
            } else {
                Some(Box::new(image(
                    record,
                    "old",
                    &change.old_image,
                    "message",
                )?))
            };
            TableChange::Message {
                old,
                new: Box::new(image(record, "new", new, "message")?),
            }
        }
        Some(ItemType::Rejected) => {
            TableChange::Rejected(Box::new(image(record, "new", new, "rejected")?))
        }
        item_type => TableChange::Other { item_type },
    })
}

/// An item deleted, by DynamoDB's TTL or by someone; `None` when `options` skip expiries.
fn removed(
    record: &EventRecord,
    options: DecodeOptions,
) -> Result<Option<TableChange>, DecodeError> {
    let change = &record.change;
    // TTL deletions are made by the DynamoDB service principal.
    let expired = record
        .user_identity
        .as_ref()
        .is_some_and(|u| u.type_ == "Service" && u.principal_id == "dynamodb.amazonaws.com");
    if expired && options.skip_expired {
        return Ok(None);
    }
    let source = if change.old_image.is_empty() {
        &change.keys
    } else {
        &change.old_image
    };
    let header: ItemHeader = image(record, "old", source, "")?;
    let (Some(pk), Some(sk)) = (header.pk, header.sk) else {
        return Err(malformed(record, "REMOVE without the table's keys"));
    };
    Ok(Some(TableChange::Removed {
        item_type: header.item_type,
        pk,
        sk,
        expired,
    }))
}

fn image<T: for<'de> Deserialize<'de>>(
    record: &EventRecord,
    which: &'static str,
    item: &serde_dynamo::Item,
    item_type: &'static str,
) -> Result<T, DecodeError> {
    serde_dynamo::from_item(item.clone()).map_err(|source| DecodeError::Item {
        event_id: record.event_id.clone(),
        image: which,
        item_type: if item_type.is_empty() {
            "table"
        } else {
            item_type
        },
        source,
    })
}

/// Runs `handle` on each decoded record in order. At the first record that fails (to decode or
/// to handle) it stops and reports that record's sequence number: Lambda then retries from it,
/// so the records before it are not processed twice and none after it is lost (with
/// `ReportBatchItemFailures` on the event source mapping).
pub async fn process_batch<F, Fut, E>(
    event: &Event,
    options: DecodeOptions,
    mut handle: F,
) -> DynamoDbEventResponse
where
    F: FnMut(TableChange) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        let outcome = match decode(record, options) {
            Ok(None) => Ok(()),
            Ok(Some(change)) => handle(change).await.map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(error) = outcome {
            tracing::error!(
                stream_event_id = record.event_id,
                error,
                "stream record failed; the batch stops here"
            );
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_status::MessageStatus;

    fn sample() -> Event {
        serde_json::from_str(include_str!("../events/dynamodb-stream.json")).unwrap()
    }

    #[test]
    fn decodes_the_sample_stream_event() {
        let event = sample();
        let changes: Vec<_> = event
            .records
            .iter()
            .map(|r| decode(r, DecodeOptions::default()).unwrap().unwrap())
            .collect();
        let TableChange::NewEvent(item) = &changes[0] else {
            panic!("{:?}", changes[0])
        };
        assert_eq!(item.event_type, "message_sent");
        let typed = item.webhook_event().unwrap();
        assert_eq!(
            typed.event_id.as_str(),
            item.event_id,
            "the stored id is the id of the stored body"
        );
        let TableChange::Message { old, new } = &changes[1] else {
            panic!("{:?}", changes[1])
        };
        assert_eq!(new.status, Some(MessageStatus::Sent));
        assert!(old.as_ref().unwrap().status_history.len() < new.status_history.len());
        let TableChange::Removed {
            item_type, expired, ..
        } = &changes[2]
        else {
            panic!("{:?}", changes[2])
        };
        assert_eq!((*item_type, *expired), (Some(ItemType::Event), true));
        assert_eq!(
            decode(&event.records[2], DecodeOptions { skip_expired: true }).unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_failing_record_stops_the_batch_and_is_reported() {
        let mut event = sample();
        let mut handled = Vec::new();
        let response = process_batch(&event, DecodeOptions::default(), |change| {
            let fail = matches!(change, TableChange::Message { .. });
            handled.push(change);
            async move {
                if fail {
                    Err("downstream is down")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(handled.len(), 2, "nothing after the failure is handled");
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(
            failed,
            vec![event.records[1].change.sequence_number.clone()]
        );

        // A record that is not a valid item is reported the same way.
        event.records[0].change.new_image.insert(
            "platform".into(),
            serde_dynamo::AttributeValue::N("1".into()),
        );
        let response = process_batch(&event, DecodeOptions::default(), |_| async {
            Ok::<_, String>(())
        })
        .await;
        assert_eq!(response.batch_item_failures.len(), 1);
        assert_eq!(
            response.batch_item_failures[0].item_identifier,
            event.records[0].change.sequence_number
        );
    }
}
