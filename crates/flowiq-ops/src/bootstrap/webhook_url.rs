//! The URL registered with FlowIQ: `<base>/webhooks/{platform}/{token}`, the receiver's route.
//! The token makes the URL a credential: [`WebhookUrl`] shows it masked unless asked explicitly.

use std::fmt;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::masking::mask;
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::webhook_tokens::MIN_TOKEN_LENGTH;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("{what} {url:?} is not an absolute URL: {reason}")]
    Invalid {
        what: String,
        url: String,
        reason: String,
    },
    #[error(
        "{what} {url:?} is not https: FlowIQ must reach the receiver over TLS (pass --allow-http \
         only for local testing)"
    )]
    NotHttps { what: String, url: String },
    #[error("{what} {url:?} must be an http(s) URL")]
    UnsupportedScheme { what: String, url: String },
    #[error("{what} {url:?} must not contain a user name or password")]
    HasCredentials { what: String, url: String },
    #[error("{what} {url:?} must not have a query (`?…`) or fragment (`#…`)")]
    HasQueryOrFragment { what: String, url: String },
    /// The URL itself is not repeated: it probably holds the token.
    #[error(
        "{what} already contains /webhooks/…: pass only the base URL (e.g. \
         https://abc123.execute-api.eu-west-1.amazonaws.com); the platform and token are added"
    )]
    IncludesWebhookPath { what: String },
}

/// An absolute http(s) URL without credentials, query or fragment; https unless `allow_http`.
/// `what` names where it came from, for the error message.
pub fn parse_http_url(raw: &str, what: &str, allow_http: bool) -> Result<Url, UrlError> {
    let raw = raw.trim();
    let url = Url::parse(raw).map_err(|e| UrlError::Invalid {
        what: what.to_owned(),
        url: raw.to_owned(),
        reason: e.to_string(),
    })?;
    let (what, shown) = (what.to_owned(), raw.to_owned());
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(UrlError::NotHttps { what, url: shown }),
        _ => return Err(UrlError::UnsupportedScheme { what, url: shown }),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::HasCredentials { what, url: shown });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(UrlError::HasQueryOrFragment { what, url: shown });
    }
    Ok(url)
}

/// Where the receiver's API is served, without the `/webhooks/…` route (the stack output
/// `WebhookBaseUrl`, or `--url`). May carry a base path (a custom domain's mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn parse(raw: &str, what: &str, allow_http: bool) -> Result<Self, UrlError> {
        // Checked before anything that would echo the URL: a full webhook URL holds the token.
        if raw.contains("/webhooks/") || raw.trim_end_matches('/').ends_with("/webhooks") {
            return Err(UrlError::IncludesWebhookPath {
                what: what.to_owned(),
            });
        }
        let url = parse_http_url(raw, what, allow_http)?;
        Ok(BaseUrl(url.as_str().trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the webhook token is empty")]
    Empty,
    #[error(
        "the webhook token is {length} characters long; the receiver accepts only tokens of at \
         least {MIN_TOKEN_LENGTH}"
    )]
    TooShort { length: usize },
    #[error(
        "the webhook token has characters other than letters, digits, '-', '_', '.' and '~': it \
         goes in a URL path"
    )]
    NotUrlSafe,
}

/// The secret path token, checked against the receiver's rules (a token the receiver would
/// refuse is a typo, not something to register).
#[derive(Clone)]
pub struct WebhookToken(SecretString);

impl WebhookToken {
    pub fn parse(token: SecretString) -> Result<Self, TokenError> {
        let value = token.expose_secret();
        let length = value.chars().count();
        if length == 0 {
            return Err(TokenError::Empty);
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
        {
            return Err(TokenError::NotUrlSafe);
        }
        if length < MIN_TOKEN_LENGTH {
            return Err(TokenError::TooShort { length });
        }
        Ok(WebhookToken(token))
    }

    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn masked(&self) -> String {
        mask(self.0.expose_secret())
    }
}

impl fmt::Debug for WebhookToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookToken({})", self.masked())
    }
}

/// The full URL FlowIQ will POST to. `Display` and `Debug` mask the token.
#[derive(Clone)]
pub struct WebhookUrl {
    base: BaseUrl,
    platform: Platform,
    token: WebhookToken,
}

impl WebhookUrl {
    pub fn new(base: &BaseUrl, platform: Platform, token: &WebhookToken) -> Self {
        WebhookUrl {
            base: base.clone(),
            platform,
            token: token.clone(),
        }
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    pub fn token(&self) -> &WebhookToken {
        &self.token
    }

    /// The real URL, token included: only for the request body and the hash.
    pub fn expose_secret(&self) -> String {
        format!(
            "{}/webhooks/{}/{}",
            self.base,
            self.platform,
            self.token.expose_secret()
        )
    }

    /// The URL with the token masked (`…/webhooks/whatsapp/AbCd…`).
    pub fn masked(&self) -> String {
        format!(
            "{}/webhooks/{}/{}",
            self.base,
            self.platform,
            self.token.masked()
        )
    }

    /// SHA-256 of the full URL, lower-case hex: identifies the URL without revealing the token.
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(self.expose_secret().as_bytes()))
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij";
    const BASE: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com";

