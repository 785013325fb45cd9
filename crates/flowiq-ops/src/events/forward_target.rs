//! The user's forwarding endpoint, as the CLI reaches it (re-drive, replay): a POST of a
//! [`ForwardedEvent`] — `Content-Type: application/json`, the event id header, and the
//! endpoint's credential header when given. Retries and what counts as final are the URL
//! replay's ([`super::http_target`]); redirects are not followed.
//!
//! The credential is read from a file or the environment, never from a flag value (which would
//! sit in the shell history and the process list), and is never printed: the header is marked
//! sensitive and messages name only the endpoint's scheme, host and port.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{RequestBuilder, Url};
use secrecy::{ExposeSecret as _, SecretString};

use super::forwarded_event::{EVENT_ID_HEADER, ForwardedEvent};
use super::http_target::PostTarget;
use super::send_error::SendError;
use crate::retry::RetryPolicy;

/// The environment variable that may hold the credential header's value.
pub const AUTH_ENV: &str = "FLOWIQ_FORWARDING_AUTH";

/// The endpoint's credential: a header and its secret value (an API key, `Basic …`,
/// `Bearer …`).
pub struct EndpointAuth {
    header: HeaderName,
    value: SecretString,
}

impl std::fmt::Debug for EndpointAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EndpointAuth({}: <redacted>)", self.header)
    }
}

impl EndpointAuth {
    /// The credential from `file` (its content, without the final line break), else from the
    /// environment variable [`AUTH_ENV`] (`env`); `None` when neither is given.
    pub fn read(
        header: &str,
        file: Option<&Path>,
        env: Option<String>,
    ) -> Result<Option<Self>, String> {
        let value = match (file, env) {
            (Some(path), _) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read --auth-value-file {}: {e}", path.display()))?,
            (None, Some(value)) => value,
            (None, None) => return Ok(None),
        };
        let value = value.trim_end_matches(['\r', '\n']);
        if value.is_empty() {
            return Err(format!(
                "the endpoint credential (--auth-value-file or {AUTH_ENV}) is empty"
            ));
        }
        let header = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| format!("--auth-header {header:?} is not an HTTP header name"))?;
        // Checked here, so that sending cannot fail on it (the value is never quoted).
        HeaderValue::from_str(value).map_err(|_| {
            "the endpoint credential has characters an HTTP header cannot carry".to_owned()
        })?;
        Ok(Some(EndpointAuth {
            header,
            value: SecretString::from(value.to_owned()),
        }))
    }
}

pub struct ForwardTarget {
    target: PostTarget,
    auth: Option<EndpointAuth>,
}

impl ForwardTarget {
    pub fn new(url: Url, auth: Option<EndpointAuth>, retry: RetryPolicy) -> Result<Self, String> {
        let target = PostTarget::new(url, retry)?;
        Ok(ForwardTarget { target, auth })
    }

    /// The endpoint without path, query or credentials (for messages).
    pub fn describe(&self) -> String {
        self.target.describe()
    }

    /// POSTs `event` until a final answer or the attempts run out; `Ok` only on a 2xx.
    pub async fn send(&self, event: &ForwardedEvent, retries: &AtomicU64) -> Result<(), SendError> {
        let Ok(event_id) = HeaderValue::from_str(&event.event_id) else {
            let problem = format!("event id {:?} cannot be a header value", event.event_id);
            return Err(SendError::Refused(problem));
        };
        let request = |mut request: RequestBuilder| {
            request = request.header(EVENT_ID_HEADER, event_id.clone());
            if let Some(auth) = &self.auth {
                let mut value = HeaderValue::from_str(auth.value.expose_secret())
                    .expect("checked when it was read");
                value.set_sensitive(true);
                request = request.header(auth.header.clone(), value);
            }
            request.body(event.body.clone())
        };
        self.target.send(&event.event_id, retries, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_comes_from_a_file_or_the_environment_and_is_never_shown() {
        let dir = std::env::temp_dir().join(format!("fwd-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        std::fs::write(&file, "Bearer s3cr3t-from-file\n").unwrap();
        let from_file = EndpointAuth::read("Authorization", Some(&file), Some("env".into()));
        let from_file = from_file.unwrap().unwrap();
        assert_eq!(from_file.value.expose_secret(), "Bearer s3cr3t-from-file");
        assert!(!format!("{from_file:?}").contains("s3cr3t"));
        let from_env = EndpointAuth::read("x-api-key", None, Some("k3y".into()));
        assert_eq!(from_env.unwrap().unwrap().value.expose_secret(), "k3y");
        assert!(
            EndpointAuth::read("x-api-key", None, None)
                .unwrap()
                .is_none()
        );
        for (header, env) in [("x-api-key", ""), ("bad header", "v"), ("h", "a\u{7}b")] {
            let error = EndpointAuth::read(header, None, Some(env.into())).unwrap_err();
            assert!(!error.contains("a\u{7}b"), "{error}");
        }
        let missing = EndpointAuth::read("h", Some(&dir.join("none")), None).unwrap_err();
        assert!(missing.contains("--auth-value-file"), "{missing}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
