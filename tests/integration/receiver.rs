//! Accepted deliveries: every sample stored with its attributes, and exactly once.

use flowiq_webhooks::clock::normalize_rfc3339;
use flowiq_webhooks::records::Retention;
use flowiq_webhooks::stored_body::DEFLATE_ABOVE;
use futures::future::join_all;
use serde_json::Value;

use crate::support::*;

fn sample_files() -> Vec<String> {
    let files = delivery_sample_files();
    assert!(
        files.len() >= 15,
        "events/ has a sample per event type and platform: {files:?}"
    );
    files
}

#[tokio::test]
async fn every_sample_event_is_stored_with_its_attributes() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    for file in sample_files() {
        let event = sample(&file);
        let raw_body = sample_body(&event);
        let payload: Value = serde_json::from_str(&raw_body).unwrap();
        let answer = send(&receiver, request(&event)).await;
        assert_eq!(answer.status, 200, "{file}: {}", answer.json);
        assert_eq!(answer.json["status"], "stored", "{file}");
        let event_id = answer.json["event_id"].as_str().unwrap().to_owned();

        let items = table.items_of_type("event").await;
        let item = items
            .iter()
            .find(|i| s(i, "event_id") == event_id)
            .unwrap_or_else(|| panic!("{file}: not stored"));
        assert_eq!(s(item, "platform"), sample_platform(&event), "{file}");
        assert_eq!(
            s(item, "event_type"),
            payload["event_type"].as_str().unwrap(),
            "{file}"
        );
        assert_eq!(
            s(item, "organization_id"),
            payload["organization_id"].as_str().unwrap(),
            "{file}"
        );
        assert_eq!(
            s(item, "whatsapp_message_id"),
            payload["whatsapp_message_id"].as_str().unwrap_or(""),
            "{file}"
        );
        assert!(
            !item.contains_key("whatsapp_id") && !item.contains_key("contact_id"),
            "{file}: the contact's number and id are in the body only"
        );
        let body_attribute = if raw_body.len() > DEFLATE_ABOVE {
            "body_zd1"
        } else {
            "body"
        };
        assert!(
            item.contains_key(body_attribute),
            "{file}: {body_attribute}"
        );
        assert_eq!(
            stored_body(item),
            raw_body,
            "{file}: the body is kept exactly as received"
        );
        let timestamp = payload["timestamp"]
            .as_str()
            .or(payload["created_at"].as_str())
            .unwrap();
        assert_eq!(
            s(item, "occurred_at"),
            normalize_rfc3339(timestamp).unwrap(),
            "{file}"
        );
        assert!(normalize_rfc3339(s(item, "received_at")).is_ok(), "{file}");
        assert!(!item.contains_key("expires_at"), "{file}: no retention set");
        assert!(
            s(item, "org_pk").starts_with("ORG#6f1c2b9e-3d4a-4e8b-9c7d-1a2b3c4d5e6f#"),
            "{file}"
        );
        // A contact's conversation lists content events and events of no message, never
        // receipts (a message's statuses are read from its own partition).
        let event_type = s(item, "event_type");
        let receipt = event_type.starts_with("message_") && event_type != "message_received";
        assert_eq!(item.contains_key("contact_pk"), !receipt, "{file}");
    }
    assert_eq!(
        table.items_of_type("event").await.len(),
        sample_files().len()
    );

    // The inbound text message.
    let inbound = sample_payload("whatsapp-message-received.json");
    let message = table
        .message(inbound["whatsapp_message_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(s(&message, "direction"), "inbound");
    assert_eq!(s(&message, "status"), "received");
    assert_eq!(s(&message, "text"), inbound["message"].as_str().unwrap());
    assert_eq!(
        s(&message, "whatsapp_id"),
        inbound["whatsapp_id"].as_str().unwrap()
    );
    assert_eq!(
        s(&message, "contact_id"),
        inbound["contact_id"].as_str().unwrap()
    );
    assert_eq!(
        s(&message, "received_at"),
        normalize_rfc3339(inbound["timestamp"].as_str().unwrap()).unwrap()
    );
    // The number's keyed hash (the development key; docs/reference/contact_key.py gives the same),
    // never the number itself, in the index key.
    assert_eq!(
        s(&message, "contact_pk"),
        "CONTACT#6f1c2b9e-3d4a-4e8b-9c7d-1a2b3c4d5e6f#wah:kVCsk4Epz4VHl8QNfdXZ-Q"
    );
    assert!(s(&message, "contact_sk").starts_with(s(&message, "received_at")));

    // The outbound message whose whole lifecycle is in events/: content merged from sent_message,
    // a time per status, and `failed` (the samples fail it after it was read) as the final status.
    let outbound = sample_payload("whatsapp-sent-message.json");
    let message = table
        .message(outbound["whatsapp_message_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(s(&message, "direction"), "outbound");
    assert_eq!(s(&message, "text"), outbound["message"].as_str().unwrap());
    assert_eq!(s(&message, "sender_type"), "bot-whatsapp");
    assert_eq!(s(&message, "status"), "failed");
    for (attribute, file) in [
        ("sent_at", "whatsapp-message-sent.json"),
        ("delivered_at", "whatsapp-message-delivered.json"),
        ("read_at", "whatsapp-message-read.json"),
        ("failed_at", "whatsapp-message-failed.json"),
    ] {
        let timestamp = sample_payload(file)["timestamp"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            s(&message, attribute),
            normalize_rfc3339(&timestamp).unwrap(),
            "{attribute}"
        );
    }
    assert_eq!(message["status_history"].as_ss().unwrap().len(), 5);

    // A warning is recorded and changes no status.
    let warning = sample_payload("whatsapp-message-failed-warning.json");
    let message = table
        .message(warning["whatsapp_message_id"].as_str().unwrap())
        .await
        .unwrap();
    assert!(!message.contains_key("status"));
    assert!(message["status_history"].as_ss().unwrap()[0].ends_with(" warning"));

    // Web events and unknown types have no WhatsApp message: no message item for them.
    let message_items = table.messages().await;
    assert!(message_items.iter().all(|m| s(m, "platform") == "whatsapp"));
}

#[tokio::test]
async fn web_platform_events_are_typed_and_stored() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let answer = send(&receiver, request(&sample("web-sent-message.json"))).await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("stored"))
    );
    let items = table.items_of_type("event").await;
    assert_eq!(items.len(), 1);
    assert_eq!(s(&items[0], "platform"), "web");
    assert_eq!(s(&items[0], "event_type"), "sent_message");
    let contact = sample_payload("web-sent-message.json")["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(s(&items[0], "contact_pk").ends_with(&format!("#id:{contact}")));
}

#[tokio::test]
async fn unknown_event_types_and_calls_are_stored_generically() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    for body in [
        r#"{"event_type":"call","organization_id":"org-1","timestamp":"2026-03-07T10:00:00Z","call_id":"c-1"}"#,
        r#"{"event_type":"something_new","whatsapp_id":12345,"nested":{"deep":[1,2,3]}}"#,
    ] {
        let answer = send(&receiver, delivery("whatsapp", DEV_TOKEN, body)).await;
        assert_eq!(answer.status, 200, "{}", answer.json);
        assert_eq!(answer.json["status"], "stored");
    }
    let items = table.items_of_type("event").await;
    assert_eq!(items.len(), 2);
    let undated = items
        .iter()
        .find(|i| s(i, "event_type") == "something_new")
        .unwrap();
    assert!(s(undated, "sk").starts_with("EVENT#undated#"));
    assert!(
        !undated.contains_key("org_pk"),
        "no organization, no organization index entry"
    );
    assert!(table.messages().await.is_empty());
}

