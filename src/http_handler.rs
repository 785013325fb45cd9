//! The Lambda HTTP edge: routes `POST /webhooks/{platform}/{token}`, hands the delivery to the
//! [`Receiver`], and turns its [`Reply`] into a status code and a JSON body. Works for API Gateway
//! HTTP APIs (payload v2), REST APIs (v1) and function URLs.

use std::time::Instant;

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use tracing::Instrument as _;

use crate::delivery::{Delivery, Receiver, Rejection, Reply};
use crate::outcome::Outcome;
use crate::platform::Platform;
use crate::spill::Spill;
use crate::store::EventStore;

/// The route, for messages: the token is never echoed.
const ROUTE: &str = "POST /webhooks/{whatsapp|web}/{token}";

/// Handles one request. Never fails: every outcome, including storage failures, is a response.
/// Its log lines carry Lambda's request id (to join them with Lambda's `platform.report` line)
/// in a small span of their own, instead of the runtime's span with the X-Ray trace header: the
/// line is paid for per delivery (docs/performance.md#cost).
pub async fn handle<S: EventStore, Q: Spill>(
    receiver: &Receiver<S, Q>,
    request: Request,
) -> Response<Body> {
    let lambda_request_id = request
        .lambda_context_ref()
        .map(|context| context.request_id.clone())
        .unwrap_or_default();
    let span = tracing::info_span!("delivery", lambda_request_id);
    respond(receiver, request).instrument(span).await
}

async fn respond<S: EventStore, Q: Spill>(
    receiver: &Receiver<S, Q>,
    request: Request,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&request);
    let (platform, token) = match route_request(&request) {
        Ok(route) => route,
        Err(problem) => {
            tracing::info!(
                request_id,
                status = 404,
                outcome = Outcome::NotFound.as_str(),
                "no such route"
            );
            return error(StatusCode::NOT_FOUND, "not_found", &problem);
        }
    };
    if request.method() != Method::POST {
        tracing::info!(request_id, status = 405, outcome = Outcome::MethodNotAllowed.as_str(), method = %request.method());
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            &format!(
                "{} is not allowed here: FlowIQ deliveries are {ROUTE}",
                request.method()
            ),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    // API Gateway's base64 bodies are already decoded by lambda_http.
    let body: &[u8] = request.body().as_ref();

    let delivery = Delivery {
        platform,
        token,
        body,
        request_id: &request_id,
    };
    let storing = Instant::now();
    let reply = receiver.receive(delivery).await;
    // The time spent storing (and parsing, a few microseconds of it); none when nothing was stored.
    // Named as the metric it is in the EMF members (crate::metrics).
    let store_latency = (!matches!(reply, Reply::Unauthorized)).then(|| millis(storing));
    let latency_ms = millis(started);
    let platform = platform.as_str();
    match reply {
        Reply::Accepted {
            outcome,
            event_id,
            event_type,
        } => {
            // No message text: `outcome` says it, and this line is written for nearly every delivery.
            tracing::info!(request_id, platform, event_type, %event_id, outcome = Outcome::of_put(outcome).as_str(), status = 200, latency_ms, StoreLatency = store_latency);
            json_response(
                StatusCode::OK,
                &json!({ "status": outcome.as_str(), "event_id": event_id.as_str() }),
            )
        }
        Reply::Unauthorized => {
            tracing::warn!(
                request_id,
                platform,
                outcome = Outcome::Unauthorized.as_str(),
                status = 401,
                latency_ms,
                "missing or invalid webhook token"
            );
            error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or invalid webhook token in the URL",
            )
        }
        Reply::Queued {
            event_id,
            event_type,
            cause,
        } => {
            // 200, not 202: a sender may accept nothing else. Durable in the spill queue.
            tracing::warn!(request_id, platform, event_type, %event_id, outcome = Outcome::Queued.as_str(), status = 200, latency_ms, StoreLatency = store_latency, error = %cause, "DynamoDB did not take the delivery: queued for the drain");
            json_response(
                StatusCode::OK,
                &json!({ "status": "queued", "event_id": event_id.as_str() }),
            )
        }
        Reply::Rejected { rejection, queued } => {
            let status = StatusCode::from_u16(rejection.rejection.status_code())
                .expect("a valid status code");
            let code = match rejection.rejection {
                Rejection::TooLarge => "body_too_large",
                Rejection::InvalidBody => "invalid_body",
            };
            // Where the body is kept: its `rejected` item, or the spill queue (the drain writes
            // the item).
            let kept = if queued.is_some() { "queued" } else { "stored" };
            tracing::warn!(
                request_id,
                platform,
                outcome = Outcome::of_rejection(rejection.rejection).as_str(),
                status = status.as_u16(),
                reason = rejection.log_reason,
                kept,
                latency_ms,
                StoreLatency = store_latency,
                "delivery rejected and kept"
            );
            error(status, code, &rejection.reason)
        }
        Reply::StorageUnavailable { error: err, spill } => {
            tracing::error!(request_id, platform, outcome = Outcome::StorageUnavailable.as_str(), status = 503, latency_ms, StoreLatency = store_latency, error = %err, spill_error = %spill, "delivery not stored");
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "the event could not be stored; nothing was acknowledged, retry later",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            response
        }
    }
}

