//! The webhook tokens read from moto's Secrets Manager (on the wire), as the function reads them
//! in AWS: at start, and again when due, keeping the last good tokens when a re-read fails.

use std::time::{Duration, Instant};

use flowiq_harness::moto_server::MotoServer;
use flowiq_harness::test_table::sdk_config;
use flowiq_webhooks::lambda_function::refresh_tokens;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::store::memory::InMemoryEventStore;
use flowiq_webhooks::token_secret::{REFRESH_AFTER, RETRY_AFTER, TokenRefresh, TokenSecret};

use crate::support::*;

const NEW_TOKEN: &str = "rotated-token-rotated-token-rotated-0001";

async fn put(client: &aws_sdk_secretsmanager::Client, id: &str, value: &str) {
    client
        .put_secret_value()
        .secret_id(id)
        .secret_string(value)
        .send()
        .await
        .unwrap();
}

/// A delivery of a new event with `token`: its status (200 or 401).
async fn status_with(
    receiver: &flowiq_webhooks::delivery::Receiver<InMemoryEventStore>,
    token: &str,
    n: u32,
) -> u16 {
    let body = format!(
        r#"{{"event_type":"message_read","whatsapp_message_id":"wamid.secret-{n}","organization_id":"org-s","status":"read","timestamp":"2026-03-07T00:00:00.000Z","whatsapp_id":"27830000001"}}"#
    );
    let response =
        flowiq_webhooks::http_handler::handle(receiver, delivery("whatsapp", token, &body)).await;
    response.status().as_u16()
}

#[tokio::test]
async fn a_rotation_in_the_secret_reaches_the_function_without_a_deploy() {
    let moto = MotoServer::start();
    let sdk = sdk_config(&moto.endpoint());
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = client
        .create_secret()
        .name("WebhookTokenSecret-test")
        .secret_string(format!(r#"{{"token":"{DEV_TOKEN}"}}"#))
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();

    // Init: the tokens as the function reads them.
    let secret = TokenSecret::new(&sdk, &arn);
    let started = Instant::now();
    let tokens = secret.fetch().await.unwrap();
    let receiver = receiver(InMemoryEventStore::default(), Retention(None));
    receiver.replace_tokens(tokens);
    let refresh = TokenRefresh::new(secret.clone(), started);
    assert_eq!(status_with(&receiver, DEV_TOKEN, 1).await, 200);
    assert_eq!(status_with(&receiver, NEW_TOKEN, 2).await, 401);

    // Step 1 of the rotation: a new token, the old one as "previous". Not read before it is due.
    put(
        &client,
        &arn,
        &format!(r#"{{"token":"{NEW_TOKEN}","previous":"{DEV_TOKEN}"}}"#),
    )
    .await;
    assert!(
        refresh
            .refresh_if_due(started + REFRESH_AFTER / 2)
            .await
            .is_none()
    );
    let due = started + REFRESH_AFTER;
    receiver.replace_tokens(refresh.refresh_if_due(due).await.unwrap().unwrap());
    assert_eq!(status_with(&receiver, NEW_TOKEN, 3).await, 200);
    assert_eq!(status_with(&receiver, DEV_TOKEN, 4).await, 200);

    // A broken secret: the re-read fails, the last good tokens stay, and it is retried later.
    put(&client, &arn, r#"{"tokn":"typo"}"#).await;
    let next = due + REFRESH_AFTER;
    let err = refresh
        .refresh_if_due(next)
        .await
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not a JSON object with a string \"token\""),
        "{err}"
    );
    assert!(!err.contains("typo"), "never quotes the secret: {err}");
    assert_eq!(status_with(&receiver, NEW_TOKEN, 5).await, 200);
    assert!(
        refresh
            .refresh_if_due(next + RETRY_AFTER / 2)
            .await
            .is_none()
    );

    // Step 3: "previous" removed; the old token is refused once the secret is read again.
    put(&client, &arn, &format!(r#"{{"token":"{NEW_TOKEN}"}}"#)).await;
    receiver.replace_tokens(
        refresh
            .refresh_if_due(next + RETRY_AFTER)
            .await
            .unwrap()
            .unwrap(),
    );
    assert_eq!(status_with(&receiver, NEW_TOKEN, 6).await, 200);
    assert_eq!(status_with(&receiver, DEV_TOKEN, 7).await, 401);
}

#[tokio::test]
async fn the_wiring_refreshes_the_receivers_tokens_and_keeps_them_on_failure() {
    let moto = MotoServer::start();
    let sdk = sdk_config(&moto.endpoint());
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    client
        .create_secret()
        .name("tokens")
        .secret_string(format!(r#"{{"token":"{NEW_TOKEN}"}}"#))
        .send()
        .await
        .unwrap();
    let receiver = receiver(InMemoryEventStore::default(), Retention(None));
    // Read long ago: due now.
    let long_ago = Instant::now() - REFRESH_AFTER - Duration::from_secs(1);
    let refresh = TokenRefresh::new(TokenSecret::new(&sdk, "tokens"), long_ago);
    refresh_tokens(&refresh, &receiver).await;
    assert_eq!(status_with(&receiver, NEW_TOKEN, 1).await, 200);
    assert_eq!(status_with(&receiver, DEV_TOKEN, 2).await, 401);

    // A secret the function cannot read: the tokens read before stay.
    let missing = TokenRefresh::new(TokenSecret::new(&sdk, "no-such-secret"), long_ago);
    refresh_tokens(&missing, &receiver).await;
    assert_eq!(status_with(&receiver, NEW_TOKEN, 3).await, 200);
    let err = TokenSecret::new(&sdk, "no-such-secret")
        .fetch()
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("cannot read secret no-such-secret (GetSecretValue)"),
        "{err}"
    );
}
