//! When DynamoDB cannot be reached, nothing is acknowledged: 503, retryable.

use std::net::TcpListener;

use flowiq_webhooks::delivery::Receiver;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::store::dynamodb::DynamoDbEventStore;
use flowiq_webhooks::webhook_tokens::WebhookTokens;

use crate::support::*;

#[tokio::test]
async fn dynamodb_unreachable_gives_503_never_2xx() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = client_for(&format!("http://127.0.0.1:{port}"));
    let receiver = Receiver::new(
        DynamoDbEventStore::new(client, "no-such-table"),
        WebhookTokens::parse(DEV_TOKEN).unwrap(),
        Retention(None),
        flowiq_webhooks::contact_key::ContactKey::local_dev(),
    );
    for file in ["whatsapp-message-received.json", "whatsapp-call.json"] {
        let answer = send(&receiver, request(&sample(file))).await;
        assert_eq!(answer.status, 503, "{file}");
        assert_eq!(answer.json["error"], "storage_unavailable");
        assert_eq!(answer.response.headers()["retry-after"], "1");
    }
    // A bad body cannot be kept either: 503 too, so FlowIQ retries instead of losing it.
    let answer = send(&receiver, delivery("whatsapp", DEV_TOKEN, "not json")).await;
    assert_eq!(answer.status, 503);
    // A stranger is still refused without touching storage.
    assert_eq!(
        send(&receiver, delivery("whatsapp", "wrong", "{}"))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn a_missing_table_is_a_503_too() {
    let table = TestTable::new().await;
    let receiver = Receiver::new(
        DynamoDbEventStore::new(table.client.clone(), "flowiq-table-that-does-not-exist"),
        WebhookTokens::parse(DEV_TOKEN).unwrap(),
        Retention(None),
        flowiq_webhooks::contact_key::ContactKey::local_dev(),
    );
    let answer = send(&receiver, request(&sample("whatsapp-message-sent.json"))).await;
    assert_eq!(answer.status, 503);
}

/// The connection warm-up of the function's init (`DynamoDbEventStore::warm_up`): succeeds on the
/// real table without writing anything, and names the problem when the table is missing or
/// DynamoDB is unreachable, so the function can log it at start-up (it never stops the function
/// from starting).
#[tokio::test]
async fn the_init_warm_up_writes_nothing_and_names_what_is_wrong() {
    let table = TestTable::new().await;
    let store = DynamoDbEventStore::new(table.client.clone(), &table.name);
    store.warm_up().await.expect("the table exists");
    store.warm_up().await.expect("and again");
    assert!(
        table.all_items().await.is_empty(),
        "the warm-up never writes"
    );

    let missing = DynamoDbEventStore::new(table.client.clone(), "flowiq-table-that-does-not-exist")
        .warm_up()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("DynamoDB PutItem failed") && missing.contains("ResourceNotFound"),
        "{missing}"
    );

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = DynamoDbEventStore::new(client_for(&format!("http://127.0.0.1:{port}")), "t")
        .warm_up()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        unreachable.starts_with("DynamoDB PutItem failed"),
        "{unreachable}"
    );
}
