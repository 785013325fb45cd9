//! The command line: the flags ([`Args`]) and their checks ([`Settings`]), all made before any
//! network call. What needs the network (the stack, the secret, a key in SSM) is read by
//! [`super::run`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use clap::builder::PossibleValue;
use clap::builder::{NonEmptyStringValueParser, PossibleValuesParser, TypedValueParser as _};
use clap::{Parser, ValueEnum};
use reqwest::Url;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;

use super::BootstrapError::{self, Usage};
use crate::deployment::DeploymentArgs;
use crate::exit_status::Tool;
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::webhook_event::EventType;
use flowiq_webhooks::webhook_tokens::{MIN_TOKEN_LENGTH, TokenProblem, token_problem};

pub const API_KEY_ENV: &str = "FLOWIQ_API_KEY";
pub const DEFAULT_API_BASE: &str = "https://api.flowiq.live";

const AFTER_HELP: &str = "\
Where each value comes from (the first one found):
  base URL  --url, else the stack output CustomDomainWebhookBaseUrl (a custom domain), else WebhookBaseUrl
  token     WEBHOOK_TOKEN (or --token), else the stack's secret (output WebhookTokenSecretArn, key \"token\")
  table     --table-name / TABLE_NAME, else the stack output TableName
  API key   --api-key-file, --api-key-ssm-parameter, else FLOWIQ_API_KEY
  stack     --stack-name, else stack_name in ./samconfig.toml ([<config-env>.deploy.parameters], then
            [<config-env>.global.parameters]), else flowiq-webhooks
  region    --region, else the usual AWS configuration (AWS_REGION, AWS_PROFILE, ~/.aws/config)
With --function-name (a function deployed without SAM, e.g. by cargo lambda deploy) instead of a stack:
  base URL  the function's URL; token  from the secret its WEBHOOK_TOKEN_SECRET names (else the
            first of its WEBHOOK_TOKENS); table  its TABLE_NAME
  (each still after --url, WEBHOOK_TOKEN, --table-name / TABLE_NAME)

Examples:
  read -rs FLOWIQ_API_KEY && export FLOWIQ_API_KEY   # paste the key; it stays out of history
  flowiq-bootstrap --dry-run                         # show the request, send nothing
  flowiq-bootstrap                                   # right after `sam deploy`
  flowiq-bootstrap --function-name flowiq-webhook    # after `cargo lambda deploy flowiq-webhook`
  flowiq-bootstrap --platform web --type message_received --type sent_message

";

/// `--help`'s tail: the sources, examples and the exit codes.
fn after_help() -> String {
    format!(
        "{AFTER_HELP}{}\nDetails: docs/bootstrap.md",
        Tool::Bootstrap.exit_codes_help()
    )
}

/// Registers the deployed webhook URL with FlowIQ (Create Webhook).
///
/// Works out `<base>/webhooks/<platform>/<token>` from the deployed stack, registers it for each
/// `--type`, and records each registration in the project's DynamoDB table so that running it
/// again does nothing (unless --force).
#[derive(Debug, Parser)]
#[command(name = "flowiq-bootstrap", version, after_help = after_help())]
pub struct Args {
    #[command(flatten)]
    pub deployment: DeploymentArgs,

