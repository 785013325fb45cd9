//! Fuzzes request routing: `http_handler::route` on arbitrary UTF-8 paths, as function URLs and
//! `cargo lambda watch` give them, behind any API Gateway stage or custom-domain base path.
//!
//! Nothing may panic, and:
//! - a route is found exactly when the path ends in `webhooks/{platform}/{token}` (after one
//!   optional leading `/`) and whatever precedes it is a stage or base path of non-empty
//!   segments other than `.` and `..`: compared with an independent model of the rule;
//! - the platform returned is the segment after `webhooks`, and the token is the last segment:
//!   a slice of the path itself at that position (the same bytes, never a copy or decoding);
//! - every 404 message is one of the two fixed texts, so it never echoes the path or the token;
//! - built from the input, a path with a stage or base path (`/{prefix}/webhooks/web/{token}`)
//!   routes to exactly that token, and to none when a prefix segment is empty, `.` or `..`.
#![no_main]

use flowiq_webhooks::http_handler::route;
use flowiq_webhooks::platform::Platform;
use libfuzzer_sys::fuzz_target;

const NOT_FOUND: &str = "not found: FlowIQ deliveries are POST /webhooks/{whatsapp|web}/{token}";
const UNKNOWN_PLATFORM: &str =
    "unknown platform: use /webhooks/whatsapp/{token} or /webhooks/web/{token}";

/// What `route` should answer, written independently of it (from the right, with `rsplitn`).
#[derive(Debug)]
enum Expected {
    Route(Platform),
    UnknownPlatform,
    NotFound,
}

fn expected(path: &str) -> Expected {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let mut from_the_right = rest.rsplitn(4, '/');
    let (Some(_token), Some(platform), Some("webhooks")) = (
        from_the_right.next(),
        from_the_right.next(),
        from_the_right.next(),
    ) else {
        return Expected::NotFound;
    };
    if let Some(prefix) = from_the_right.next()
        && !is_stage_or_base_path(prefix)
    {
        return Expected::NotFound;
    }
    match platform {
        "whatsapp" => Expected::Route(Platform::Whatsapp),
        "web" => Expected::Route(Platform::Web),
        _ => Expected::UnknownPlatform,
    }
}

/// `prod`, `flowiq/v1`: segments that are neither empty nor `.` / `..`.
fn is_stage_or_base_path(prefix: &str) -> bool {
    prefix
        .split('/')
        .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    check_path(input);
    // The input split at its first NUL: a prefix (stage or base path) and a token.
    if let Some((prefix, token)) = input.split_once('\0')
        && !token.contains('/')
    {
        let path = format!("/{prefix}/webhooks/web/{token}");
        check_path(&path);
        match route(&path) {
            Ok((platform, found)) => {
                assert!(is_stage_or_base_path(prefix), "{path:?} routed");
                assert_eq!((platform, found), (Platform::Web, token));
            }
            Err(message) => {
                assert!(
                    !is_stage_or_base_path(prefix),
                    "{path:?} not routed: {message}"
                );
            }
        }
    }
});

fn check_path(path: &str) {
    match (route(path), expected(path)) {
        (Ok((platform, token)), Expected::Route(want)) => {
            assert_eq!(platform, want);
            // The token is the path's own last segment: same bytes, same place.
            let start = path.len() - token.len();
            assert!(
                std::ptr::eq(&path.as_bytes()[start..], token.as_bytes()),
                "{path:?}: the token is not the path's own last segment"
            );
            assert!(!token.contains('/'));
            let route_part = format!("webhooks/{}/", platform.as_str());
            let before = &path[..start];
            assert!(
                before == route_part || before.ends_with(&format!("/{route_part}")),
                "{path:?}: the token does not follow /webhooks/{{platform}}/"
            );
        }
        (Err(message), Expected::NotFound) => assert_eq!(message, NOT_FOUND),
        (Err(message), Expected::UnknownPlatform) => assert_eq!(message, UNKNOWN_PLATFORM),
        (found, want) => panic!("{path:?}: route gave {found:?}, the model {want:?}"),
    }
}
