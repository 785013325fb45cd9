//! The function's settings, read once at start-up from the environment.

use crate::records::Retention;
use crate::webhook_tokens::{TokenConfigError, WebhookTokens};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: {1}")]
    Missing(&'static str, &'static str),
    #[error(transparent)]
    Tokens(#[from] TokenConfigError),
    #[error(
        "RETENTION_DAYS must be a whole number of days (0 or unset keeps items forever), got {0:?}"
    )]
    Retention(String),
}

#[derive(Debug)]
pub struct Config {
    pub table_name: String,
    pub tokens: WebhookTokens,
    pub retention: Retention,
    /// `SPILL_QUEUE_URL`: where deliveries go that DynamoDB cannot take; unset: answered 503.
    pub spill_queue_url: Option<String>,
}

/// The settings of the functions that only write the table (the spill drain, the message
/// projection): the table and the retention, as the webhook function has them.
#[derive(Debug)]
pub struct StoreConfig {
    pub table_name: String,
    pub retention: Retention,
}

impl StoreConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        Ok(StoreConfig {
            table_name: table_name(&lookup)?,
            retention: retention(&lookup)?,
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

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Testable without touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = table_name(&lookup)?;
        let tokens = lookup("WEBHOOK_TOKENS").ok_or(ConfigError::Missing(
            "WEBHOOK_TOKENS",
            "set it to one or more comma-separated tokens of at least 32 characters",
        ))?;
        let tokens = WebhookTokens::parse(&tokens)?;
        let retention = retention(&lookup)?;
        let spill_queue_url = lookup("SPILL_QUEUE_URL").filter(|url| !url.trim().is_empty());
        Ok(Config {
            table_name,
            tokens,
            retention,
            spill_queue_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
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
        assert!(c.tokens.verify(TOKEN));
        assert_eq!(c.retention, Retention(Some(30)));
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
        assert!(err.starts_with("WEBHOOK_TOKENS is not set"), "{err}");
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
    }
}
