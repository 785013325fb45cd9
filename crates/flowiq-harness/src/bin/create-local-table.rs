//! Creates the events table on DynamoDB Local from template.yaml (used by `scripts/run-local`).
//!
//! `TABLE_NAME=flowiq-events AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 cargo run -p flowiq-harness --bin create-local-table`

use anyhow::{Context as _, bail};
use flowiq_harness::events_table;
use flowiq_webhooks::store::dynamodb::load_client;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let table = std::env::var("TABLE_NAME").context("set TABLE_NAME to the table to create")?;
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        bail!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: this tool is for DynamoDB Local; deploy with `sam deploy` for AWS"
        );
    }
    let created = events_table::create(&load_client().await, &table).await?;
    println!(
        "table {table}: {}",
        if created {
            "created from template.yaml"
        } else {
            "already exists"
        }
    );
    Ok(())
}
