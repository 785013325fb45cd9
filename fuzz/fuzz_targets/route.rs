//! Fuzzes request routing: `http_handler::route` on arbitrary UTF-8 paths.
//!
//! Nothing may panic, and:
//! - a route is found only for exactly three `/`-separated segments (after one optional leading
//!   `/`), the first being `webhooks` and the second exactly `whatsapp` or `web`: compared with an
//!   independent model of the rule;
//! - the platform returned is the second segment, and the token is the third: a slice of the path
//!   itself (its last segment), never a decoded or altered copy;
//! - every 404 message is one of the two fixed texts, so it never echoes the path or the token.
#![no_main]

use flowiq_webhooks::http_handler::route;
use flowiq_webhooks::platform::Platform;
use libfuzzer_sys::fuzz_target;

const NOT_FOUND: &str = "not found: FlowIQ deliveries are POST /webhooks/{whatsapp|web}/{token}";
const UNKNOWN_PLATFORM: &str =
    "unknown platform: use /webhooks/whatsapp/{token} or /webhooks/web/{token}";

/// What `route` should answer, written independently of it.
enum Expected {
    Route(Platform),
    UnknownPlatform,
    NotFound,
}

fn expected(path: &str) -> Expected {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.len() != 3 || segments[0] != "webhooks" {
        return Expected::NotFound;
    }
    match segments[1] {
        "whatsapp" => Expected::Route(Platform::Whatsapp),
        "web" => Expected::Route(Platform::Web),
        _ => Expected::UnknownPlatform,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    match (route(path), expected(path)) {
        (Ok((platform, token)), Expected::Route(want)) => {
            assert_eq!(platform, want);
            // The token is the path's own last segment: same bytes, same place.
            let start = path.len() - token.len();
            assert!(
                path.ends_with(token) && std::ptr::eq(&path.as_bytes()[start..], token.as_bytes())
            );
            assert!(!token.contains('/'));
            let prefix = format!("webhooks/{}/", platform.as_str());
            let before = &path[..start];
            assert!(before == prefix || before.strip_prefix('/') == Some(prefix.as_str()));
        }
        (Err(message), Expected::NotFound) => assert_eq!(message, NOT_FOUND),
        (Err(message), Expected::UnknownPlatform) => assert_eq!(message, UNKNOWN_PLATFORM),
        (Ok(found), _) => panic!("{path:?} routed to {found:?}, expected no route"),
        (Err(message), Expected::Route(_)) => panic!("{path:?} not routed: {message}"),
    }
});
