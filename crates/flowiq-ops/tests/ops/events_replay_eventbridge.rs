//! `flowiq-events replay --to-eventbridge` over the real AWS wire protocol: a moto server with a
//! bus, a rule on `source` flowiq.webhooks and an SQS queue as its target; what the queue
//! receives is what the bus received.

use crate::support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_eventbridge::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_eventbridge::operation::put_events::PutEventsInput;
use aws_sdk_sqs::types::QueueAttributeName;
use clap::Parser as _;
use flowiq_harness::moto_server::MotoServer;
use flowiq_harness::test_table::{TestTable, s, sdk_config};
use flowiq_ops::events::cli::Args;
use flowiq_ops::events::commands::{Context, run};
use flowiq_ops::events::output::Format;
use flowiq_ops::exit_status::ExitStatus;
use flowiq_webhooks::event_detail::EventDetail;
use flowiq_webhooks::records::{EventItem, Retention};
use serde_json::{Value, json};

const BUS: &str = "flowiq-replay-test";
const ORG: &str = "org-eb";

/// Records the number of entries of every PutEvents request.
#[derive(Debug, Clone, Default)]
struct BatchSizes(Arc<Mutex<Vec<usize>>>);

impl Intercept for BatchSizes {
    fn name(&self) -> &'static str {
        "BatchSizes"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_eventbridge::error::BoxError> {
        if let Some(input) = context.input().downcast_ref::<PutEventsInput>() {
            self.0.lock().unwrap().push(input.entries().len());
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _: &aws_sdk_eventbridge::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_eventbridge::error::BoxError> {
        Ok(())
    }
}

#[tokio::test]
async fn replayed_events_reach_the_bus_as_the_pipe_puts_them() {
    let moto = MotoServer::start();
    let endpoint = moto.endpoint();
    let batches = BatchSizes::default();
    let config = sdk_config(&endpoint);
    let eventbridge = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&config)
            .interceptor(batches.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&config);

    // The bus, a rule on the Pipe's source, and a queue that receives what the rule matches.
    let queue_url = sqs
        .create_queue()
        .queue_name("replayed")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    eventbridge
        .create_event_bus()
        .name(BUS)
        .send()
        .await
        .unwrap();
    eventbridge
        .put_rule()
        .name("flowiq-events")
        .event_bus_name(BUS)
        .event_pattern(r#"{"source": ["flowiq.webhooks"]}"#)
        .send()
        .await
        .unwrap();
    eventbridge
        .put_targets()
        .rule("flowiq-events")
        .event_bus_name(BUS)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // 12 events of one organization (two PutEvents batches: 10 + 2), one of them undated.
    let table = TestTable::new().await;
    let _receiver = table.receiver(Retention(None));
    for n in 0..12 {
        let mut body = json!({"event_type": if n % 2 == 0 { "sent_message" } else { "message_read" },
            "whatsapp_message_id": format!("wamid.eb{n}"), "organization_id": ORG,
            "whatsapp_id": "27830000042", "status": "read",
            "timestamp": format!("2026-03-07T10:00:{n:02}Z")});
        if n == 11 {
            // A type FlowIQ may add later, without a time or a message id.
            body = json!({"event_type": "label_added", "organization_id": ORG, "label": "vip"});
        }
        let body = body.to_string();
        table.store_delivery(&body).await;
    }

    let context = Context {
        eventbridge,
        ..support::context(&table)
    };
    let args = Args::try_parse_from([
        "flowiq-events",
        "replay",
        "list",
        "--org",
        ORG,
        "--since",
        "2026-03-07T00:00:00Z",
        "--to-eventbridge",
        BUS,
        "--rate",
        "1000",
    ])
    .unwrap();
    let mut out = Vec::new();
    let status = run(&args.command, &context, Format::JsonLines, &mut out)
        .await
        .unwrap();
    let summary: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(status, ExitStatus::Success, "{summary}\n{}", moto.log());
    assert_eq!(summary["sent"], 12);
    assert_eq!(
        *batches.0.lock().unwrap(),
        [10, 2],
        "PutEvents batches of at most 10"
    );

    // What the Pipe would have put, from the stored items: its enrichment's detail.
    let expected: BTreeMap<String, (String, Value)> = table
        .items_of_type("event")
        .await
        .iter()
        .map(|item| {
            let event: EventItem = serde_dynamo::from_item(item.clone()).unwrap();
            let detail = serde_json::to_value(EventDetail::of(&event).unwrap()).unwrap();
            (
                s(item, "event_id").to_owned(),
                (s(item, "event_type").to_owned(), detail),
            )
        })
        .collect();
    assert_eq!(expected.len(), 12);

    let mut received: BTreeMap<String, (String, Value)> = BTreeMap::new();
    let mut count = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while count < 12 && Instant::now() < deadline {
        let messages = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        for message in messages {
            let event: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            assert_eq!(event["source"], "flowiq.webhooks", "{event}");
            let detail = event["detail"].clone();
            let id = detail["event_id"].as_str().unwrap().to_owned();
            let detail_type = event["detail-type"].as_str().unwrap().to_owned();
            count += 1;
            received.insert(id, (detail_type, detail));
            sqs.delete_message()
                .queue_url(&queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    assert_eq!(count, 12, "each event once");
    assert_eq!(
        received, expected,
        "detail-type and detail as the Pipe builds them"
    );
    let (detail_type, undated) = received
        .values()
        .find(|(_, d)| d.get("occurred_at").is_none())
        .expect("the undated event, without the members it lacks");
    assert_eq!(detail_type, "label_added");
    assert!(undated.get("whatsapp_message_id").is_none(), "{undated}");
    assert!(
        undated["event"].is_object(),
        "the event as FlowIQ sent it: {undated}"
    );
}
