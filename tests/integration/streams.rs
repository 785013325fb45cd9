//! End to end through the table's stream: deliveries through the handler into DynamoDB Local,
//! the stream read with aws-sdk-dynamodbstreams, shaped as Lambda receives it, and decoded by the
//! consumer library: the decoded events equal what was posted; the optional message projection,
//! fed the same records, keeps `message` items equal to the state derived from the events.

use std::collections::BTreeMap;

use aws_lambda_events::event::dynamodb::Event;
use flowiq_webhooks::message_item::MessageItem;
use flowiq_webhooks::message_projection::project;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use flowiq_webhooks::table_stream::{DecodeOptions, TableChange, decode, process_batch};
use flowiq_webhooks::webhook_event::WebhookEvent;

use crate::support::*;

#[tokio::test]
async fn posted_events_come_out_of_the_stream_decoded_and_equal() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let files = [
        "whatsapp-message-received.json",
        "whatsapp-sent-message.json",
        "whatsapp-message-sent.json",
        "whatsapp-message-delivered.json",
        "whatsapp-message-read.json",
        "web-message-received.json",
        "whatsapp-call.json",
    ];
    let mut posted = BTreeMap::new();
    for file in files {
        let event = sample(file);
        let answer = send(&receiver, request(&event)).await;
        assert_eq!(answer.json["status"], "stored");
        posted.insert(answer.json["event_id"].as_str().unwrap().to_owned(), event);
    }
    // A duplicate writes no new event (its message update changes nothing either).
    send(&receiver, request(&sample("whatsapp-message-read.json"))).await;
    // A rejected delivery is on the stream too.
    send(&receiver, delivery("whatsapp", DEV_TOKEN, "not json")).await;

    let lambda_event = read_stream_as_lambda_event(&table).await;
    let event: Event =
        serde_json::from_value(lambda_event).expect("the records have Lambda's shape");

    let mut decoded_events = BTreeMap::new();
    let mut rejected = 0;
    for record in &event.records {
        match decode(record, DecodeOptions::default()).unwrap().unwrap() {
            TableChange::NewEvent(item) => {
                assert!(
                    decoded_events.insert(item.event_id.clone(), item).is_none(),
                    "each event once"
                );
            }
            TableChange::Rejected(_) => rejected += 1,
            other => panic!("unexpected change {other:?}"),
        }
    }
    assert_eq!(rejected, 1);
    assert_eq!(
        decoded_events.keys().collect::<Vec<_>>(),
        posted.keys().collect::<Vec<_>>()
    );
    for (event_id, item) in &decoded_events {
        let sent = &posted[event_id];
        let body = sample_body(sent);
        assert_eq!(item.body().unwrap(), body);
        let platform = sample_platform(sent).parse().unwrap();
        assert_eq!(
            item.webhook_event().unwrap(),
            WebhookEvent::parse(platform, body.as_bytes()).unwrap()
        );
    }
    // One write per delivery: no `message` item on the stream. The optional projection, fed
    // these very records, keeps `message` items equal to the state derived from the events.
    let store = DynamoDbEventStore::new(table.client.clone(), &table.name);
    let response = process_batch(&event, DecodeOptions::default(), |change| {
        project(&store, change)
    })
    .await;
    assert!(response.batch_item_failures.is_empty());
    let messages = table.messages().await;
    assert!(!messages.is_empty());
    for derived in &messages {
        let wamid = s(derived, "whatsapp_message_id");
        let stored = table.stored_message(wamid).await.expect("projected");
        let derived: MessageItem = serde_dynamo::from_item(derived.clone()).unwrap();
        let stored: MessageItem = serde_dynamo::from_item(stored).unwrap();
        assert_eq!(stored, derived, "{wamid}");
    }
    let outbound = sample_payload("whatsapp-sent-message.json");
    let outbound = table
        .message(outbound["whatsapp_message_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(s(&outbound, "status"), "read");

    // The consumer's batch processing reports no failure for these records.
    let mut seen = 0;
    let response = process_batch(&event, DecodeOptions::default(), |_| {
        seen += 1;
        async { Ok::<_, std::convert::Infallible>(()) }
    })
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(seen, event.records.len());
}
