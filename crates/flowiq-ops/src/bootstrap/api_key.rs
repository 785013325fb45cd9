//! The FlowIQ API key: from the environment (`FLOWIQ_API_KEY`), a file, or an SSM SecureString
//! parameter — never from a flag value, which would end up in shell history and `ps`. Held in a
//! [`SecretString`] and only ever shown masked.

use std::fmt;
use std::path::{Path, PathBuf};

use aws_sdk_ssm::error::{DisplayErrorContext, SdkError};
use secrecy::{ExposeSecret, SecretString};

use super::masking::mask;

/// The environment variable holding the key.
pub const API_KEY_ENV: &str = "FLOWIQ_API_KEY";

/// Where the key is read from. Flags win over the environment variable.
#[derive(Debug, Clone)]
pub enum ApiKeySource {
    /// `FLOWIQ_API_KEY`, already read.
    Env(SecretString),
    /// `--api-key-file`: the file's content, surrounding whitespace (a final newline) ignored.
    File(PathBuf),
    /// `--api-key-ssm-parameter`: an SSM parameter, read with decryption (SecureString).
    SsmParameter(String),
}

impl ApiKeySource {
    /// Picks the source; `None` when there is none at all (a usage error).
    pub fn choose(
        file: Option<PathBuf>,
        ssm_parameter: Option<String>,
        env_value: Option<SecretString>,
    ) -> Result<Self, ApiKeyError> {
        match (file, ssm_parameter, env_value) {
            (Some(path), None, _) => Ok(ApiKeySource::File(path)),
            (None, Some(name), _) => Ok(ApiKeySource::SsmParameter(name)),
            (Some(_), Some(_), _) => Err(ApiKeyError::TwoSources),
            (None, None, Some(value)) => Ok(ApiKeySource::Env(value)),
            (None, None, None) => Err(ApiKeyError::Missing),
        }
    }

    /// For messages: where the key came from, never the key.
    pub fn describe(&self) -> String {
        match self {
            ApiKeySource::Env(_) => API_KEY_ENV.to_owned(),
            ApiKeySource::File(path) => format!("--api-key-file {}", path.display()),
            ApiKeySource::SsmParameter(name) => format!("SSM parameter {name}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error(
        "no FlowIQ API key: set {API_KEY_ENV}, or pass --api-key-file PATH or \
         --api-key-ssm-parameter NAME (the key is never accepted as a flag value)"
    )]
    Missing,
    #[error("pass either --api-key-file or --api-key-ssm-parameter, not both")]
    TwoSources,
    #[error("the FlowIQ API key from {origin} is empty")]
    Empty { origin: String },
    #[error(
        "the FlowIQ API key from {origin} contains spaces or control characters: it must be the \
         key alone (FlowIQ keys look like fiq_…)"
    )]
    Malformed { origin: String },
    #[error("cannot read the FlowIQ API key file {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "SSM parameter {name:?} does not exist in region {region} (or you may not read it): check \
         --api-key-ssm-parameter and the region"
    )]
    SsmParameterNotFound { name: String, region: String },
    #[error("cannot read SSM parameter {name:?}: {message}")]
    Ssm { name: String, message: String },
}

impl ApiKeyError {
    /// True when an AWS call failed (as opposed to a local configuration mistake).
    pub fn is_aws(&self) -> bool {
        matches!(
            self,
            ApiKeyError::SsmParameterNotFound { .. } | ApiKeyError::Ssm { .. }
        )
    }
}

/// A FlowIQ API key: visible ASCII only (it goes in an HTTP header). `Debug` shows it masked.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Surrounding whitespace is dropped (files and parameters often end in a newline).
    pub fn parse(raw: &str, origin: &str) -> Result<Self, ApiKeyError> {
        let key = raw.trim();
        if key.is_empty() {
            return Err(ApiKeyError::Empty {
                origin: origin.to_owned(),
            });
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiKeyError::Malformed {
                origin: origin.to_owned(),
            });
        }
        Ok(ApiKey(SecretString::from(key)))
    }

    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn masked(&self) -> String {
        mask(self.0.expose_secret())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.masked())
    }
}

