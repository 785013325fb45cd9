//! Where the operator CLIs get the contact key, which turns a WhatsApp number into its
//! `by-contact` key (the receiver's src/contact_key.rs): from the secret the function reads, or
//! from a file or the environment. Never from a flag's value: the key is a secret, and a command
//! line shows in `ps` and in shell history (docs/security.md#contact-keys).

use std::path::{Path, PathBuf};

use flowiq_webhooks::contact_key::{ContactKey, ContactKeyError};
use flowiq_webhooks::contact_key_secret::ContactKeySecretError;

/// The stack output naming the contact key's secret (template.yaml).
pub const CONTACT_KEY_SECRET_OUTPUT: &str = "ContactKeySecretArn";

/// The environment variable holding the key itself (local tables, tests), as for the function.
pub const CONTACT_KEY_ENV: &str = "CONTACT_KEY";

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ContactKeyArgs {
    /// Secrets Manager secret (ARN or name) holding the contact key, needed to find a WhatsApp
    /// number's conversation and to store events [default: the stack output
    /// ContactKeySecretArn]
    #[arg(long, env = "CONTACT_KEY_SECRET", value_name = "SECRET", global = true)]
    pub contact_key_secret: Option<String>,

    /// A file whose first line is the contact key (a local table), instead of its secret; the
    /// key itself may also be in CONTACT_KEY
    #[arg(long, env = "CONTACT_KEY_FILE", value_name = "PATH", global = true)]
    pub contact_key_file: Option<PathBuf>,
}

/// What is wrong with the contact key given. Messages name where it came from, never its value.
#[derive(Debug, thiserror::Error)]
pub enum ContactKeyArgsError {
    #[error(
        "give the contact key once: CONTACT_KEY, --contact-key-file (CONTACT_KEY_FILE) or --contact-key-secret (CONTACT_KEY_SECRET)"
    )]
    Several,
    #[error("cannot read --contact-key-file {path}: {kind}")]
    Unreadable {
        path: String,
        kind: std::io::ErrorKind,
    },
    #[error("--contact-key-file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: ContactKeyError,
    },
    #[error("{CONTACT_KEY_ENV}: {0}")]
    Environment(#[source] ContactKeyError),
    #[error(transparent)]
    Secret(#[from] ContactKeySecretError),
}

impl ContactKeyArgsError {
    /// Reading the secret failed (AWS); everything else is the operator's configuration.
    pub fn is_aws(&self) -> bool {
        matches!(
            self,
            ContactKeyArgsError::Secret(ContactKeySecretError::Read { .. })
        )
    }
}

/// Where the key is to come from.
#[derive(Debug)]
pub enum ContactKeySource {
    /// Read already, from a file or the environment.
    Local(ContactKey),
    /// The secret given (`--contact-key-secret`), or `None`: the stack output's.
    Secret(Option<String>),
}

/// Resolves the flags and the environment (`lookup`, for `CONTACT_KEY`) without AWS.
pub fn contact_key_source(
    args: &ContactKeyArgs,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ContactKeySource, ContactKeyArgsError> {
    let secret = args
        .contact_key_secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let environment = lookup(CONTACT_KEY_ENV).filter(|key| !key.is_empty());
    match (&args.contact_key_file, environment, secret) {
        (Some(path), None, None) => key_file(path).map(ContactKeySource::Local),
        (None, Some(key), None) => ContactKey::new(&key)
            .map(ContactKeySource::Local)
            .map_err(ContactKeyArgsError::Environment),
        (None, None, secret) => Ok(ContactKeySource::Secret(secret.map(str::to_owned))),
        _ => Err(ContactKeyArgsError::Several),
    }
}

fn key_file(path: &Path) -> Result<ContactKey, ContactKeyArgsError> {
    let (text, path) = (std::fs::read_to_string(path), path.display().to_string());
    let text = text.map_err(|err| ContactKeyArgsError::Unreadable {
        path: path.clone(),
        kind: err.kind(),
    })?;
    let line = text.lines().next().unwrap_or_default();
    ContactKey::new(line).map_err(|source| ContactKeyArgsError::File { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowiq_webhooks::contact_key::LOCAL_DEV_CONTACT_KEY;

    fn args(secret: Option<&str>, file: Option<&Path>) -> ContactKeyArgs {
        ContactKeyArgs {
            contact_key_secret: secret.map(str::to_owned),
            contact_key_file: file.map(Path::to_path_buf),
        }
    }

    #[test]
    fn one_source_from_a_file_the_environment_or_a_secret() {
        let dir = std::env::temp_dir().join(format!("contact-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        std::fs::write(&file, format!("{LOCAL_DEV_CONTACT_KEY}\n")).unwrap();
        let none = |_: &str| None;
        let env = |name: &str| (name == CONTACT_KEY_ENV).then(|| LOCAL_DEV_CONTACT_KEY.to_owned());
        let dev = ContactKey::local_dev().whatsapp_digest("o", "1");
        for source in [
            contact_key_source(&args(None, Some(&file)), none).unwrap(),
            contact_key_source(&args(None, None), env).unwrap(),
        ] {
            let ContactKeySource::Local(key) = source else {
                panic!("{source:?}")
            };
            assert_eq!(key.whatsapp_digest("o", "1"), dev);
        }
        assert!(matches!(
            contact_key_source(&args(Some(" arn:s "), None), none).unwrap(),
            ContactKeySource::Secret(Some(s)) if s == "arn:s"
        ));
        assert!(matches!(
            contact_key_source(&args(None, None), none).unwrap(),
            ContactKeySource::Secret(None)
        ));
        for (flags, lookup) in [
            (
                args(Some("s"), Some(&file)),
                none as fn(&str) -> Option<String>,
            ),
            (args(Some("s"), None), |_: &str| Some("k".repeat(40))),
        ] {
            assert!(matches!(
                contact_key_source(&flags, lookup),
                Err(ContactKeyArgsError::Several)
            ));
        }
        std::fs::write(&file, "too-short-key\n").unwrap();
        let err = contact_key_source(&args(None, Some(&file)), none)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("13 characters long") && !err.contains("too-short-key"),
            "{err}"
        );
        let missing = dir.join("missing");
        let err = contact_key_source(&args(None, Some(&missing)), none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read --contact-key-file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