    fn token(value: &str) -> Result<WebhookToken, TokenError> {
        WebhookToken::parse(SecretString::from(value))
    }

    #[test]
    fn builds_the_receivers_route() {
        let base = BaseUrl::parse(BASE, "--url", false).unwrap();
        let url = WebhookUrl::new(&base, Platform::Whatsapp, &token(TOKEN).unwrap());
        assert_eq!(
            url.expose_secret(),
            format!("{BASE}/webhooks/whatsapp/{TOKEN}")
        );
        assert_eq!(url.masked(), format!("{BASE}/webhooks/whatsapp/AbCd…"));
        assert_eq!(url.to_string(), url.masked());
        assert!(!format!("{url:?}").contains(TOKEN));
        let web = WebhookUrl::new(&base, Platform::Web, &token(TOKEN).unwrap());
        assert_eq!(web.masked(), format!("{BASE}/webhooks/web/AbCd…"));
    }

    #[test]
    fn base_urls_are_normalised() {
        for (raw, expected) in [
            (format!("{BASE}/"), BASE.to_owned()),
            (format!("  {BASE}  "), BASE.to_owned()),
            (
                "https://hooks.example.com/flowiq/".to_owned(),
                "https://hooks.example.com/flowiq".to_owned(),
            ),
            (
                "https://HOOKS.example.com".to_owned(),
                "https://hooks.example.com".to_owned(),
            ),
        ] {
            assert_eq!(
                BaseUrl::parse(&raw, "--url", false).unwrap().as_str(),
                expected
            );
        }
    }

    #[test]
    fn only_https_unless_allowed() {
        let err = BaseUrl::parse("http://127.0.0.1:9000", "--url", false).unwrap_err();
        assert!(matches!(err, UrlError::NotHttps { .. }));
        assert!(err.to_string().contains("--allow-http"), "{err}");
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:9000", "--url", true)
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9000"
        );
        for bad in ["ftp://example.com", "file:///etc/passwd"] {
            assert!(matches!(
                BaseUrl::parse(bad, "--url", true),
                Err(UrlError::UnsupportedScheme { .. })
            ));
        }
    }

    #[test]
    fn rejects_what_cannot_be_a_base_url() {
        for bad in ["", "example.com", "/webhooks", "https://"] {
            assert!(BaseUrl::parse(bad, "--url", false).is_err(), "{bad:?}");
        }
        assert!(matches!(
            BaseUrl::parse("https://u:p@example.com", "--url", false),
            Err(UrlError::HasCredentials { .. })
        ));
        assert!(matches!(
            BaseUrl::parse("https://example.com/?a=1", "--url", false),
            Err(UrlError::HasQueryOrFragment { .. })
        ));
        assert!(matches!(
            BaseUrl::parse("https://example.com/#x", "--url", false),
            Err(UrlError::HasQueryOrFragment { .. })
        ));
    }

    #[test]
    fn a_full_webhook_url_is_refused_without_echoing_it() {
        let full = format!("{BASE}/webhooks/whatsapp/{TOKEN}");
        let err = BaseUrl::parse(&full, "--url", false).unwrap_err();
        assert_eq!(
            err,
            UrlError::IncludesWebhookPath {
                what: "--url".into()
            }
        );
        assert!(!err.to_string().contains(TOKEN), "{err}");
        // Even an http one: the shape is checked first.
        let err = BaseUrl::parse(&full.replace("https", "http"), "--url", false).unwrap_err();
        assert!(!err.to_string().contains(TOKEN), "{err}");
    }

    #[test]
    fn tokens_follow_the_receivers_rules() {
        assert!(token(TOKEN).is_ok());
        assert!(token("local-dev-token-not-a-secret-0123456789").is_ok());
        assert_eq!(token("").unwrap_err(), TokenError::Empty);
        assert_eq!(
            token("short").unwrap_err(),
            TokenError::TooShort { length: 5 }
        );
        for bad in [
            "has/slash/0123456789012345678901234567",
            "has space 0123456789012345678901234567",
            "has%2Fescape012345678901234567890123456",
        ] {
            let err = token(bad).unwrap_err();
            assert_eq!(err, TokenError::NotUrlSafe);
            assert!(!err.to_string().contains(bad));
        }
        assert!(!format!("{:?}", token(TOKEN).unwrap()).contains(TOKEN));
    }

    #[test]
    fn the_hash_identifies_url_and_platform() {
        let base = BaseUrl::parse(BASE, "--url", false).unwrap();
        let t = token(TOKEN).unwrap();
        let a = WebhookUrl::new(&base, Platform::Whatsapp, &t);
        assert_eq!(
            a.sha256_hex(),
            hex::encode(Sha256::digest(a.expose_secret().as_bytes()))
        );
        assert_eq!(a.sha256_hex().len(), 64);
        assert!(!a.sha256_hex().contains(TOKEN));
        let b = WebhookUrl::new(&base, Platform::Web, &t);
        assert_ne!(a.sha256_hex(), b.sha256_hex());
    }
}