    /// Lambda function deployed without SAM whose URL, token (its WEBHOOK_TOKEN_SECRET's, else its
    /// first WEBHOOK_TOKENS) and TABLE_NAME are used, instead of a stack's outputs
    #[arg(long, value_name = "NAME", conflicts_with = "stack_name",
          value_parser = NonEmptyStringValueParser::new())]
    pub function_name: Option<String>,

    /// Base URL of the receiver (without /webhooks/…), instead of the stack output
    /// CustomDomainWebhookBaseUrl or WebhookBaseUrl
    #[arg(long, value_name = "BASE_URL")]
    pub url: Option<String>,

    /// Webhook token, instead of the stack's secret. Prefer the environment variable: a flag
    /// value stays in shell history and is visible in the process list
    #[arg(long, env = "WEBHOOK_TOKEN", hide_env_values = true, value_name = "TOKEN",
          value_parser = |v: &str| Ok::<_, std::convert::Infallible>(SecretString::from(v)))]
    pub token: Option<SecretString>,

    /// FlowIQ platform to register for (each platform is registered separately)
    #[arg(long, value_name = "PLATFORM", default_value = "whatsapp",
          value_parser = PossibleValuesParser::new(["whatsapp", "web"])
              .map(|p| p.parse::<Platform>().expect("a possible value")))]
    pub platform: Platform,

    /// Event type to subscribe to; repeat for several (one webhook each)
    #[arg(long = "type", value_name = "TYPE", value_enum, default_values_t = [WebhookType::ALL])]
    pub types: Vec<WebhookType>,

    /// Read the FlowIQ API key from this file (instead of FLOWIQ_API_KEY)
    #[arg(long, value_name = "PATH", conflicts_with = "api_key_ssm_parameter")]
    pub api_key_file: Option<PathBuf>,

    /// Read the FlowIQ API key from this SSM parameter (SecureString, decrypted), instead of
    /// FLOWIQ_API_KEY
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub api_key_ssm_parameter: Option<String>,

    /// FlowIQ API root (tests, staging)
    #[arg(long, env = "FLOWIQ_API_BASE", value_name = "URL", default_value = DEFAULT_API_BASE)]
    pub api_base: String,

    /// Allow http:// for --url, the stack's base URL and --api-base (local testing only)
    #[arg(long)]
    pub allow_http: bool,

    /// Register even if a record says this URL, platform and type are already registered
    #[arg(long)]
    pub force: bool,

    /// Print the request(s) that would be sent, key and token masked; send nothing, write
    /// nothing (still reads the stack outputs, the token's secret and the API key)
    #[arg(long)]
    pub dry_run: bool,

    /// Print one JSON object on stdout instead of text
    #[arg(long)]
    pub json: bool,

    /// Seconds to wait for the TCP/TLS connection to FlowIQ
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
    pub connect_timeout: Duration,

    /// Seconds to wait for each FlowIQ answer
    #[arg(long, value_name = "SECONDS", default_value = "15", value_parser = seconds)]
    pub request_timeout: Duration,

    /// Attempts per registration when FlowIQ answers 429/5xx, times out or cannot be reached
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    pub max_attempts: u32,
}

/// Seconds, fractions allowed (`5`, `0.5`); more than zero, at most an hour.
fn seconds(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
        Ok(_) => Err(format!("{value} is not between 0 and 3600 seconds")),
        Err(_) => Err(format!("{value:?} is not a number of seconds")),
    }
}

/// Create Webhook's `type`: `all` (every event type through one webhook), one of FlowIQ's
/// event types (the receiver's list, [`EventType::KNOWN`]: the documented ones, then `call`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct WebhookType(&'static str);

impl WebhookType {
    pub const ALL: WebhookType = WebhookType("all");
}

/// `all`, the documented event types, `call`: `--type`'s values, in that order.
static WEBHOOK_TYPES: LazyLock<Vec<WebhookType>> = LazyLock::new(|| {
    let known = EventType::KNOWN
        .iter()
        .filter_map(EventType::known_name)
        .map(WebhookType);
    std::iter::once(WebhookType::ALL).chain(known).collect()
});

impl ValueEnum for WebhookType {
    fn value_variants<'a>() -> &'a [Self] {
        &WEBHOOK_TYPES
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0))
    }
}

impl fmt::Display for WebhookType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Where the FlowIQ API key comes from once the flags are checked.
#[derive(Debug, Clone)]
pub enum ApiKey {
    /// Read from `--api-key-file` or `FLOWIQ_API_KEY`, checked.
    Given(SecretString),
    /// To be read from SSM by the run (`--api-key-ssm-parameter`).
    SsmParameter(String),
}

/// The flags, checked.
#[derive(Debug)]
pub struct Settings {
    pub args: Args,
    /// `--url`, checked and without a final `/`.
    pub base_url: Option<String>,
    /// `--token` / `WEBHOOK_TOKEN`, checked.
    pub token: Option<SecretString>,
    pub api_key: ApiKey,
    /// `--type`s in the order given, each once.
    pub types: Vec<WebhookType>,
    /// `<--api-base>/set-webhooks` (a base path is kept).
    pub endpoint: Url,
    /// The backoff ceiling of the first retry, doubling up to 8 s (tests shorten it).
    pub first_backoff: Duration,
    /// Where samconfig.toml is looked for.
    pub samconfig_dir: PathBuf,
}

