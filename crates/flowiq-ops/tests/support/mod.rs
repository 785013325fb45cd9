//! Shared by the flowiq-events tests (each test file includes it with `mod support;`).

use flowiq_harness::test_table::TestTable;
use flowiq_ops::events::commands::Context;
use flowiq_ops::queries::EventQueries;

/// Nothing listens here: a client pointed at it fails at once if a test calls it by mistake.
const UNREACHABLE: &str = "http://127.0.0.1:9";

/// The clients of a run against `table` on DynamoDB Local; EventBridge and SQS unreachable
/// (replace them with `Context { eventbridge, ..context(&table) }`).
pub fn context(table: &TestTable) -> Context {
    let eventbridge = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
            .endpoint_url(UNREACHABLE)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .endpoint_url(UNREACHABLE)
            .build(),
    );
    // The receiver's test tables are written with the development contact key.
    let contact_key = flowiq_webhooks::contact_key::ContactKey::local_dev();
    Context {
        queries: EventQueries::new(table.client.clone(), &table.name)
            .with_contact_key(contact_key.clone()),
        contact_key: Some(contact_key),
        dynamodb: table.client.clone(),
        eventbridge,
        sqs,
        spill_queue_url: None,
        forwarding: Default::default(),
    }
}
