//! A catalogue of hostile or broken requests, each with its expected answer. None panics, none is
//! a 5xx; with a valid token every 400/413 leaves its `rejected` item, valid events are stored,
//! and requests without a valid token or route leave nothing.

use flowiq_webhooks::records::Retention;
use flowiq_webhooks::webhook_event::MAX_BODY_BYTES;
use sha2::{Digest, Sha256};

use crate::support::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kept {
    /// Nothing is written.
    Nothing,
    /// A `rejected` item with the body's hash.
    Rejected,
    /// A new `event` item.
    Event,
}

struct Case {
    name: &'static str,
    method: &'static str,
    /// `{T}` stands for the valid token.
    path: String,
    body: Vec<u8>,
    base64: bool,
    content_type: Option<&'static str>,
    status: u16,
    kept: Kept,
}

const WA: &str = "/webhooks/whatsapp/{T}";

fn case(name: &'static str, body: impl Into<Vec<u8>>, status: u16) -> Case {
    let kept = match status {
        200 => Kept::Event,
        400 | 413 => Kept::Rejected,
        _ => Kept::Nothing,
    };
    Case {
        name,
        method: "POST",
        path: WA.into(),
        body: body.into(),
        base64: false,
        content_type: Some("application/json"),
        status,
        kept,
    }
}

fn at(case: Case, path: &str) -> Case {
    Case {
        path: path.into(),
        kept: Kept::Nothing,
        ..case
    }
}

/// A valid message_read receipt, unique per `n`.
fn read(n: u32) -> String {
    format!(
        r#"{{"event_type":"message_read","whatsapp_message_id":"wamid.hostile-{n}","organization_id":"org-h","status":"read","timestamp":"2026-03-07T00:00:00.000Z","whatsapp_id":"27830000001"}}"#
    )
}

/// `message_read` with one field replaced by `value` (raw JSON).
fn read_with(field: &str, value: &str) -> String {
    let mut body: serde_json::Value = serde_json::from_str(&read(0)).unwrap();
    body[field] = serde_json::from_str(value).unwrap();
    body.to_string()
}

