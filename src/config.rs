//! The function's settings, read once at start-up from the environment.

use crate::contact_key::{ContactKey, ContactKeyError};
use crate::records::{DEFAULT_REJECTED_RETENTION_DAYS, Retention};
use crate::webhook_tokens::{TokenConfigError, WebhookTokens};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: {1}")]
    Missing(&'static str, &'static str),
    #[error(transparent)]
    Tokens(#[from] TokenConfigError),
    #[error(
        "both WEBHOOK_TOKEN_SECRET and WEBHOOK_TOKENS are set: set WEBHOOK_TOKEN_SECRET (the secret holding the token) in AWS, WEBHOOK_TOKENS only for local runs"
    )]
    TwoTokenSources,
    #[error("CONTACT_KEY: {0}")]
    ContactKey(#[source] ContactKeyError),
    #[error(
        "both CONTACT_KEY_SECRET and CONTACT_KEY are set: set CONTACT_KEY_SECRET (the secret holding the contact key) in AWS, CONTACT_KEY only for local runs"
    )]
    TwoContactKeySources,
    #[error(
        "RETENTION_DAYS must be a whole number of days (0 or unset keeps items forever), got {0:?}"
    )]
    Retention(String),
    #[error(
        "REJECTED_RETENTION_DAYS must be a whole number of days (unset: {DEFAULT_REJECTED_RETENTION_DAYS}; 0: as long as the events), got {0:?}"
    )]
    RejectedRetention(String),
}

/// Where the accepted tokens come from.
#[derive(Debug)]
pub enum TokenSource {
    /// `WEBHOOK_TOKEN_SECRET`: the Secrets Manager secret (ARN or name) holding
    /// `{"token": …, "previous": …}`, read at start and every few minutes (src/token_secret.rs).
    Secret(String),
    /// `WEBHOOK_TOKENS`: a comma-separated list in the environment (local runs, tests).
    List(WebhookTokens),
}

/// Where the contact key comes from (src/contact_key.rs).
#[derive(Debug)]
pub enum ContactKeySource {
    /// `CONTACT_KEY_SECRET`: the Secrets Manager secret (ARN or name) whose string is the key,
    /// read once at start (src/contact_key_secret.rs).
    Secret(String),
    /// `CONTACT_KEY`: the key itself (local runs, tests).
    Key(ContactKey),
}

impl ContactKeySource {
    /// The webhook function and the spill drain, which write contact keys (the projection
    /// copies them from the event items and needs no key).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// From `CONTACT_KEY_SECRET` or `CONTACT_KEY` (exactly one).
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let secret = lookup("CONTACT_KEY_SECRET").filter(|s| !s.trim().is_empty());
        match (secret, lookup("CONTACT_KEY")) {
            (Some(_), Some(_)) => Err(ConfigError::TwoContactKeySources),
            (Some(secret), None) => Ok(ContactKeySource::Secret(secret.trim().to_owned())),
            (None, Some(key)) => ContactKey::new(&key)
                .map(ContactKeySource::Key)
                .map_err(ConfigError::ContactKey),
            (None, None) => Err(ConfigError::Missing(
                "CONTACT_KEY_SECRET",
                "set it to the Secrets Manager secret holding the contact key, which turns WhatsApp numbers into index keys (or, for local runs, CONTACT_KEY to a key of at least 32 characters)",
            )),
        }
    }
}

#[derive(Debug)]
pub struct Config {
    pub table_name: String,
    pub tokens: TokenSource,
    pub contact_key: ContactKeySource,
    pub retention: Retention,
    /// `REJECTED_RETENTION_DAYS`: how long `rejected` items are kept (capped by `retention`).
    pub rejected_retention: Retention,
    /// `SPILL_QUEUE_URL`: where deliveries go that DynamoDB cannot take; unset: answered 503.
    pub spill_queue_url: Option<String>,
}

/// The settings of the functions that only write the table (the spill drain, the message
/// projection): the table and the retention, as the webhook function has them.
#[derive(Debug)]
pub struct StoreConfig {
    pub table_name: String,
    pub retention: Retention,
    pub rejected_retention: Retention,
}

impl StoreConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        Ok(StoreConfig {
            table_name: table_name(&lookup)?,
            retention: retention(&lookup)?,
            rejected_retention: rejected_retention(&lookup)?,
        })
    }
}

fn table_name(lookup: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    lookup("TABLE_NAME")
        .filter(|t| !t.trim().is_empty())
        .ok_or(ConfigError::Missing(
            "TABLE_NAME",
            "set it to the DynamoDB table's name",
        ))
}

fn retention(lookup: &impl Fn(&str) -> Option<String>) -> Result<Retention, ConfigError> {
    Ok(match lookup("RETENTION_DAYS").as_deref().map(str::trim) {
        None | Some("") | Some("0") => Retention(None),
        Some(days) => match days.parse::<u32>() {
            Ok(0) => Retention(None),
            Ok(days) if days <= 36_500 => Retention(Some(days)),
            _ => return Err(ConfigError::Retention(days.to_owned())),
        },
    })
}

