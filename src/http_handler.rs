//! The Lambda HTTP edge: routes `POST /webhooks/{platform}/{token}`, hands the delivery to the
//! [`Receiver`], and turns its [`Reply`] into a status code and a JSON body. Works for API Gateway
//! HTTP APIs (payload v2), REST APIs (v1) and function URLs.

use std::time::Instant;

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use tracing::{Instrument as _, Level};

use crate::delivery::{Delivery, Receiver, Rejection, Reply};
use crate::event_id::EventId;
use crate::outcome::Outcome;
use crate::platform::Platform;
use crate::spill::Spill;
use crate::store::EventStore;
use crate::webhook_event::EventType;

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
    let answer = match route_post(&request) {
        Err(refused) => *refused,
        Ok((platform, token)) => {
            // API Gateway's base64 bodies are already decoded by lambda_http.
            let delivery = Delivery {
                platform,
                token,
                body: request.body().as_ref(),
                request_id: &request_id,
            };
            let storing = Instant::now();
            let reply = receiver.receive(delivery).await;
            // The time spent storing (and parsing, a few microseconds of it); none when nothing
            // was stored. Named as the metric it is in the EMF members (crate::metrics).
            let store_latency = (!matches!(reply, Reply::Unauthorized)).then(|| millis(storing));
            let mut answer = reply_answer(reply);
            answer.line.platform = Some(platform);
            answer.line.latency_ms = Some(millis(started));
            answer.line.store_latency = store_latency;
            answer
        }
    };
    answer.line.log(&request_id);
    answer.into_response()
}

/// What a request is answered, and the line logged for it: decided from the request and the
/// [`Reply`] alone, then logged and sent by [`respond`].
struct Answer {
    status: StatusCode,
    body: serde_json::Value,
    /// `Allow` on a 405, `Retry-After` on a 503.
    header: Option<(header::HeaderName, &'static str)>,
    line: DeliveryLine,
}

impl Answer {
    fn new(status: StatusCode, body: serde_json::Value, line: DeliveryLine) -> Self {
        Answer {
            status,
            body,
            header: None,
            line,
        }
    }

    fn error(status: StatusCode, code: &str, message: &str, line: DeliveryLine) -> Self {
        Self::new(status, json!({ "error": code, "message": message }), line)
    }

    fn with_header(mut self, name: header::HeaderName, value: &'static str) -> Self {
        self.header = Some((name, value));
        self
    }