/// The platform and the token of a request. API Gateway routes (HTTP API and REST API) supply
/// them as path parameters, whatever stage or custom-domain base path precedes them in the path;
/// function URLs (and `cargo lambda watch`) do not, and their path is matched by [`route`].
fn route_request(request: &Request) -> Result<(Platform, &str), String> {
    let parameters = request.path_parameters_ref();
    match parameters.and_then(|p| Some((p.first("platform")?, p.first("token")?))) {
        Some((platform, token)) => Ok((parse_platform(platform)?, token)),
        None => route(request.raw_http_path()),
    }
}

/// Matches `/webhooks/{platform}/{token}` at the end of `path`, after any stage or base-path
/// segments (API Gateway keeps a named stage and a custom domain's base path in the path). No
/// decoding, no extra or empty segments, no `.`/`..` before it; an empty token routes, then fails
/// authentication. The token is only ever taken from the token position. Public for the fuzz
/// targets.
pub fn route(path: &str) -> Result<(Platform, &str), String> {
    let not_found = || format!("not found: FlowIQ deliveries are {ROUTE}");
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let [prefix @ .., "webhooks", platform, token] = segments.as_slice() else {
        return Err(not_found());
    };
    if prefix
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(not_found());
    }
    Ok((parse_platform(platform)?, token))
}

fn parse_platform(platform: &str) -> Result<Platform, String> {
    platform.parse::<Platform>().map_err(|_| {
        "unknown platform: use /webhooks/whatsapp/{token} or /webhooks/web/{token}".to_owned()
    })
}

/// Milliseconds since `start`, to a hundredth: finer digits are noise and cost log bytes.
fn millis(start: Instant) -> f64 {
    (start.elapsed().as_secs_f64() * 100_000.0).round() / 100.0
}

/// API Gateway's request id (it also appears in the API's access log), else Lambda's.
fn request_id(request: &Request) -> String {
    let from_api = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    };
    from_api
        .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
        .unwrap_or_default()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": code, "message": message }))
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body.to_string()))
        .expect("a static response is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_the_webhook_path_after_any_stage_or_base_path() {
        for (path, expected) in [
            ("/webhooks/whatsapp/t", (Platform::Whatsapp, "t")),
            ("/webhooks/web/t", (Platform::Web, "t")),
            ("/prod/webhooks/whatsapp/t", (Platform::Whatsapp, "t")),
            ("/flowiq/webhooks/web/t", (Platform::Web, "t")),
            ("/flowiq/v1/webhooks/whatsapp/t", (Platform::Whatsapp, "t")),
            ("/webhooks/whatsapp/", (Platform::Whatsapp, "")),
        ] {
            assert_eq!(route(path).unwrap(), expected, "{path}");
        }
        assert_eq!(
            route("/webhooks/sms/t").unwrap_err(),
            "unknown platform: use /webhooks/whatsapp/{token} or /webhooks/web/{token}"
        );
        for bad in [
            "/",
            "",
            "/webhooks",
            "/webhooks/whatsapp",
            "/webhooks/whatsapp/t/extra",
            "/webhooks/whatsapp/t/",
            "//webhooks/whatsapp/t",
            "/prod//webhooks/whatsapp/t",
            "/webhooks/../webhooks/whatsapp/t",
            "/./webhooks/whatsapp/t",
            "/webhooks/whatsapp/t/webhooks",
        ] {
            assert_eq!(
                route(bad).unwrap_err(),
                "not found: FlowIQ deliveries are POST /webhooks/{whatsapp|web}/{token}",
                "{bad:?}"
            );
        }
    }
}
