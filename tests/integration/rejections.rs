//! What is not accepted: strangers get 401 and leave nothing; bad bodies with a valid token get a
//! clear 4xx and leave a `rejected` item; wrong routes and methods get 404 / 405.

use flowiq_webhooks::records::Retention;
use flowiq_webhooks::webhook_event::MAX_BODY_BYTES;
use sha2::{Digest, Sha256};

use crate::support::*;

#[tokio::test]
async fn missing_or_wrong_tokens_get_401_and_store_nothing() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let body = sample("whatsapp-message-delivered.json")["body"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong_tokens = [
        String::new(),
        "x".repeat(40),
        DEV_TOKEN[..DEV_TOKEN.len() - 1].to_owned(),
        DEV_TOKEN[..16].to_owned(),
        format!("{DEV_TOKEN}0"),
        DEV_TOKEN.to_uppercase(),
        format!("{DEV_TOKEN},{OTHER_TOKEN}"),
    ];
    for token in &wrong_tokens {
        for platform in ["whatsapp", "web"] {
            let answer = send(&receiver, delivery(platform, token, &body)).await;
            assert_eq!(answer.status, 401, "{token:?}");
            assert_eq!(answer.json["error"], "unauthorized");
            let text = answer.json.to_string();
            assert!(
                !text.contains(DEV_TOKEN) && (token.is_empty() || !text.contains(token.as_str()))
            );
        }
    }
    assert!(
        table.all_items().await.is_empty(),
        "nothing is stored for a stranger"
    );
    // Both tokens of a rotation are accepted.
    for token in [DEV_TOKEN, OTHER_TOKEN] {
        assert_eq!(
            send(&receiver, delivery("whatsapp", token, &body))
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn bad_bodies_get_400_naming_the_problem_and_are_kept() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let cases: [(&[u8], &str); 8] = [
        (b"", "body is empty"),
        (b"not json", "not valid JSON"),
        (b"[1,2]", "must be a JSON object, got an array"),
        (b"42", "got a number"),
        (br#"{"organization_id":"o"}"#, "no `event_type`"),
        (br#"{"event_type":7}"#, "`event_type` must be a string"),
        (
            br#"{"event_type":"message_read","whatsapp_message_id":"w","organization_id":"o","timestamp":"2026-03-07T00:00:00Z","whatsapp_id":27830000001}"#,
            "field `whatsapp_id`: invalid type: integer",
        ),
        (
            br#"{"event_type":"message_read","whatsapp_message_id":"w","organization_id":"o","timestamp":"last tuesday"}"#,
            "field `timestamp` is not an RFC 3339",
        ),
    ];
    for (body, problem) in cases {
        let text = String::from_utf8(body.to_vec()).unwrap();
        let answer = send(&receiver, delivery("whatsapp", DEV_TOKEN, &text)).await;
        assert_eq!(answer.status, 400, "{text}");
        assert_eq!(answer.json["error"], "invalid_body");
        let message = answer.json["message"].as_str().unwrap();
        assert!(message.contains(problem), "{text}: {message}");

        let rejected = table.items_of_type("rejected").await;
        let kept = rejected
            .iter()
            .find(|r| s(r, "body_sha256") == hex::encode(Sha256::digest(body)))
            .unwrap();
        assert_eq!(s(kept, "body"), text, "the raw body is kept");
        assert_eq!(s(kept, "reason"), message);
        assert_eq!(kept["status_code"].as_n().unwrap(), "400");
    }
    assert!(table.items_of_type("event").await.is_empty());
}

#[tokio::test]
async fn a_base64_body_that_is_not_utf8_is_kept_as_bytes() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let mut event = sample("whatsapp-message-read.json");
    event["body"] = "/w==".into(); // base64 of the single byte 0xFF
    event["isBase64Encoded"] = true.into();
    let answer = send(&receiver, request(&event)).await;
    assert_eq!(answer.status, 400);
    assert!(answer.json["message"].as_str().unwrap().contains("UTF-8"));
    let rejected = &table.items_of_type("rejected").await[0];
    assert_eq!(rejected["body_bytes"].as_b().unwrap().as_ref(), &[0xFF]);
}

#[tokio::test]
async fn a_base64_encoded_valid_body_is_stored() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let mut event = sample("whatsapp-message-read.json");
    let raw = event["body"].as_str().unwrap().to_owned();
    event["body"] = base64_encode(raw.as_bytes()).into();
    event["isBase64Encoded"] = true.into();
    let answer = send(&receiver, request(&event)).await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("stored")),
        "{}",
        answer.json
    );
    assert_eq!(stored_body(&table.items_of_type("event").await[0]), raw);
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_its_size_and_hash_are_kept() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let body = format!(
        r#"{{"event_type":"message_received","message":"{}"}}"#,
        "a".repeat(MAX_BODY_BYTES)
    );
    let answer = send(&receiver, delivery("whatsapp", DEV_TOKEN, &body)).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json["error"], "body_too_large");
    assert!(
        answer.json["message"]
            .as_str()
            .unwrap()
            .contains(&MAX_BODY_BYTES.to_string())
    );
    let rejected = &table.items_of_type("rejected").await[0];
    assert_eq!(
        rejected["body_size"].as_n().unwrap(),
        &body.len().to_string()
    );
    assert_eq!(
        s(rejected, "body_sha256"),
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    assert!(!rejected.contains_key("body"));
}

#[tokio::test]
async fn unknown_routes_get_404_and_other_methods_405() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let body = Some(r#"{"event_type":"call"}"#);
    for path in [
        "/".to_owned(),
        "/webhooks".to_owned(),
        format!("/webhooks/sms/{DEV_TOKEN}"),
        format!("/webhooks/whatsapp/{DEV_TOKEN}/extra"),
        format!("/hooks/whatsapp/{DEV_TOKEN}"),
        format!("/webhooks/../webhooks/whatsapp/{DEV_TOKEN}"),
    ] {
        let answer = send(&receiver, v2_request("POST", &path, body)).await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(!answer.json.to_string().contains(DEV_TOKEN));
    }
    for method in ["GET", "PUT", "DELETE"] {
        let answer = send(
            &receiver,
            v2_request(method, &format!("/webhooks/whatsapp/{DEV_TOKEN}"), body),
        )
        .await;
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.response.headers()["allow"], "POST");
    }
    assert!(table.all_items().await.is_empty());
}