    fn into_response(self) -> Response<Body> {
        let mut response = json_response(self.status, &self.body);
        if let Some((name, value)) = self.header {
            response
                .headers_mut()
                .insert(name, header::HeaderValue::from_static(value));
        }
        response
    }
}

/// The route and the method, or the answer refusing them (404, 405).
fn route_post(request: &Request) -> Result<(Platform, &str), Box<Answer>> {
    let route = route_request(request).map_err(|problem| {
        let line = DeliveryLine::new(Level::INFO, Outcome::NotFound, StatusCode::NOT_FOUND)
            .message("no such route");
        Box::new(Answer::error(
            StatusCode::NOT_FOUND,
            "not_found",
            &problem,
            line,
        ))
    })?;
    if request.method() != Method::POST {
        let status = StatusCode::METHOD_NOT_ALLOWED;
        let mut line = DeliveryLine::new(Level::INFO, Outcome::MethodNotAllowed, status);
        line.method = Some(request.method().to_string());
        let message = format!(
            "{} is not allowed here: FlowIQ deliveries are {ROUTE}",
            request.method()
        );
        let answer = Answer::error(status, "method_not_allowed", &message, line);
        return Err(Box::new(answer.with_header(header::ALLOW, "POST")));
    }
    Ok(route)
}

/// The answer to a delivery the receiver handled.
fn reply_answer(reply: Reply) -> Answer {
    match reply {
        Reply::Accepted {
            outcome,
            event_id,
            event_type,
        } => {
            // No message text: `outcome` says it, and this line is written for nearly every
            // delivery.
            let mut line = DeliveryLine::new(Level::INFO, Outcome::of_put(outcome), StatusCode::OK);
            let body = json!({ "status": outcome.as_str(), "event_id": event_id.as_str() });
            line.event = Some((event_type, event_id));
            Answer::new(StatusCode::OK, body, line)
        }
        Reply::Unauthorized => {
            let status = StatusCode::UNAUTHORIZED;
            let line = DeliveryLine::new(Level::WARN, Outcome::Unauthorized, status)
                .message("missing or invalid webhook token");
            let message = "missing or invalid webhook token in the URL";
            Answer::error(status, "unauthorized", message, line)
        }
        Reply::Queued {
            event_id,
            event_type,
            cause,
        } => {
            // 200, not 202: a sender may accept nothing else. Durable in the spill queue.
            let mut line = DeliveryLine::new(Level::WARN, Outcome::Queued, StatusCode::OK)
                .message("DynamoDB did not take the delivery: queued for the drain");
            let body = json!({ "status": "queued", "event_id": event_id.as_str() });
            line.event = Some((event_type, event_id));
            line.error = Some(cause.to_string());
            Answer::new(StatusCode::OK, body, line)
        }
        Reply::Rejected { rejection, queued } => {
            let (status, code) = rejection_status(rejection.rejection);
            let outcome = Outcome::of_rejection(rejection.rejection);
            let mut line = DeliveryLine::new(Level::WARN, outcome, status)
                .message("delivery rejected and kept");
            // Where the body is kept: its `rejected` item, or the spill queue (the drain writes
            // the item).
            line.kept = Some(if queued.is_some() { "queued" } else { "stored" });
            line.reason = Some(rejection.log_reason);
            Answer::error(status, code, &rejection.reason, line)
        }
        Reply::StorageUnavailable { error, spill } => {
            let status = StatusCode::SERVICE_UNAVAILABLE;
            let mut line = DeliveryLine::new(Level::ERROR, Outcome::StorageUnavailable, status)
                .message("delivery not stored");
            line.error = Some(error.to_string());
            line.spill_error = Some(spill.to_string());
            let message = "the event could not be stored; nothing was acknowledged, retry later";
            Answer::error(status, "storage_unavailable", message, line)
                .with_header(header::RETRY_AFTER, "1")
        }
    }
}

/// A rejection's status code and error code: the `rejected` item records the same status
/// (docs/data-model.md, checked by this module's tests).
pub fn rejection_status(rejection: Rejection) -> (StatusCode, &'static str) {
    match rejection {
        Rejection::InvalidBody => (StatusCode::BAD_REQUEST, "invalid_body"),
        Rejection::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    }
}

/// The per-delivery log line (docs/operations.md): `outcome` and `event_type` are also the
/// metrics' dimensions ([`crate::metrics`]). Absent fields are absent from the line.
struct DeliveryLine {
    level: Level,
    outcome: Outcome,
    status: StatusCode,
    platform: Option<Platform>,
    /// The event's type and id.
    event: Option<(EventType, EventId)>,
    latency_ms: Option<f64>,
    store_latency: Option<f64>,
    /// Why a body was rejected, never quoting it.
    reason: Option<String>,
    kept: Option<&'static str>,
    error: Option<String>,
    spill_error: Option<String>,
    method: Option<String>,
    message: Option<&'static str>,
}

impl DeliveryLine {
    fn new(level: Level, outcome: Outcome, status: StatusCode) -> Self {
        DeliveryLine {
            level,
            outcome,
            status,
            platform: None,
            event: None,
            latency_ms: None,
            store_latency: None,
            reason: None,
            kept: None,
            error: None,
            spill_error: None,
            method: None,
            message: None,
        }
    }

    fn message(mut self, message: &'static str) -> Self {
        self.message = Some(message);
        self
    }

    fn log(&self, request_id: &str) {
        // A level is part of a log call's static metadata: one call per level, the same fields.
        macro_rules! line {
            ($level:expr) => {
                tracing::event!(
                    $level,
                    request_id,
                    platform = self.platform.map(Platform::as_str),
                    event_type = self.event.as_ref().map(|(t, _)| t.as_str()),
                    event_id = self.event.as_ref().map(|(_, id)| id.as_str()),
                    outcome = self.outcome.as_str(),
                    status = self.status.as_u16(),
                    method = self.method.as_deref(),
                    reason = self.reason.as_deref(),
                    kept = self.kept,
                    latency_ms = self.latency_ms,
                    StoreLatency = self.store_latency,
                    error = self.error.as_deref(),
                    spill_error = self.spill_error.as_deref(),
                    message = self.message,
                )
            };
        }
        match self.level {
            Level::ERROR => line!(Level::ERROR),
            Level::WARN => line!(Level::WARN),
            _ => line!(Level::INFO),
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
    fn a_rejected_item_records_the_status_its_sender_was_answered() {
        use crate::records::{Received, RejectedRetention, Retention, rejected_record};
        for rejection in [Rejection::InvalidBody, Rejection::TooLarge] {
            let item = rejected_record(
                Platform::Web,
                b"{}",
                "req-1",
                rejection,
                "reason".to_owned(),
                &Received::now(),
                RejectedRetention::default_for(Retention(None)),
            );
            assert_eq!(rejection_status(rejection).0.as_u16(), item.status_code);
        }
    }

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
