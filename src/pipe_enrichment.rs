//! The EventBridge Pipe's enrichment (binary `flowiq-pipe-enrichment`): a batch of the table's
//! stream records in, one [`EventDetail`] per record out, in order. Pipes puts each element on the
//! bus as an event's `detail` (template.yaml, `EventsPipe`).
//!
//! The Pipe's filter passes only INSERTs of `event` items. Any record that is not one, or whose
//! event cannot be read back, fails the whole batch with an error naming it: Pipes then retries,
//! bisects the batch, and sends what still fails to the Pipe's failure queue. A record is never
//! dropped from the bus quietly.

use aws_lambda_events::event::dynamodb::EventRecord;

use crate::event_detail::{EventDetail, EventDetailError};
use crate::table_stream::{self, DecodeError, DecodeOptions, TableChange};

#[derive(Debug, thiserror::Error)]
pub enum EnrichmentError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(
        "stream record {stream_event_id} is a {event_name} of {what}, not a new event item: the \
         Pipe's filter should have dropped it"
    )]
    NotANewEvent {
        stream_event_id: String,
        event_name: String,
        what: String,
    },
    #[error("stream record {stream_event_id}: {source}")]
    Unreadable {
        stream_event_id: String,
        #[source]
        source: Box<EventDetailError>,
    },
}

/// The details of a batch, in the records' order; the first record that cannot be enriched fails
/// the batch.
pub fn enrich(records: &[EventRecord]) -> Result<Vec<EventDetail>, EnrichmentError> {
    records.iter().map(enrich_record).collect()
}

fn enrich_record(record: &EventRecord) -> Result<EventDetail, EnrichmentError> {
    let change = table_stream::decode(record, DecodeOptions::default())?;
    let Some(TableChange::NewEvent(item)) = change else {
        return Err(EnrichmentError::NotANewEvent {
            stream_event_id: record.event_id.clone(),
            event_name: record.event_name.clone(),
            what: match change {
                Some(TableChange::Message { .. }) => "a message item",
                Some(TableChange::Rejected(_)) => "a rejected item",
                Some(TableChange::Removed { .. }) => "a removed item",
                _ => "another item",
            }
            .to_owned(),
        });
    };
    EventDetail::of(&item).map_err(|source| EnrichmentError::Unreadable {
        stream_event_id: record.event_id.clone(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::dynamodb::Event;

    fn sample() -> Event {
        serde_json::from_str(include_str!("../events/dynamodb-stream.json")).unwrap()
    }

    #[test]
    fn a_new_event_becomes_its_detail_and_anything_else_fails_the_batch() {
        let event = sample();
        let details = enrich(&event.records[..1]).unwrap();
        assert_eq!(details.len(), 1);
        assert_eq!(details[0].event_type, "message_sent");
        let error = enrich(&event.records).unwrap_err().to_string();
        assert!(
            error.contains(&event.records[1].event_id) && error.contains("a message item"),
            "{error}"
        );
    }
}