/// `REJECTED_RETENTION_DAYS`: unset or empty, the default; `0`, no retention of its own (as long
/// as the events).
fn rejected_retention(lookup: &impl Fn(&str) -> Option<String>) -> Result<Retention, ConfigError> {
    Ok(
        match lookup("REJECTED_RETENTION_DAYS").as_deref().map(str::trim) {
            None | Some("") => Retention(Some(DEFAULT_REJECTED_RETENTION_DAYS)),
            Some(days) => match days.parse::<u32>() {
                Ok(0) => Retention(None),
                Ok(days) if days <= 36_500 => Retention(Some(days)),
                _ => return Err(ConfigError::RejectedRetention(days.to_owned())),
            },
        },
    )
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Testable without touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = table_name(&lookup)?;
        let secret = lookup("WEBHOOK_TOKEN_SECRET").filter(|s| !s.trim().is_empty());
        let tokens = match (secret, lookup("WEBHOOK_TOKENS")) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoTokenSources),
            (Some(secret), None) => TokenSource::Secret(secret.trim().to_owned()),
            (None, Some(list)) => TokenSource::List(WebhookTokens::parse(&list)?),
            (None, None) => {
                return Err(ConfigError::Missing(
                    "WEBHOOK_TOKEN_SECRET",
                    "set it to the Secrets Manager secret holding {\"token\": …} (or, for local runs, WEBHOOK_TOKENS to comma-separated tokens of at least 32 characters)",
                ));
            }
        };
        let contact_key = ContactKeySource::from_lookup(&lookup)?;
        let retention = retention(&lookup)?;
        let rejected_retention = rejected_retention(&lookup)?;
        let spill_queue_url = lookup("SPILL_QUEUE_URL").filter(|url| !url.trim().is_empty());
        Ok(Config {
            table_name,
            tokens,
            contact_key,
            retention,
            rejected_retention,
            spill_queue_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    /// With the development contact key unless `vars` set one.
    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            let given = vars.iter().find(|(k, _)| *k == name);
            let dev_key = (name == "CONTACT_KEY"
                && !vars.iter().any(|(k, _)| k.starts_with("CONTACT_KEY")))
            .then_some(&("CONTACT_KEY", crate::contact_key::LOCAL_DEV_CONTACT_KEY));
            given.or(dev_key).map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn the_contact_key_comes_from_its_secret_or_the_environment_never_both() {
        let source = |vars: &[(&str, &str)]| {
            ContactKeySource::from_lookup(&|name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
        };
        let dev = crate::contact_key::LOCAL_DEV_CONTACT_KEY;
        assert!(matches!(
            source(&[("CONTACT_KEY_SECRET", " arn:s ")]),
            Ok(ContactKeySource::Secret(id)) if id == "arn:s"
        ));
        assert!(matches!(
            source(&[("CONTACT_KEY", dev)]),
            Ok(ContactKeySource::Key(_))
        ));
        let err = source(&[]).unwrap_err().to_string();
        assert!(err.starts_with("CONTACT_KEY_SECRET is not set"), "{err}");
        let err = source(&[("CONTACT_KEY", dev), ("CONTACT_KEY_SECRET", "s")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("both CONTACT_KEY_SECRET and CONTACT_KEY"),
            "{err}"
        );
        let err = source(&[("CONTACT_KEY", "short-contact-key")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("CONTACT_KEY: the contact key is 17 characters long")
                && !err.contains("short-contact"),
            "{err}"
        );
    }

    #[test]
    fn reads_table_tokens_and_retention() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("WEBHOOK_TOKENS", TOKEN),
            ("RETENTION_DAYS", "30"),
        ])
        .unwrap();
        assert_eq!(c.table_name, "t");
        assert!(matches!(&c.tokens, TokenSource::List(tokens) if tokens.verify(TOKEN)));
        assert_eq!(c.retention, Retention(Some(30)));
        assert_eq!(
            c.rejected_retention,
            Retention(Some(DEFAULT_REJECTED_RETENTION_DAYS))
        );
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("WEBHOOK_TOKENS", TOKEN),
            ("REJECTED_RETENTION_DAYS", "7"),
        ])
        .unwrap();
        assert_eq!(c.rejected_retention, Retention(Some(7)));
        for keep_forever in [None, Some("0"), Some("")] {
            let mut vars = vec![("TABLE_NAME", "t"), ("WEBHOOK_TOKENS", TOKEN)];
            vars.extend(keep_forever.map(|v| ("RETENTION_DAYS", v)));
            assert_eq!(config(&vars).unwrap().retention, Retention(None));
        }
    }

    #[test]
    fn explains_what_is_wrong() {
        let err = config(&[("WEBHOOK_TOKENS", TOKEN)])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("TABLE_NAME is not set"), "{err}");
        let err = config(&[("TABLE_NAME", "t")]).unwrap_err().to_string();
        assert!(err.starts_with("WEBHOOK_TOKEN_SECRET is not set"), "{err}");
        let both = [
            ("TABLE_NAME", "t"),
            ("WEBHOOK_TOKENS", TOKEN),
            (
                "WEBHOOK_TOKEN_SECRET",
                "arn:aws:secretsmanager:eu-west-1:1:secret:s",
            ),
        ];
        let err = config(&both).unwrap_err().to_string();
        assert!(
            err.starts_with("both WEBHOOK_TOKEN_SECRET and WEBHOOK_TOKENS"),
            "{err}"
        );
        let secret = config(&[("TABLE_NAME", "t"), ("WEBHOOK_TOKEN_SECRET", " s ")]).unwrap();
        assert!(matches!(secret.tokens, TokenSource::Secret(ref id) if id == "s"));
        let err = config(&[("TABLE_NAME", "t"), ("WEBHOOK_TOKENS", "short")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 32"), "{err}");
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("WEBHOOK_TOKENS", TOKEN),
            ("RETENTION_DAYS", "-1"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("RETENTION_DAYS"), "{err}");
        let err = config(&[
            ("TABLE_NAME", "t"),
            ("WEBHOOK_TOKENS", TOKEN),
            ("REJECTED_RETENTION_DAYS", "a month"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("REJECTED_RETENTION_DAYS must be"), "{err}");
    }
}
