//! The synthetic delivery the hook sends to a new version, and what its answer proves. Pure: no
//! I/O, so every verdict is unit-tested.
//!
//! The request is an API Gateway HTTP API (payload 2.0) event for the one route, exactly as API
//! Gateway would pass a FlowIQ delivery, but with a token that can never be the stack's: the
//! receiver compares tokens before it reads the body and answers `401` without writing anything,
//! so the probe stores nothing a user would see, yet the answer proves that the version starts,
//! has read its token secret and serves the route.

use serde::Deserialize;
use serde_json::{Value, json};

/// The probe's token. The stack's generated token has letters and digits only (the template's
/// `ExcludePunctuation`), so one with `-` is never accepted; it is long enough (≥ 32 characters
/// of the allowed set) to reach the token comparison rather than any earlier check.
pub const PROBE_TOKEN: &str = "codedeploy-pre-traffic-probe-not-a-token";

/// The `user-agent` of the probe, so its line in the function's log says where it came from.
pub const PROBE_USER_AGENT: &str = "flowiq-deploy-hook";

/// The API Gateway HTTP API event of one delivery to `/webhooks/whatsapp/<PROBE_TOKEN>`, tagged
/// with the CodeDeploy deployment it checks (the request id, in the function's log line).
pub fn request(deployment_id: &str) -> Value {
    let path = format!("/webhooks/whatsapp/{PROBE_TOKEN}");
    let route = "POST /webhooks/{platform}/{token}";
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "user-agent": PROBE_USER_AGENT,
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "codedeploy-pre-traffic",
            "domainName": "codedeploy-pre-traffic.invalid",
            "domainPrefix": "codedeploy-pre-traffic",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": PROBE_USER_AGENT,
            },
            "requestId": format!("pre-traffic-{deployment_id}"),
            "routeKey": route,
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1_767_225_600_000_u64,
        },
        "pathParameters": {"platform": "whatsapp", "token": PROBE_TOKEN},
        // Never read (the token is refused first); an object, so even a release that wrongly
        // accepted the token would answer rather than fail on the body.
        "body": "{}",
        "isBase64Encoded": false,
    })
}

/// What Lambda returned for the probe's invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Lambda's `X-Amz-Function-Error` (`Unhandled`, ...): the function failed, at start or
    /// while handling.
    pub function_error: Option<String>,
    /// The function's response, or Lambda's error document.
    pub payload: Vec<u8>,
}

/// Why a new version must not get traffic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeFailure {
    #[error("the new version failed ({kind}): {message}")]
    FunctionError { kind: String, message: String },
    #[error("the new version answered {status} to a wrong token, not 401")]
    WrongStatus { status: u16 },
    #[error(
        "the new version answered 401 without the receiver's `unauthorized` error (body: {body})"
    )]
    NotTheReceiver { body: String },
    #[error("the new version's answer is not an HTTP API response: {0}")]
    NotAResponse(String),
}

/// The HTTP API response the function returns (payload 2.0), as far as the verdict needs it.
#[derive(Debug, Deserialize)]
struct Response {
    #[serde(rename = "statusCode")]
    status_code: u16,
    #[serde(default)]
    body: Option<String>,
    #[serde(rename = "isBase64Encoded", default)]
    is_base64_encoded: bool,
}