impl Settings {
    /// `env_api_key` is `FLOWIQ_API_KEY` (read by the binary).
    pub fn new(
        args: Args,
        env_api_key: Option<String>,
        samconfig_dir: PathBuf,
    ) -> Result<Self, BootstrapError> {
        let base_url = args
            .url
            .as_deref()
            .map(|url| base_url(url, "--url", args.allow_http))
            .transpose()?;
        let token = args
            .token
            .as_ref()
            .map(|token| check_token(token.expose_secret()))
            .transpose()
            .map_err(|problem| Usage(format!("--token / WEBHOOK_TOKEN: {problem}")))?;
        let api_key = match (&args.api_key_file, &args.api_key_ssm_parameter, env_api_key) {
            (Some(path), ..) => ApiKey::Given(read_key_file(path)?),
            (None, Some(name), _) => ApiKey::SsmParameter(name.clone()),
            (None, None, Some(key)) => ApiKey::Given(check_api_key(&key, API_KEY_ENV)?),
            (None, None, None) => {
                return Err(Usage(format!(
                    "no FlowIQ API key: set {API_KEY_ENV}, or pass --api-key-file PATH or \
                     --api-key-ssm-parameter NAME (the key is never accepted as a flag value)"
                )));
            }
        };
        let mut types = args.types.clone();
        let mut seen = std::collections::HashSet::new();
        types.retain(|event_type| seen.insert(*event_type));
        if types.contains(&WebhookType::ALL)
            && let Some(other) = types.iter().find(|t| **t != WebhookType::ALL)
        {
            return Err(Usage(format!(
                "--type all already subscribes to every event type: registering {other} as well \
                 would make FlowIQ deliver those events twice. Pass either `--type all` or the \
                 individual types"
            )));
        }
        let api_base = http_url(&args.api_base, "--api-base", args.allow_http, API_TLS)?;
        let endpoint = format!("{}/set-webhooks", api_base.as_str().trim_end_matches('/'));
        Ok(Settings {
            endpoint: Url::parse(&endpoint).expect("a URL with a path added"),
            base_url,
            token,
            api_key,
            types,
            first_backoff: Duration::from_millis(500),
            samconfig_dir,
            args,
        })
    }

    /// Whether the run can call AWS at all (if not, no AWS configuration is loaded).
    pub fn needs_aws(&self) -> bool {
        matches!(self.api_key, ApiKey::SsmParameter(_))
            || self.base_url.is_none()
            || self.token.is_none()
            || !self.args.dry_run
    }
}

/// Why each URL must be https.
const RECEIVER_TLS: &str = "FlowIQ must reach the receiver over TLS";
const API_TLS: &str = "the API key would travel to FlowIQ's API unencrypted";

/// An absolute http(s) URL without credentials, query or fragment; https unless `allow_http`.
fn http_url(raw: &str, what: &str, allow_http: bool, why_tls: &str) -> Result<Url, BootstrapError> {
    let raw = raw.trim();
    let problem = match Url::parse(raw) {
        Err(e) => format!("is not an absolute URL: {e}"),
        Ok(url) if url.scheme() == "http" && !allow_http => {
            format!("is not https: {why_tls} (pass --allow-http only for local testing)")
        }
        Ok(url) if !matches!(url.scheme(), "http" | "https") => "must be an http(s) URL".into(),
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            "must not contain a user name or password".into()
        }
        Ok(url) if url.query().is_some() || url.fragment().is_some() => {
            "must not have a query (`?…`) or fragment (`#…`)".into()
        }
        Ok(url) => return Ok(url),
    };
    Err(Usage(format!("{what} {raw:?} {problem}")))
}

