//! End to end through the table's stream: deliveries through the handler into DynamoDB Local,
//! the stream read with aws-sdk-dynamodbstreams, shaped as Lambda receives it, and decoded by the
//! consumer library: the decoded events equal what was posted; the optional message projection,
//! fed the same records, keeps `message` items equal to the state derived from the events.

use std::collections::BTreeMap;

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use flowiq_webhooks::message_projection::project;
use flowiq_webhooks::records::{MessageItem, Retention};
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use flowiq_webhooks::table_stream::{DecodeOptions, TableChange, decode, process_batch};
use flowiq_webhooks::webhook_event::WebhookEvent;
use serde_json::{Value, json};

use crate::support::*;

/// Every record of the table's stream, as the JSON Lambda delivers to a stream consumer.
async fn read_stream_as_lambda_event(table: &TestTable) -> Value {
    let description = table
        .client
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
        .unwrap();
    let stream_arn = description
        .table
        .unwrap()
        .latest_stream_arn
        .expect("the table has a stream");
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .endpoint_url(dynamodb_local::endpoint())
        .build();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(config);
    let stream = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .unwrap();
    let mut records = Vec::new();
    for shard in stream
        .stream_description
        .unwrap()
        .shards
        .unwrap_or_default()
    {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&stream_arn)
            .shard_id(shard.shard_id.unwrap())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(current) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .unwrap();
            let batch = page.records.unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            for record in batch {
                let change = record.dynamodb.unwrap();
                let image = |image: Option<std::collections::HashMap<_, _>>| {
                    image.map(|i| serde_json::to_value(serde_dynamo::Item::from(i)).unwrap())
                };
                records.push(json!({
                    "eventID": record.event_id,
                    "eventName": record.event_name.unwrap().as_str(),
                    "eventVersion": record.event_version,
                    "eventSource": record.event_source,
                    "awsRegion": record.aws_region,
                    "eventSourceARN": stream_arn,
                    "dynamodb": {
                        "ApproximateCreationDateTime": change.approximate_creation_date_time.map(|t| t.secs()),
                        "Keys": image(change.keys),
                        "NewImage": image(change.new_image),
                        "OldImage": image(change.old_image),
                        "SequenceNumber": change.sequence_number,
                        "SizeBytes": change.size_bytes,
                        "StreamViewType": change.stream_view_type.map(|v| v.as_str().to_owned()),
                    }
                }));
            }
            iterator = page.next_shard_iterator;
        }
    }
    json!({ "Records": records })
}

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