/// An unknown event whose `x` is `depth` nested arrays.
fn nested(depth: usize) -> String {
    format!(
        r#"{{"event_type":"call","x":{}1{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

fn catalogue() -> Vec<Case> {
    let nested_arrays = format!(
        r#"{{"event_type":"call","x":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let nested_objects = format!(
        r#"{{"event_type":"call","x":{}1{}}}"#,
        r#"{"a":"#.repeat(100_000),
        "}".repeat(100_000)
    );
    let big_digits = format!(r#"{{"event_type":"call","n":{}}}"#, "9".repeat(10_000));
    let long_text = format!(
        r#"{{"event_type":"message_received","organization_id":"org-h","timestamp":"2026-03-07T00:00:00Z","whatsapp_message_id":"wamid.long","whatsapp_id":"27830000001","message_type":"text","message":"{}"}}"#,
        "x".repeat(MAX_BODY_BYTES - 300)
    );
    let just_over = format!(
        r#"{{"event_type":"call","pad":"{}"}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(read(1).encode_utf16().flat_map(|u| u.to_le_bytes()));
    let mut utf8_bom = b"\xEF\xBB\xBF".to_vec();
    utf8_bom.extend(read(2).into_bytes());

    let mut cases = vec![
        // Not JSON at all.
        case("empty body", "", 400),
        case("whitespace only", " \r\n\t ", 400),
        case("plain text", "hello", 400),
        case(
            "truncated JSON",
            r#"{"event_type":"message_read","whatsapp_message_id":"#,
            400,
        ),
        case("trailing garbage", r#"{"event_type":"call"} trailing"#, 400),
        case(
            "two JSON documents",
            r#"{"event_type":"call"}{"event_type":"call"}"#,
            400,
        ),
        case("JSON with comments", r#"{/* c */"event_type":"call"}"#, 400),
        case("single quotes", "{'event_type':'call'}", 400),
        case("unquoted keys", "{event_type:\"call\"}", 400),
        case("NaN", r#"{"event_type":"call","n":NaN}"#, 400),
        case("Infinity", r#"{"event_type":"call","n":Infinity}"#, 400),
        case(
            "number out of range",
            r#"{"event_type":"call","n":1e400}"#,
            400,
        ),
        case("10,000-digit number", big_digits, 400),
        case(
            "100,000 nested arrays (over the size limit)",
            nested_arrays,
            413,
        ),
        case(
            "100,000 nested objects (over the size limit)",
            nested_objects,
            413,
        ),
        case("30,000 nested arrays", nested(30_000), 400),
        case("200 nested arrays (over the depth limit)", nested(200), 400),
        case(
            "invalid UTF-8",
            b"{\"event_type\":\"call\",\"x\":\"\xff\xfe\"}".to_vec(),
            400,
        ),
        case("UTF-16 with BOM", utf16, 400),
        case(
            "lone surrogate escape",
            r#"{"event_type":"call","x":"\ud800"}"#,
            400,
        ),
        case(
            "raw control character in a string",
            "{\"event_type\":\"call\",\"x\":\"a\x01b\"}",
            400,
        ),
        case(
            "duplicate keys",
            r#"{"event_type":"call","event_type":"message_read"}"#,
            400,
        ),
        case(
            "duplicate nested keys",
            r#"{"event_type":"call","x":{"a":1,"a":2}}"#,
            400,
        ),
        // JSON, but not an event.
        case("null", "null", 400),
        case("true", "true", 400),
        case("a number", "42", 400),
        case("a string", r#""message_read""#, 400),
        case("an empty array", "[]", 400),
        case("an array of events", format!("[{}]", read(3)), 400),
        case("empty object", "{}", 400),
        case("no event_type", r#"{"organization_id":"org-h"}"#, 400),
        case("event_type null", r#"{"event_type":null}"#, 400),
        case("event_type a number", r#"{"event_type":5}"#, 400),
        case("event_type empty", r#"{"event_type":""}"#, 400),
        case(
            "event_type markup",
            r#"{"event_type":"<script>alert(1)</script>"}"#,
            400,
        ),
        case(
            "event_type 1,000 characters",
            format!(r#"{{"event_type":"{}"}}"#, "a".repeat(1000)),
            400,
        ),
        // Documented types with wrong or missing fields.
        case(
            "read receipt without message id",
            r#"{"event_type":"message_read","organization_id":"o","timestamp":"2026-03-07T00:00:00Z"}"#,
            400,
        ),
        case(
            "message id null",
            read_with("whatsapp_message_id", "null"),
            400,
        ),
        case(
            "message id a number",
            read_with("whatsapp_message_id", "12"),
            400,
        ),
        case(
            "message id with a key separator",
            read_with("whatsapp_message_id", r#""w#1""#),
            400,
        ),
        case(
            "message id of 10,000 characters",
            read_with(
                "whatsapp_message_id",
                &format!("\"{}\"", "w".repeat(10_000)),
            ),
            400,
        ),
        case(
            "organization id an object",
            read_with("organization_id", r#"{"id":1}"#),
            400,
        ),
        case(
            "phone number a number",
            read_with("whatsapp_id", "27830000001"),
            400,
        ),
        case(
            "timestamp not a date",
            read_with("timestamp", r#""yesterday""#),
            400,
        ),
        case(
            "timestamp as epoch number",
            read_with("timestamp", "1772841600"),
            400,
        ),
        case(
            "timestamp 30 February",
            read_with("timestamp", r#""2026-02-30T00:00:00Z""#),
            400,
        ),
        case(
            "timestamp year 99999",
            read_with("timestamp", r#""99999-01-01T00:00:00Z""#),
            400,
        ),
        case(
            "timestamp year 0",
            read_with("timestamp", r#""0000-01-01T00:00:00Z""#),
            400,
        ),
        case(
            "timestamp in year 10000 once converted to UTC",
            read_with("timestamp", r#""9999-12-31T23:00:00-05:00""#),
            400,
        ),
        case(
            "call dated in year 10000 once converted to UTC",
            r#"{"event_type":"call","organization_id":"org-h","timestamp":"9999-12-31T23:00:00-05:00"}"#,
            200,
        ),
        case("timestamp null", read_with("timestamp", "null"), 400),
        case(
            "message text an object",
            r#"{"event_type":"message_received","organization_id":"o","timestamp":"2026-03-07T00:00:00Z","whatsapp_message_id":"w","message":{"t":1}}"#,
            400,
        ),
        case(
            "location a string",
            r#"{"event_type":"message_received","organization_id":"o","timestamp":"2026-03-07T00:00:00Z","whatsapp_message_id":"w","location_data":"here"}"#,
            400,
        ),
        case(
            "receipt flag a string",
            r#"{"event_type":"sent_message","organization_id":"o","timestamp":"2026-03-07T00:00:00Z","whatsapp_message_id":"w","read_receipt_received":"yes"}"#,
            400,
        ),
        // Too large.
        case("one byte over the limit", just_over, 413),
        case("1 MiB", vec![b' '; 1 << 20], 413),
        // Odd but valid: stored.
        case("UTF-8 byte-order mark", utf8_bom, 200),
        case("a message text at the size limit", long_text, 200),
        case(
            "unknown event type with odd fields",
            r#"{"event_type":"brand_new","whatsapp_id":[1],"timestamp":{"x":1},"organization_id":"a#b"}"#,
            200,
        ),
        case(
            "call without a timestamp",
            r#"{"event_type":"call","organization_id":"org-h","call_id":"c-1"}"#,
            200,
        ),
        case(
            "failure with an unknown status",
            r#"{"event_type":"message_failed","whatsapp_message_id":"wamid.h-x","organization_id":"org-h","status":"exploded","timestamp":"2026-03-07T00:00:00Z"}"#,
            200,
        ),
        case(
            "deep but allowed more_data",
            format!(
                r#"{{"event_type":"sent_message","organization_id":"org-h","timestamp":"2026-03-07T00:00:00Z","whatsapp_message_id":"wamid.deep","more_data":{}1{}}}"#,
                r#"{"a":"#.repeat(100),
                "}".repeat(100)
            ),
            200,
        ),
        case(
            "absurd but valid timestamp",
            read_with("timestamp", r#""9999-12-31T23:59:59.999Z""#)
                .replace("hostile-0", "hostile-9999"),
            200,
        ),
        Case {
            content_type: Some("text/plain"),
            ..case("text/plain content type", read(4), 200)
        },
        Case {
            content_type: None,
            ..case("no content type", read(5), 200)
        },
        Case {
            content_type: Some("application/x-www-form-urlencoded"),
            ..case("form content type", read(6), 200)
        },
        Case {
            base64: true,
            ..case("base64-encoded body", read(7), 200)
        },
        Case {
            base64: true,
            ..case("base64-encoded garbage", "not json at all", 400)
        },
        // A custom domain's base path (or a named stage) before the route: stored.
        Case {
            path: "/api/webhooks/whatsapp/{T}".into(),
            ..case("a base path before the route", read(9), 200)
        },
    ];
    // Routing: nothing is read or stored, whatever the body.
    let valid = read(8);
    for (name, path) in [
        ("unknown platform", "/webhooks/sms/{T}"),
        ("platform in capitals", "/webhooks/WhatsApp/{T}"),
        ("extra segment", "/webhooks/whatsapp/{T}/extra"),
        ("trailing slash", "/webhooks/whatsapp/{T}/"),
        ("dot-dot segment", "/webhooks/../webhooks/whatsapp/{T}"),
        ("encoded slash", "/webhooks/whatsapp%2F{T}"),
        ("double slash", "/webhooks//whatsapp/{T}"),
        ("an empty prefix segment", "/api//webhooks/whatsapp/{T}"),
        ("capital route", "/WEBHOOKS/whatsapp/{T}"),
        ("root", "/"),
    ] {
        cases.push(at(case(name, valid.clone(), 404), path));
    }
    for method in ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        cases.push(Case {
            method,
            ..case("other method", valid.clone(), 405)
        });
    }
    for (name, path) in [
        ("missing token", "/webhooks/whatsapp/".to_owned()),
        (
            "wrong token",
            format!("/webhooks/whatsapp/{}", "z".repeat(40)),
        ),
        (
            "token prefix",
            "/webhooks/whatsapp/{T}".replace("{T}", &DEV_TOKEN[..20]),
        ),
        ("token plus suffix", "/webhooks/whatsapp/{T}x".to_owned()),
        (
            "token in capitals",
            "/webhooks/whatsapp/{T}".replace("{T}", &DEV_TOKEN.to_uppercase()),
        ),
        (
            "percent-encoded token",
            "/webhooks/whatsapp/{T}".replace("{T}", &DEV_TOKEN.replace('-', "%2D")),
        ),
        (
            "wrong token on the web path",
            format!("/webhooks/web/{}", "z".repeat(40)),
        ),
    ] {
        cases.push(at(case(name, valid.clone(), 401), &path));
    }
    cases.push(at(
        case("wrong token and a bad body", "not json", 401),
        &format!("/webhooks/whatsapp/{}", "z".repeat(40)),
    ));
    cases
}

#[tokio::test]
async fn every_hostile_request_gets_its_expected_answer_and_loses_nothing() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let cases = catalogue();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let path = case.path.replace("{T}", DEV_TOKEN);
        let (events_before, rejected_before) = (
            table.items_of_type("event").await.len(),
            table.items_of_type("rejected").await.len(),
        );
        let request = raw_request(
            case.method,
            &path,
            &case.body,
            case.base64,
            case.content_type,
        );
        let answer = send(&receiver, request).await;
        let (events_after, rejected_after) = (
            table.items_of_type("event").await.len(),
            table.items_of_type("rejected").await.len(),
        );
        let kept = match (
            events_after - events_before,
            rejected_after - rejected_before,
        ) {
            (0, 0) => Kept::Nothing,
            (1, 0) => Kept::Event,
            (0, 1) => Kept::Rejected,
            other => panic!("{}: wrote {other:?}", case.name),
        };
        let message = answer.json["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if answer.status != case.status || kept != case.kept {
            failures.push(format!(
                "{}: got {} {:?} ({message}), expected {} {:?}",
                case.name, answer.status, kept, case.status, case.kept
            ));
        }
        if answer.status >= 400 {
            assert!(
                !message.is_empty(),
                "{}: an error names the problem",
                case.name
            );
            assert!(
                !message.contains(DEV_TOKEN),
                "{}: the token is never echoed",
                case.name
            );
        }
        if kept == Kept::Rejected {
            let hash = hex::encode(Sha256::digest(&case.body));
            let rejected = table.items_of_type("rejected").await;
            assert!(
                rejected.iter().any(|r| s(r, "body_sha256") == hash),
                "{}: the rejected item keeps the body's hash",
                case.name
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Well formed, and accepted by no receiver here.
const WRONG_TOKEN: &str = "wrong-token-but-well-formed-000000000000";

/// Client-sent `X-Forwarded-Proto` values lambda_http 1.3.2 cannot build a URI from.
const MALFORMED_SCHEMES: [&str; 7] = [
    "evil, https",
    "",
    "a b",
    "https, http",
    ":",
    "1http",
    "ftp:",
];
/// Client-sent `Host` values lambda_http 1.3.2 cannot build a URI from.
const MALFORMED_HOSTS: [&str; 4] = ["a b", "h:99999", "[::1", "hooks.example.com:x"];

const SAMPLES: [&str; 3] = [
    "whatsapp-message-received.json",     // HTTP API, payload v2
    "rest-api-v1-message-delivered.json", // REST API, payload v1
    "function-url.json",                  // function URL (v2, no path parameters)
];

/// `event` with each header named `name` (any case, in `headers` and, in REST API events,
/// `multiValueHeaders`) set to `value`.
fn with_header(mut event: serde_json::Value, name: &str, value: &str) -> serde_json::Value {
    for (map, multi) in [("headers", false), ("multiValueHeaders", true)] {
        let Some(headers) = event[map].as_object_mut() else {
            continue;
        };
        headers.retain(|key, _| !key.eq_ignore_ascii_case(name));
        let value = if multi {
            serde_json::json!([value])
        } else {
            value.into()
        };
        headers.insert(name.to_owned(), value);
    }
    event
}

#[test]
fn lambda_http_still_panics_on_malformed_forwarding_headers() {
    // The reason src/http_event.rs exists: when a lambda_http release stops panicking here, this
    // test fails and the workaround can go.
    // The panic messages are captured with the test's output (shown only if it fails).
    let panics = |event: serde_json::Value| {
        std::panic::catch_unwind(|| lambda_http::request::from_str(&event.to_string())).is_err()
    };
    let mut still_parsed = Vec::new();
    for file in SAMPLES {
        let cases = MALFORMED_SCHEMES
            .iter()
            .map(|value| ("X-Forwarded-Proto", *value))
            .chain(MALFORMED_HOSTS.iter().map(|value| ("Host", *value)));
        for (name, value) in cases {
            if !panics(with_header(sample(file), name, value)) {
                still_parsed.push(format!("{file}, {name}: {value:?}"));
            }
        }
    }
    assert!(
        still_parsed.is_empty(),
        "lambda_http no longer panics on these malformed headers (remove src/http_event.rs's workaround if it panics on none): {still_parsed:?}"
    );
}

#[tokio::test]
async fn malformed_forwarding_headers_get_a_normal_answer() {
    let table = TestTable::new().await;
    let receiver = table.receiver(Retention(None));
    let header_cases = MALFORMED_SCHEMES
        .iter()
        .map(|value| ("X-Forwarded-Proto", *value))
        .chain(MALFORMED_HOSTS.iter().map(|value| ("Host", *value)))
        .chain([("X-Forwarded-Proto", "é"), ("Host", "é")]);
    let mut answers = 0;
    for file in SAMPLES {
        for (name, value) in header_cases.clone() {
            let event = with_header(sample(file), name, value);
            let request = flowiq_webhooks::http_event::request_from_json(&event.to_string())
                .unwrap_or_else(|e| panic!("{file}, {name}: {value:?}: {e}"));
            let answer = send(&receiver, request).await;
            assert_eq!(
                answer.status, 200,
                "{file}, {name}: {value:?}: {}",
                answer.json
            );
            assert!(
                ["stored", "duplicate"].contains(&answer.json["status"].as_str().unwrap()),
                "{file}, {name}: {value:?}: {}",
                answer.json
            );
            answers += 1;
        }
        // A wrong token with a malformed header is a clear 401, not a crash.
        let mut event = with_header(sample(file), "X-Forwarded-Proto", "evil, https");
        let path = event
            .get("rawPath")
            .or_else(|| event.get("path"))
            .unwrap()
            .as_str()
            .unwrap();
        let path = path.replace(DEV_TOKEN, WRONG_TOKEN);
        for key in ["rawPath", "path"] {
            if event.get(key).is_some() {
                event[key] = path.clone().into();
            }
        }
        if let Some(parameters) = event["pathParameters"].as_object_mut() {
            parameters.insert("token".into(), WRONG_TOKEN.into());
        }
        let request = flowiq_webhooks::http_event::request_from_json(&event.to_string()).unwrap();
        assert_eq!(send(&receiver, request).await.status, 401, "{file}");
    }
    assert_eq!(
        answers,
        3 * (MALFORMED_SCHEMES.len() + MALFORMED_HOSTS.len() + 2)
    );
    // Each sample was stored once, whatever its headers.
    assert_eq!(table.items_of_type("event").await.len(), SAMPLES.len());
}