/// The receiver's base URL (`--url` or a stack output), without `/webhooks/…` and a final `/`;
/// a base path (a custom domain's mapping) is kept. `what` names it in messages.
pub fn base_url(raw: &str, what: &str, allow_http: bool) -> Result<String, BootstrapError> {
    // Checked before anything that would echo the URL: a full webhook URL holds the token.
    if raw.contains("/webhooks/") || raw.trim_end_matches('/').ends_with("/webhooks") {
        return Err(Usage(format!(
            "{what} already contains /webhooks/…: pass only the base URL (e.g. \
             https://abc123.execute-api.eu-west-1.amazonaws.com); the platform and token are added"
        )));
    }
    let url = http_url(raw, what, allow_http, RECEIVER_TLS)?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A token the receiver accepts (a token it would refuse is a typo, not something to
/// register). The problem never quotes the token.
pub fn check_token(token: &str) -> Result<SecretString, String> {
    match token_problem(token) {
        _ if token.is_empty() => Err("the webhook token is empty".to_owned()),
        Some(TokenProblem::TooShort { length }) => Err(format!(
            "the webhook token is {length} characters long; the receiver accepts only tokens of \
             at least {MIN_TOKEN_LENGTH}"
        )),
        Some(TokenProblem::NotUrlSafe) => Err(
            "the webhook token has characters other than letters, digits, '-', '_', '.' and \
             '~': it goes in a URL path"
                .to_owned(),
        ),
        None => Ok(SecretString::from(token)),
    }
}

/// The key alone, surrounding whitespace dropped (files often end in a newline); visible ASCII
/// only, as it goes in an HTTP header.
pub fn check_api_key(raw: &str, origin: &str) -> Result<SecretString, BootstrapError> {
    match raw.trim() {
        "" => Err(Usage(format!("the FlowIQ API key from {origin} is empty"))),
        key if !key.bytes().all(|b| b.is_ascii_graphic()) => Err(Usage(format!(
            "the FlowIQ API key from {origin} contains spaces or control characters: it must be \
             the key alone (FlowIQ keys look like fiq_…)"
        ))),
        key => Ok(SecretString::from(key)),
    }
}

fn read_key_file(path: &Path) -> Result<SecretString, BootstrapError> {
    let shown = path.display();
    let key = std::fs::read_to_string(path)
        .map_err(|e| Usage(format!("cannot read the FlowIQ API key file {shown}: {e}")))?;
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path)
        && std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077 != 0
    {
        tracing::warn!("{shown} can be read by other users; `chmod 600 {shown}` keeps it yours");
    }
    check_api_key(&key, &format!("--api-key-file {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij";

    fn settings(flags: &[&str], env_key: Option<&str>) -> Result<Settings, String> {
        let args = Args::try_parse_from(["flowiq-bootstrap"].iter().chain(flags))
            .map_err(|e| e.to_string())?;
        Settings::new(args, env_key.map(str::to_owned), PathBuf::new()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    /// Each flag check, with the message it gives; the binary test shows they exit 2.
    #[test]
    fn flags_are_checked_before_anything_is_sent() {
        let key_file = std::env::temp_dir().join(format!("flowiq-key-{}", std::process::id()));
        std::fs::write(&key_file, "  fiq_from_file \n").unwrap();
        let key_file = key_file.to_str().unwrap();
        let ok = |s: Settings| {
            let key = match &s.api_key {
                ApiKey::Given(key) => key.expose_secret().to_owned(),
                ApiKey::SsmParameter(name) => format!("ssm:{name}"),
            };
            let token = s.token.as_ref().map(|t| t.expose_secret().to_owned());
            let types: Vec<_> = s.types.iter().map(ToString::to_string).collect();
            let base = s.base_url.clone().unwrap_or_default();
            format!("{base} {} {key} {} {token:?}", s.endpoint, types.join(","))
        };
        let env = Some("fiq_env");
        let default = "https://api.flowiq.live/set-webhooks";
        let cases: &[(&[&str], Option<&str>, &str)] = &[
            (&[], env, &format!(" {default} fiq_env all None")),
            (
                &["--api-key-file", key_file],
                env,
                &format!(" {default} fiq_from_file all None"),
            ),
            (
                &["--api-key-ssm-parameter", "/k"],
                env,
                &format!(" {default} ssm:/k all None"),
            ),
            (
                &["--type", "call", "--type", "message_read", "--type", "call"],
                env,
                &format!(" {default} fiq_env call,message_read None"),
            ),
            (
                &[
                    "--url",
                    "https://HOOKS.example.com/flowiq/",
                    "--token",
                    TOKEN,
                ],
                env,
                &format!("https://hooks.example.com/flowiq {default} fiq_env all Some({TOKEN:?})"),
            ),
            (
                &[
                    "--url",
                    "http://127.0.0.1:9000",
                    "--api-base",
                    "http://127.0.0.1:1/v1",
                    "--allow-http",
                ],
                env,
                "http://127.0.0.1:9000 http://127.0.0.1:1/v1/set-webhooks fiq_env all None",
            ),
            // Errors.
            (&[], None, "no FlowIQ API key: set FLOWIQ_API_KEY"),
            (
                &[],
                Some(" \n"),
                "the FlowIQ API key from FLOWIQ_API_KEY is empty",
            ),
            (
                &[],
                Some("Bearer fiq_x"),
                "contains spaces or control characters",
            ),
            (
                &["--api-key-file", "/nonexistent/key"],
                env,
                "cannot read the FlowIQ API key file /nonexistent/key",
            ),
            (
                &["--api-key-file", "k", "--api-key-ssm-parameter", "/k"],
                env,
                "cannot be used with",
            ),
            (
                &["--api-key", "fiq_x"],
                None,
                "unexpected argument '--api-key'",
            ),
            (
                &["--type", "all", "--type", "call"],
                env,
                "registering call as well",
            ),
            (&["--type", "message-received"], env, "invalid value"),
            (&["--platform", "WhatsApp"], env, "invalid value"),
            (
                &["--url", "http://127.0.0.1:9000"],
                env,
                "--url \"http://127.0.0.1:9000\" is not https: FlowIQ must reach the receiver over TLS (pass --allow-http",
            ),
            (
                &["--api-base", "http://127.0.0.1:1"],
                env,
                "--api-base \"http://127.0.0.1:1\" is not https: the API key would travel to FlowIQ's API unencrypted (pass --allow-http",
            ),
            (
                &["--url", "ftp://example.com", "--allow-http"],
                env,
                "must be an http(s) URL",
            ),
            (&["--url", "example.com"], env, "is not an absolute URL"),
            (
                &["--url", "https://u:p@example.com"],
                env,
                "must not contain a user name",
            ),
            (
                &["--url", "https://example.com/#x"],
                env,
                "must not have a query",
            ),
            (
                &["--url", &format!("http://x/webhooks/web/{TOKEN}")],
                env,
                "--url already contains /webhooks/…",
            ),
            (
                &["--token", "short"],
                env,
                "--token / WEBHOOK_TOKEN: the webhook token is 5 characters long; the receiver accepts only tokens of at least 32",
            ),
            (
                &["--token", &format!("a/{TOKEN}")],
                env,
                "other than letters, digits",
            ),
            (
                &["--token", &format!("a%2F{TOKEN}")],
                env,
                "other than letters, digits",
            ),
            (&["--stack-name", " "], env, "the value is empty"),
            (
                &["--connect-timeout", "0"],
                env,
                "0 is not between 0 and 3600 seconds",
            ),
            (
                &["--request-timeout", "soon"],
                env,
                "\"soon\" is not a number of seconds",
            ),
            (&["--max-attempts", "11"], env, "11 is not in 1..=10"),
        ];
        for (flags, env_key, expected) in cases {
            let outcome = settings(flags, *env_key).map(ok);
            let text = outcome.clone().unwrap_or_else(|e| e);
            assert!(text.contains(expected), "{flags:?}: {text}");
            assert!(!text.contains(&TOKEN[..20]) || outcome.is_ok(), "{text}");
        }
        let s = settings(&["--connect-timeout", "0.5", "--request-timeout", "2"], env).unwrap();
        assert_eq!(
            (
                s.args.connect_timeout,
                s.args.request_timeout,
                s.args.max_attempts
            ),
            (Duration::from_millis(500), Duration::from_secs(2), 5)
        );
    }

    #[test]
    fn only_a_dry_run_with_everything_given_needs_no_aws() {
        let given = [
            "--dry-run",
            "--url",
            "https://x.example.com",
            "--token",
            TOKEN,
        ];
        for (extra, needs_aws) in [(&[][..], false), (&["--api-key-ssm-parameter", "/k"], true)] {
            let flags: Vec<&str> = given.iter().chain(extra).copied().collect();
            assert_eq!(settings(&flags, Some("k")).unwrap().needs_aws(), needs_aws);
        }
        assert!(settings(&given[1..], Some("k")).unwrap().needs_aws());
    }
}
