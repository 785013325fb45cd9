//! Lambda's HTTP events (API Gateway HTTP API v2, REST API v1, function URLs) turned into
//! requests: lambda_http's own conversion, once the client headers it would panic on are gone.
//!
//! lambda_http 1.3.2 (the latest release, December 2026) builds each request's URI from
//! `X-Forwarded-Proto` and `Host` as `{scheme}://{host}{path}` and unwraps the parse
//! (`build_request_uri` in its request.rs). Both headers can come from the client: a value such
//! as `X-Forwarded-Proto: evil, https`, `""` or `a b`, or a `Host` that is not a host, panics
//! before the handler runs — a 502 and the Errors alarm, for a request with or without the
//! token. Nothing here reads either header or the URI (routing uses the raw path and the path
//! parameters), so an invalid one is dropped: the URI then falls back to `https` and to the
//! domain name API Gateway or the function URL put in the request context.

use lambda_http::Request;
use lambda_http::http::HeaderMap;
use lambda_http::http::header::{HOST, HeaderName};
use lambda_http::request::LambdaRequest;

const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Removes the headers, and the request context's domain name, that lambda_http could not build
/// a URI from. Valid ones are left alone.
pub fn drop_unusable_uri_parts(event: &mut LambdaRequest) {
    match event {
        LambdaRequest::ApiGatewayV2(event) => {
            drop_unusable_headers(&mut event.headers);
            if !is_usable_host(event.request_context.domain_name.as_deref()) {
                event.request_context.domain_name = None;
            }
        }
        LambdaRequest::ApiGatewayV1(event) => {
            // lambda_http reads `headers` for the URI and merges `multiValueHeaders` into the
            // request: both are cleaned, so the request's headers agree with its URI.
            drop_unusable_headers(&mut event.headers);
            drop_unusable_headers(&mut event.multi_value_headers);
            if !is_usable_host(event.request_context.domain_name.as_deref()) {
                event.request_context.domain_name = None;
            }
        }
        // Event sources this function is not built for (features of lambda_http it does not
        // enable) are never deserialized.
        _ => {}
    }
}

/// The request lambda_http makes of `event`, without its panics on malformed client headers.
pub fn into_request(mut event: LambdaRequest) -> Request {
    drop_unusable_uri_parts(&mut event);
    event.into()
}

/// An event's JSON as the request the handler gets (tests, fuzz targets, tools).
pub fn request_from_json(json: &str) -> Result<Request, serde_json::Error> {
    serde_json::from_str(json).map(into_request)
}

fn drop_unusable_headers(headers: &mut HeaderMap) {
    let usable_scheme = headers.get_all(X_FORWARDED_PROTO).iter().all(|value| {
        value.to_str().is_ok_and(|scheme| {
            scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")
        })
    });
    if !usable_scheme {
        headers.remove(X_FORWARDED_PROTO);
    }
    let usable_host = headers
        .get_all(HOST)
        .iter()
        .all(|value| value.to_str().is_ok_and(|host| is_usable_host(Some(host))));
    if !usable_host {
        headers.remove(HOST);
    }
}

/// Whether lambda_http's `{scheme}://{host}{path}` parses with this host (a path always starts
/// with `/`, after which nothing fails to parse). `url` is the parser lambda_http uses.
fn is_usable_host(host: Option<&str>) -> bool {
    host.is_none_or(|host| url::Url::parse(&format!("https://{host}/")).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_schemes_and_hosts_and_drops_the_rest() {
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_PROTO, "HTTPS".parse().unwrap());
        headers.insert(HOST, "hooks.example.com:443".parse().unwrap());
        drop_unusable_headers(&mut headers);
        assert_eq!(headers[X_FORWARDED_PROTO], "HTTPS");
        assert_eq!(headers[HOST], "hooks.example.com:443");
        for (scheme, host) in [("evil, https", "a b"), ("", "h:99999"), ("a b", "[::1")] {
            headers.insert(X_FORWARDED_PROTO, scheme.parse().unwrap());
            headers.insert(HOST, host.parse().unwrap());
            drop_unusable_headers(&mut headers);
            assert!(headers.is_empty(), "{scheme:?} {host:?}: {headers:?}");
        }
    }
}
