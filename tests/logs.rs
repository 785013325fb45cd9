//! The logs of a full run (every sample, duplicates, bad bodies, strangers) at the default level:
//! one JSON object per line with the documented fields, and never a token, phone number or text.
//!
//! Its own test binary: the production subscriber is installed process-wide, as in the function
//! (a thread-local one can miss events whose callsites other test threads registered first).

#[path = "integration/support/mod.rs"]
#[allow(dead_code, unused_imports)] // shared with tests/integration; this binary uses part of it
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use flowiq_webhooks::records::Retention;
use flowiq_webhooks::telemetry;
use serde_json::Value;

use support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_are_json_with_outcomes_and_leak_no_secrets_or_personal_data() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(telemetry::subscriber(move || writer.clone())).unwrap();

    let mut secrets = vec![
        DEV_TOKEN.to_owned(),
        OTHER_TOKEN.to_owned(),
        "wrong-token-but-long-enough-0123456789".to_owned(),
    ];
    for file in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/events")).unwrap() {
        let name = file.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".json") || name.starts_with("dynamodb-stream") {
            continue;
        }
        let event = sample(&name);
        let payload = sample_payload(&name);
        for field in ["whatsapp_id", "message"] {
            if let Some(text) = payload[field].as_str() {
                secrets.push(text.to_owned());
            }
        }
        assert_eq!(send(&receiver, request(&event)).await.status, 200);
        assert_eq!(send(&receiver, request(&event)).await.status, 200);
        let body = sample_body(&event);
        assert_eq!(
            send(&receiver, delivery("whatsapp", &secrets[2], &body))
                .await
                .status,
            401
        );
    }
    // A rejected body whose error message quotes a phone number and a message text.
    let quoted = r#"{"event_type":"sent_message","organization_id":"o","whatsapp_message_id":"w","timestamp":"2026-03-07T00:00:00Z","whatsapp_id":"27839999999","message":"my private text","read_receipt_received":"27839999999 my private text"}"#;
    let answer = send(&receiver, delivery("whatsapp", DEV_TOKEN, quoted)).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.json["message"]
            .as_str()
            .unwrap()
            .contains("27839999999"),
        "the sender is told"
    );
    secrets.extend(["27839999999".to_owned(), "my private text".to_owned()]);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let stored: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "stored").collect();
    assert!(!stored.is_empty());
    for line in &stored {
        for field in [
            "request_id",
            "platform",
            "event_type",
            "event_id",
            "outcome",
            "latency_ms",
            "status",
        ] {
            assert!(!line[field].is_null(), "{field} missing in {line}");
        }
    }
    assert!(lines.iter().any(|l| l["outcome"] == "duplicate"));
    assert!(lines.iter().any(|l| l["outcome"] == "unauthorized"));
    let rejected = lines.iter().find(|l| l["outcome"] == "rejected").unwrap();
    assert_eq!(
        rejected["reason"],
        "sent_message event: field `read_receipt_received` is missing or invalid"
    );
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the logs contain {secret:?}"
        );
    }
}
