//! Shared by the flowiq-events tests.

use flowiq_harness::test_table::{TestTable, sdk_config};
use flowiq_ops::events::commands::Context;
use flowiq_ops::queries::EventQueries;

/// Nothing listens here: a client pointed at it fails at once if a test calls it by mistake.
const UNREACHABLE: &str = "http://127.0.0.1:9";

/// The clients of a run against `table` on DynamoDB Local; EventBridge and SQS unreachable
/// (replace them with `Context { eventbridge, ..context(&table) }`).
pub fn context(table: &TestTable) -> Context {
    let unreachable = sdk_config(UNREACHABLE);
    let (eventbridge, sqs) = (
        aws_sdk_eventbridge::Client::new(&unreachable),
        aws_sdk_sqs::Client::new(&unreachable),
    );
    // The receiver's test tables are written with the development contact key.
    let contact_key = flowiq_webhooks::contact_key::ContactKey::local_dev();
    Context {
        queries: EventQueries {
            client: table.client.clone(),
            table_name: table.name.clone(),
            contact_key: Some(contact_key),
        },
        eventbridge,
        sqs,
    }
}