/// Reads the key from its source. Only an SSM source makes a network call.
pub async fn load_api_key(
    source: &ApiKeySource,
    ssm: &aws_sdk_ssm::Client,
) -> Result<ApiKey, ApiKeyError> {
    match source {
        ApiKeySource::Env(value) => ApiKey::parse(value.expose_secret(), API_KEY_ENV),
        ApiKeySource::File(path) => read_key_file(path),
        ApiKeySource::SsmParameter(name) => read_ssm_parameter(ssm, name).await,
    }
}

fn read_key_file(path: &Path) -> Result<ApiKey, ApiKeyError> {
    let content = std::fs::read_to_string(path).map_err(|source| ApiKeyError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    warn_if_readable_by_others(path);
    ApiKey::parse(&content, &format!("--api-key-file {}", path.display()))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "{} can be read by other users; `chmod 600 {}` keeps the API key yours",
            path.display(),
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// `GetParameter` with decryption (a SecureString).
pub async fn read_ssm_parameter(
    client: &aws_sdk_ssm::Client,
    name: &str,
) -> Result<ApiKey, ApiKeyError> {
    let output = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| {
            if let SdkError::ServiceError(service) = &err
                && service.err().is_parameter_not_found()
            {
                return ApiKeyError::SsmParameterNotFound {
                    name: name.to_owned(),
                    region: region_of(client),
                };
            }
            ApiKeyError::Ssm {
                name: name.to_owned(),
                message: DisplayErrorContext(&err).to_string(),
            }
        })?;
    let value = output
        .parameter()
        .and_then(|p| p.value())
        .ok_or_else(|| ApiKeyError::Empty {
            origin: format!("SSM parameter {name}"),
        })?;
    ApiKey::parse(value, &format!("SSM parameter {name}"))
}

fn region_of(client: &aws_sdk_ssm::Client) -> String {
    client
        .config()
        .region()
        .map_or_else(|| "(none)".to_owned(), |r| r.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "fiq_live_0123456789abcdef";

    #[test]
    fn keys_are_trimmed_and_checked() {
        assert_eq!(
            ApiKey::parse(&format!("  {KEY}\n"), "x")
                .unwrap()
                .expose_secret(),
            KEY
        );
        assert!(matches!(
            ApiKey::parse(" \n", "x"),
            Err(ApiKeyError::Empty { .. })
        ));
        for bad in ["fiq_ a", "fiq_\u{7f}", "fiq_é", "Bearer fiq_x"] {
            let err = ApiKey::parse(bad, "FLOWIQ_API_KEY").unwrap_err();
            assert!(matches!(err, ApiKeyError::Malformed { .. }), "{bad:?}");
            assert!(!err.to_string().contains(bad));
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::parse(KEY, "x").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey(fiq_…)");
        assert_eq!(key.masked(), "fiq_…");
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = || Some(SecretString::from(KEY));
        assert!(matches!(
            ApiKeySource::choose(Some("k".into()), None, env()).unwrap(),
            ApiKeySource::File(_)
        ));
        assert!(matches!(
            ApiKeySource::choose(None, Some("/p".into()), env()).unwrap(),
            ApiKeySource::SsmParameter(_)
        ));
        assert!(matches!(
            ApiKeySource::choose(None, None, env()).unwrap(),
            ApiKeySource::Env(_)
        ));
        assert!(matches!(
            ApiKeySource::choose(Some("k".into()), Some("/p".into()), None),
            Err(ApiKeyError::TwoSources)
        ));
        let missing = ApiKeySource::choose(None, None, None).unwrap_err();
        assert!(missing.to_string().contains("FLOWIQ_API_KEY"), "{missing}");
        assert!(!missing.is_aws());
    }

    #[test]
    fn reads_a_key_file() {
        let dir = std::env::temp_dir().join(format!("flowiq-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, format!("{KEY}\n")).unwrap();
        assert_eq!(read_key_file(&path).unwrap().expose_secret(), KEY);
        let missing = dir.join("missing");
        let err = read_key_file(&missing).unwrap_err();
        assert!(matches!(err, ApiKeyError::ReadFile { .. }));
        assert!(err.to_string().contains("missing"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
