//! A queue consumed one message at a time by `drain` (the spill queue) and `forwarding redrive`
//! (the forwarding dead-letter queue): each message is deleted only once handled, and the run
//! stops at the first one that cannot be, leaving it and the rest of its batch in the queue.
//! `forwarding list` keeps every message it sees, then makes them all visible again.

use std::collections::BTreeMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{Message, QueueAttributeName};

use super::error::EventsError;

/// What becomes of a message once handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Done with: deleted.
    Delete,
    /// Left in the queue, hidden until the run ends (not seen again by it).
    Keep,
    /// Left in the queue, visible again at once; the run stops.
    Stop,
}

/// Receives the queue's messages, each hidden for `visibility` seconds, and gives each to
/// `handle` until the queue has nothing more the run has not kept, or `handle` says stop.
pub async fn consume(
    sqs: &Client,
    queue_url: &str,
    visibility: i32,
    mut handle: impl AsyncFnMut(Message) -> Result<Handled, EventsError>,
) -> Result<(), EventsError> {
    // The messages kept, by id, with their latest receipt.
    let mut kept = BTreeMap::new();
    let mut stopped = false;
    while !stopped {
        let messages = receive(sqs, queue_url, visibility).await?;
        let was_kept = |m: &Message| kept.contains_key(m.message_id.as_deref().unwrap_or_default());
        if messages.iter().all(was_kept) {
            break;
        }
        for message in messages {
            let receipt = message.receipt_handle.clone().unwrap_or_default();
            let message_id = message.message_id.clone().unwrap_or_default();
            // Once stopped, the rest of the batch is left in the queue as it is.
            let handled = if stopped {
                Handled::Stop
            } else {
                handle(message).await?
            };
            match handled {
                Handled::Delete => delete(sqs, queue_url, &receipt).await?,
                Handled::Keep => {
                    kept.insert(message_id, receipt);
                }
                Handled::Stop => {
                    release(sqs, queue_url, &receipt).await?;
                    stopped = true;
                }
            }
        }
    }
    for receipt in kept.values() {
        release(sqs, queue_url, receipt).await?;
    }
    Ok(())
}

/// Up to 10 messages, with their attributes, each hidden for `visibility` seconds.
pub async fn receive(
    sqs: &Client,
    queue_url: &str,
    visibility: i32,
) -> Result<Vec<Message>, EventsError> {
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .visibility_timeout(visibility)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| EventsError::aws("SQS ReceiveMessage", e))?;
    Ok(received.messages.unwrap_or_default())
}

async fn delete(sqs: &Client, queue_url: &str, receipt: &str) -> Result<(), EventsError> {
    let delete = sqs
        .delete_message()
        .queue_url(queue_url)
        .receipt_handle(receipt);
    delete
        .send()
        .await
        .map_err(|e| EventsError::aws("SQS DeleteMessage", e))?;
    Ok(())
}

/// Makes a message visible again at once: it stays in the queue for the next try.
async fn release(sqs: &Client, queue_url: &str, receipt: &str) -> Result<(), EventsError> {
    let release = sqs.change_message_visibility().queue_url(queue_url);
    let release = release
        .receipt_handle(receipt)
        .visibility_timeout(0)
        .send()
        .await;
    release.map_err(|e| EventsError::aws("SQS ChangeMessageVisibility", e))?;
    Ok(())
}

/// Messages waiting plus messages in flight.
pub async fn queue_depth(sqs: &Client, queue_url: &str) -> Result<u64, EventsError> {
    let names = [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ];
    let output = (sqs.get_queue_attributes().queue_url(queue_url))
        .set_attribute_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| EventsError::aws("SQS GetQueueAttributes", e))?;
    let attributes = output.attributes.unwrap_or_default();
    Ok((names.iter())
        .filter_map(|name| attributes.get(name)?.parse::<u64>().ok())
        .sum())
}