#[tokio::test]
async fn rest_api_v1_deliveries_are_stored() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let event = sample("rest-api-v1-message-delivered.json");
    let answer = send(&receiver, request(&event)).await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("stored")),
        "{}",
        answer.json
    );
    let payload = sample_payload("rest-api-v1-message-delivered.json");
    let message = table
        .message(payload["whatsapp_message_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(s(&message, "status"), "delivered");
}

#[tokio::test]
async fn a_redelivery_is_a_duplicate_even_reserialised() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let event = sample("whatsapp-message-delivered.json");
    let first = send(&receiver, request(&event)).await;
    assert_eq!(first.json["status"], "stored");
    let again = send(&receiver, request(&event)).await;
    assert_eq!(
        (again.status, again.json["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(again.json["event_id"], first.json["event_id"]);

    // Same event, other key order and whitespace.
    let payload = sample_payload("whatsapp-message-delivered.json");
    let mut fields: Vec<(String, Value)> =
        payload.as_object().unwrap().clone().into_iter().collect();
    fields.reverse();
    let reordered = format!(
        "{{\n  {}\n}}",
        fields
            .iter()
            .map(|(k, v)| format!("{k:?} :  {v}"))
            .collect::<Vec<_>>()
            .join(",\n  ")
    );
    assert_ne!(reordered, event["body"].as_str().unwrap());
    let reserialised = send(&receiver, delivery("whatsapp", DEV_TOKEN, &reordered)).await;
    assert_eq!(reserialised.json["status"], "duplicate");
    assert_eq!(reserialised.json["event_id"], first.json["event_id"]);

    // The read receipt of the same message is another event.
    let read = send(&receiver, request(&sample("whatsapp-message-read.json"))).await;
    assert_eq!(read.json["status"], "stored");
    assert_ne!(read.json["event_id"], first.json["event_id"]);
    assert_eq!(table.items_of_type("event").await.len(), 2);
}

#[tokio::test]
async fn twenty_concurrent_deliveries_of_one_event_store_one_item() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let event = sample("whatsapp-message-read.json");
    let answers = join_all((0..20).map(|_| send(&receiver, request(&event)))).await;
    assert!(answers.iter().all(|a| a.status == 200));
    let stored = answers
        .iter()
        .filter(|a| a.json["status"] == "stored")
        .count();
    let duplicates = answers
        .iter()
        .filter(|a| a.json["status"] == "duplicate")
        .count();
    assert_eq!((stored, duplicates), (1, 19));
    assert_eq!(table.items_of_type("event").await.len(), 1);
    assert_eq!(table.messages().await.len(), 1);
}

#[tokio::test]
async fn retention_sets_the_ttl_attribute() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(Some(30)));
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let answer = send(&receiver, request(&sample("whatsapp-message-sent.json"))).await;
    assert_eq!(answer.status, 200);
    let after = time::OffsetDateTime::now_utc().unix_timestamp();
    let event = &table.items_of_type("event").await[0];
    let message = &table.messages().await[0];
    for item in [event, message] {
        let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
        assert!((before + 30 * 86_400..=after + 30 * 86_400).contains(&expires));
    }
}