/// `Ok` when the version answered the probe as the receiver does: `401` with its
/// `{"error":"unauthorized"}` body.
pub fn judge(answer: &Answer) -> Result<(), ProbeFailure> {
    let text = String::from_utf8_lossy(&answer.payload);
    if let Some(kind) = &answer.function_error {
        // Lambda's error document: {"errorType": ..., "errorMessage": ...}.
        let document: Value = serde_json::from_slice(&answer.payload).unwrap_or(Value::Null);
        let message = document["errorMessage"].as_str().map(str::to_owned);
        return Err(ProbeFailure::FunctionError {
            kind: document["errorType"].as_str().unwrap_or(kind).to_owned(),
            message: message.unwrap_or_else(|| excerpt(&text)),
        });
    }
    let response: Response = serde_json::from_slice(&answer.payload)
        .map_err(|e| ProbeFailure::NotAResponse(format!("{e}: {}", excerpt(&text))))?;
    if response.status_code != 401 {
        return Err(ProbeFailure::WrongStatus {
            status: response.status_code,
        });
    }
    // The receiver never base64-encodes its JSON answers.
    let body = response.body.unwrap_or_default();
    let error: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if response.is_base64_encoded || error["error"] != "unauthorized" {
        return Err(ProbeFailure::NotTheReceiver {
            body: excerpt(&body),
        });
    }
    Ok(())
}

/// The start of a text, for a message that stays one readable line.
fn excerpt(text: &str) -> String {
    const LIMIT: usize = 300;
    match text.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(payload: Value) -> Answer {
        Answer {
            function_error: None,
            payload: payload.to_string().into_bytes(),
        }
    }

    #[test]
    fn the_request_is_one_delivery_to_the_route_with_the_probe_token() {
        let request = request("d-ABCDEF123");
        assert_eq!(request["routeKey"], "POST /webhooks/{platform}/{token}");
        assert_eq!(request["pathParameters"]["token"], PROBE_TOKEN);
        assert_eq!(
            request["rawPath"],
            format!("/webhooks/whatsapp/{PROBE_TOKEN}")
        );
        assert_eq!(request["requestContext"]["http"]["method"], "POST");
        assert_eq!(
            request["requestContext"]["requestId"],
            "pre-traffic-d-ABCDEF123"
        );
        // Never a token the stack generates (letters and digits), long enough to be compared.
        assert!(PROBE_TOKEN.contains('-') && PROBE_TOKEN.len() >= 32);
    }

    #[test]
    fn only_the_receivers_401_passes() {
        let unauthorized = json!({"statusCode": 401, "headers": {"content-type": "application/json"},
            "body": "{\"error\":\"unauthorized\",\"message\":\"missing or invalid token\"}",
            "isBase64Encoded": false});
        assert_eq!(judge(&answer(unauthorized)), Ok(()));

        // A release that accepts any token, fails its storage, or is not the receiver.
        let stored = json!({"statusCode": 200, "body": "{\"status\":\"stored\"}"});
        assert_eq!(
            judge(&answer(stored)),
            Err(ProbeFailure::WrongStatus { status: 200 })
        );
        let unavailable = json!({"statusCode": 503, "body": "{\"error\":\"storage_unavailable\"}"});
        assert_eq!(
            judge(&answer(unavailable)),
            Err(ProbeFailure::WrongStatus { status: 503 })
        );
        let other = json!({"statusCode": 401, "body": "Unauthorized"});
        assert!(matches!(
            judge(&answer(other)),
            Err(ProbeFailure::NotTheReceiver { .. })
        ));
        let not_http = json!({"batchItemFailures": []});
        assert!(matches!(
            judge(&answer(not_http)),
            Err(ProbeFailure::NotAResponse(_))
        ));
    }

    #[test]
    fn a_function_error_fails_with_lambdas_reason() {
        let failed = Answer {
            function_error: Some("Unhandled".into()),
            payload: br#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: x Error: Runtime exited with error: exit status 1"}"#.to_vec(),
        };
        assert_eq!(
            judge(&failed),
            Err(ProbeFailure::FunctionError {
                kind: "Runtime.ExitError".into(),
                message: "RequestId: x Error: Runtime exited with error: exit status 1".into(),
            })
        );
        // Even a payload that would pass: Lambda's error header decides.
        let odd = Answer {
            function_error: Some("Unhandled".into()),
            payload: b"not json".to_vec(),
        };
        assert!(
            judge(&odd)
                .unwrap_err()
                .to_string()
                .contains("(Unhandled): not json")
        );
    }
}
