//! The command line: flags (clap), their validation into [`Settings`] before any network call,
//! and the documented exit codes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use clap::builder::TypedValueParser as _;
use secrecy::SecretString;

use super::api_key::{API_KEY_ENV, ApiKeyError, ApiKeySource};
use super::flowiq_client::{ApiBase, DEFAULT_API_BASE, HttpSettings};
use super::retry::RetryPolicy;
use super::webhook_type::{AllWithOthers, WebhookType, select_types};
use super::webhook_url::{BaseUrl, TokenError, UrlError, WebhookToken};
use crate::deployment::DeploymentArgs;
use flowiq_webhooks::platform::Platform;

/// The process exit codes (documented in `--help` and docs/bootstrap.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// Every type registered or already registered, or a dry run.
    Success = 0,
    /// A bug or an environment problem (e.g. stdout closed).
    Unexpected = 1,
    /// Bad flag, missing API key, non-https URL, …: nothing was sent.
    Usage = 2,
    /// FlowIQ answered 401 or 403.
    KeyRejected = 3,
    /// FlowIQ refused the request or answered something other than the documented response.
    FlowIqError = 4,
    /// FlowIQ could not be reached: connection failures, timeouts, 429/5xx until the attempts ran out.
    Unreachable = 5,
    /// An AWS call failed: stack, output, secret, SSM parameter, DynamoDB.
    Aws = 6,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
}

const AFTER_HELP: &str = "\
Where each value comes from (the first one found):
  base URL  --url, else the stack output CustomDomainWebhookBaseUrl (a custom domain), else WebhookBaseUrl
  token     WEBHOOK_TOKEN (or --token), else the stack's secret (output WebhookTokenSecretArn, key \"token\")
  table     --table-name / TABLE_NAME, else the stack output TableName
  API key   --api-key-file, --api-key-ssm-parameter, else FLOWIQ_API_KEY
  stack     --stack-name, else stack_name in ./samconfig.toml ([<config-env>.deploy.parameters], then
            [<config-env>.global.parameters]), else flowiq-webhooks
  region    --region, else the usual AWS configuration (AWS_REGION, AWS_PROFILE, ~/.aws/config)

Exit codes:
  0  success: every type registered or already registered (or a dry run)
  1  unexpected error
  2  usage or configuration error (bad flag, no API key, a non-https URL, …); nothing was sent
  3  FlowIQ rejected the API key (HTTP 401/403)
  4  FlowIQ refused the request or did not answer as documented (FlowIQ's message is shown)
  5  FlowIQ unreachable: connection failures, timeouts, or 429/5xx until the attempts ran out
  6  an AWS call failed (stack, stack output, secret, SSM parameter, DynamoDB)

Examples:
  read -rs FLOWIQ_API_KEY && export FLOWIQ_API_KEY   # paste the key; it stays out of history
  flowiq-bootstrap --dry-run                         # show the request, send nothing
  flowiq-bootstrap                                   # right after `sam deploy`
  flowiq-bootstrap --platform web --type message_received --type sent_message

Details: docs/bootstrap.md";

/// Registers the deployed webhook URL with FlowIQ (Create Webhook).
///
/// Works out `<base>/webhooks/<platform>/<token>` from the deployed stack, registers it for each
/// `--type`, and records each registration in the project's DynamoDB table so that running it
/// again does nothing (unless --force).
#[derive(Debug, Parser)]
#[command(name = "flowiq-bootstrap", version, after_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    pub deployment: DeploymentArgs,

    /// Base URL of the receiver (without /webhooks/…), instead of the stack output
    /// CustomDomainWebhookBaseUrl or WebhookBaseUrl
    #[arg(long, value_name = "BASE_URL")]
    pub url: Option<String>,

    /// Webhook token, instead of the stack's secret. Prefer the environment variable: a flag
    /// value stays in shell history and is visible in the process list
    #[arg(
        long,
        env = "WEBHOOK_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = parse_secret
    )]
    pub token: Option<SecretString>,

    /// FlowIQ platform to register for (each platform is registered separately)
    #[arg(
        long,
        value_name = "PLATFORM",
        default_value = "whatsapp",
        value_parser = clap::builder::PossibleValuesParser::new(["whatsapp", "web"])
            .map(|p| p.parse::<Platform>().expect("a possible value"))
    )]
    pub platform: Platform,

    /// Event type to subscribe to; repeat for several (one webhook each)
    #[arg(
        long = "type",
        value_name = "TYPE",
        value_enum,
        default_values_t = [WebhookType::All]
    )]
    pub types: Vec<WebhookType>,

    /// Read the FlowIQ API key from this file (instead of FLOWIQ_API_KEY)
    #[arg(long, value_name = "PATH", conflicts_with = "api_key_ssm_parameter")]
    pub api_key_file: Option<PathBuf>,

    /// Read the FlowIQ API key from this SSM parameter (SecureString, decrypted), instead of
    /// FLOWIQ_API_KEY
    #[arg(long, value_name = "NAME")]
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
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    pub connect_timeout: Duration,

    /// Seconds to wait for each FlowIQ answer
    #[arg(long, value_name = "SECONDS", default_value = "15", value_parser = parse_seconds)]
    pub request_timeout: Duration,

    /// Attempts per registration when FlowIQ answers 429/5xx, times out or cannot be reached
    #[arg(
        long,
        value_name = "N",
        default_value_t = RetryPolicy::DEFAULT_MAX_ATTEMPTS,
        value_parser = clap::value_parser!(u32).range(1..=10)
    )]
    pub max_attempts: u32,
}