/// API Gateway keeps a named stage and a custom domain's base path in the path it passes on;
/// function URLs give no path parameters. Each AWS-shaped sample is routed and stored.
#[tokio::test]
async fn aws_shaped_events_route_behind_stages_custom_domains_and_function_urls() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    for file in [
        "whatsapp-message-delivered.json",      // HTTP API, $default stage
        "http-api-named-stage.json",            // HTTP API, stage `prod` in rawPath
        "http-api-custom-domain.json",          // HTTP API, custom domain, base path `flowiq`
        "rest-api-v1-message-delivered.json",   // REST API, stage `prod`
        "rest-api-custom-domain.json",          // REST API, custom domain, base path `flowiq`
        "function-url.json",                    // function URL: no path parameters
        "http-api-base64-no-content-type.json", // base64 body, no content type
    ] {
        let event = sample(file);
        let answer = send(&receiver, request(&event)).await;
        assert_eq!(answer.status, 200, "{file}: {}", answer.json);
        assert_eq!(answer.json["status"], "stored", "{file}");
        let event_id = answer.json["event_id"].as_str().unwrap().to_owned();
        let stored = table.items_of_type("event").await;
        let item = stored.iter().find(|i| s(i, "event_id") == event_id);
        assert_eq!(item.map(stored_body), Some(sample_body(&event)), "{file}");
    }

    // The token comes from the token position only: a wrong token there is 401 whatever the
    // path's prefix says, and a near miss of the route is 404.
    let mut wrong_token = sample("http-api-named-stage.json");
    wrong_token["pathParameters"]["token"] = "wrong-token-but-long-enough-0123456789".into();
    assert_eq!(send(&receiver, request(&wrong_token)).await.status, 401);
    let mut near_miss = sample("function-url.json");
    let path = format!("{}/extra", near_miss["rawPath"].as_str().unwrap());
    near_miss["rawPath"] = path.clone().into();
    near_miss["requestContext"]["http"]["path"] = path.into();
    assert_eq!(send(&receiver, request(&near_miss)).await.status, 404);
    let mut token_in_prefix = sample("function-url.json");
    let path = format!("/{DEV_TOKEN}/webhooks/whatsapp/not-the-token");
    token_in_prefix["rawPath"] = path.clone().into();
    token_in_prefix["requestContext"]["http"]["path"] = path.into();
    assert_eq!(send(&receiver, request(&token_in_prefix)).await.status, 401);
}