fn parse_secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// Seconds, fractions allowed: `5`, `0.5`; more than zero, at most an hour.
fn parse_seconds(value: &str) -> Result<Duration, String> {
    let seconds: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    if !(seconds > 0.0 && seconds <= 3600.0) {
        return Err(format!("{value} is not between 0 and 3600 seconds"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("--token / WEBHOOK_TOKEN: {0}")]
    Token(#[from] TokenError),
    #[error(transparent)]
    Types(#[from] AllWithOthers),
    #[error(transparent)]
    ApiKey(#[from] ApiKeyError),
    #[error("{0} is empty")]
    Empty(&'static str),
}

/// Everything the run needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub deployment: DeploymentArgs,
    /// Where samconfig.toml is looked for.
    pub samconfig_dir: PathBuf,
    pub base_url: Option<BaseUrl>,
    pub token: Option<WebhookToken>,
    pub platform: Platform,
    pub types: Vec<WebhookType>,
    pub api_key: ApiKeySource,
    pub api_base: ApiBase,
    pub allow_http: bool,
    pub force: bool,
    pub dry_run: bool,
    pub json: bool,
    pub http: HttpSettings,
}

impl Settings {
    /// Validates the flags; `env` reads `FLOWIQ_API_KEY` (the process environment in the binary),
    /// `cwd` is where samconfig.toml is looked for.
    pub fn from_args(
        args: Args,
        env: impl Fn(&str) -> Option<String>,
        cwd: &Path,
    ) -> Result<Self, UsageError> {
        let non_empty = |value: Option<String>, what: &'static str| match value {
            Some(v) if v.trim().is_empty() => Err(UsageError::Empty(what)),
            other => Ok(other.map(|v| v.trim().to_owned())),
        };
        let base_url = args
            .url
            .as_deref()
            .map(|url| BaseUrl::parse(url, "--url", args.allow_http))
            .transpose()?;
        let token = args.token.map(WebhookToken::parse).transpose()?;
        let api_key = ApiKeySource::choose(
            args.api_key_file,
            non_empty(args.api_key_ssm_parameter, "--api-key-ssm-parameter")?,
            env(API_KEY_ENV).map(SecretString::from),
        )?;
        Ok(Settings {
            deployment: args.deployment,
            samconfig_dir: cwd.to_owned(),
            base_url,
            token,
            platform: args.platform,
            types: select_types(&args.types)?,
            api_key,
            api_base: ApiBase::parse(&args.api_base, args.allow_http)?,
            allow_http: args.allow_http,
            force: args.force,
            dry_run: args.dry_run,
            json: args.json,
            http: HttpSettings {
                connect_timeout: args.connect_timeout,
                request_timeout: args.request_timeout,
                retry: RetryPolicy {
                    max_attempts: args.max_attempts,
                    ..RetryPolicy::default()
                },
            },
        })
    }

    /// Whether any AWS call can happen (if not, no AWS configuration is loaded at all).
    pub fn needs_aws(&self) -> bool {
        matches!(self.api_key, ApiKeySource::SsmParameter(_))
            || self.base_url.is_none()
            || self.token.is_none()
            || !self.dry_run
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    const TOKEN: &str = "local-dev-token-not-a-secret-0123456789";

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("flowiq-bootstrap").chain(args.iter().copied()))
    }

    fn settings(args: &[&str], key: Option<&str>) -> Result<Settings, UsageError> {
        let key = key.map(str::to_owned);
        Settings::from_args(
            parse(args).unwrap(),
            move |name| (name == API_KEY_ENV).then(|| key.clone()).flatten(),
            Path::new(env!("CARGO_MANIFEST_DIR")),
        )
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let s = settings(&[], Some("fiq_k")).unwrap();
        assert_eq!(s.platform, Platform::Whatsapp);
        assert_eq!(s.types, [WebhookType::All]);
        assert_eq!(
            s.api_base.create_webhook_endpoint().as_str(),
            "https://api.flowiq.live/set-webhooks"
        );
        assert_eq!(s.http, HttpSettings::default());
        assert!(!s.force && !s.dry_run && !s.json && !s.allow_http);
        assert!(s.needs_aws());
    }

    #[test]
    fn types_repeat_and_platforms_are_checked() {
        let s = settings(
            &[
                "--type",
                "message_received",
                "--type",
                "call",
                "--platform",
                "web",
            ],
            Some("k"),
        )
        .unwrap();
        assert_eq!(s.types, [WebhookType::MessageReceived, WebhookType::Call]);
        assert_eq!(s.platform, Platform::Web);
        for bad in [
            &["--type", "message-received"][..],
            &["--type", "everything"],
            &["--platform", "sms"],
            &["--platform", "WhatsApp"],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
        assert!(matches!(
            settings(&["--type", "all", "--type", "call"], Some("k")),
            Err(UsageError::Types(_))
        ));
    }

    #[test]
    fn urls_must_be_https_unless_allowed() {
        let err = settings(&["--url", "http://127.0.0.1:9000"], Some("k")).unwrap_err();
        assert!(err.to_string().contains("--allow-http"), "{err}");
        let err = settings(&["--api-base", "http://127.0.0.1:1"], Some("k")).unwrap_err();
        assert!(err.to_string().contains("--api-base"), "{err}");
        let s = settings(
            &[
                "--url",
                "http://127.0.0.1:9000",
                "--api-base",
                "http://127.0.0.1:1",
                "--allow-http",
            ],
            Some("k"),
        )
        .unwrap();
        assert_eq!(s.base_url.unwrap().as_str(), "http://127.0.0.1:9000");
    }

    #[test]
    fn the_api_key_never_comes_from_a_flag_value() {
        assert!(parse(&["--api-key", "fiq_x"]).is_err());
        let err = settings(&[], None).unwrap_err();
        assert!(err.to_string().contains("FLOWIQ_API_KEY"), "{err}");
        assert!(parse(&["--api-key-file", "a", "--api-key-ssm-parameter", "b"]).is_err());
        let s = settings(&["--api-key-ssm-parameter", "/flowiq/key"], None).unwrap();
        assert!(matches!(s.api_key, ApiKeySource::SsmParameter(ref n) if n == "/flowiq/key"));
    }

    #[test]
    fn tokens_and_timeouts_are_validated() {
        let s = settings(&["--token", TOKEN], Some("k")).unwrap();
        assert_eq!(s.token.unwrap().expose_secret(), TOKEN);
        let err = settings(&["--token", "short"], Some("k")).unwrap_err();
        assert!(err.to_string().contains("at least 32"), "{err}");
        assert!(!err.to_string().contains("short"));
        let s = settings(
            &[
                "--connect-timeout",
                "0.5",
                "--request-timeout",
                "2",
                "--max-attempts",
                "1",
            ],
            Some("k"),
        )
        .unwrap();
        assert_eq!(s.http.connect_timeout, Duration::from_millis(500));
        assert_eq!(s.http.request_timeout, Duration::from_secs(2));
        assert_eq!(s.http.retry.max_attempts, 1);
        for bad in [
            &["--connect-timeout", "0"][..],
            &["--request-timeout", "-1"],
            &["--request-timeout", "soon"],
            &["--max-attempts", "0"],
            &["--max-attempts", "11"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_dry_run_with_everything_given_needs_no_aws() {
        let s = settings(
            &[
                "--dry-run",
                "--url",
                "https://x.example.com",
                "--token",
                TOKEN,
            ],
            Some("k"),
        )
        .unwrap();
        assert!(!s.needs_aws());
        let s = settings(
            &[
                "--dry-run",
                "--url",
                "https://x.example.com",
                "--token",
                TOKEN,
                "--api-key-ssm-parameter",
                "/k",
            ],
            None,
        )
        .unwrap();
        assert!(s.needs_aws());
    }

    #[test]
    fn the_help_documents_exit_codes_and_sources() {
        let help = Args::command().render_long_help().to_string();
        for part in [
            "Exit codes:",
            "3  FlowIQ rejected the API key",
            "6  an AWS call failed",
            "samconfig.toml",
            "FLOWIQ_API_KEY",
            "[env: WEBHOOK_TOKEN]",
            "message_received",
            "[default: all]",
            "[default: whatsapp]",
        ] {
            assert!(help.contains(part), "{part:?} missing from:\n{help}");
        }
    }
}
