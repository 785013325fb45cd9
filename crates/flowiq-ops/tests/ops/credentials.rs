//! The operator CLIs take their AWS credentials from the profiles operators use besides access
//! keys: `credential_process`, and IAM Identity Center (a token cached by `aws sso login`). The
//! built binaries run with a scrubbed environment: no `AWS_*` variable but those a test sets, HOME
//! and the AWS config file in a directory of the test's own, no credentials file, no instance
//! metadata.
//!
//! The shared DynamoDB Local runs `-inMemory` without `-sharedDb`, so it keeps one database per
//! access key and region: the test tables exist for the key `local` in us-east-1 only. A run that
//! finds its table therefore signed its requests with the key the profile supplied (checked below
//! by a profile that supplies another key and finds no table).

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flowiq_harness::dynamodb_local;
use flowiq_harness::test_table::{TestTable, s};
use serde_json::{Value, json};
use wiremock::matchers::{any, body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WAMID: &str = "wamid.credentials";
/// The access key the test tables belong to (flowiq_harness::test_table).
const TABLE_KEY: &str = "local";

/// A directory of one test's own (HOME, the AWS config file, scripts), removed at the end.
struct TestDir(PathBuf);

impl TestDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("flowiq-credentials-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("home/.aws")).unwrap();
        TestDir(path)
    }

    fn home(&self) -> PathBuf {
        self.0.join("home")
    }

    fn config_file(&self) -> PathBuf {
        self.0.join("aws-config")
    }

    fn write_config(&self, text: &str) {
        std::fs::write(self.config_file(), text).unwrap();
    }

    /// An executable `credential_process` that records each run in `<name>.ran` and prints
    /// credentials with `access_key`, as the AWS CLI documents the output. Returns the script.
    fn credential_process(&self, name: &str, access_key: &str) -> PathBuf {
        let script = self.0.join(format!("{name}.sh"));
        let marker = self.ran_marker(name);
        let credentials = json!({
            "Version": 1,
            "AccessKeyId": access_key,
            "SecretAccessKey": "secret-from-credential-process",
        });
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho ran >> '{}'\nprintf '%s\\n' '{credentials}'\n",
                marker.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    fn ran_marker(&self, name: &str) -> PathBuf {
        self.0.join(format!("{name}.ran"))
    }

    /// How often the `credential_process` `name` ran.
    fn runs(&self, name: &str) -> usize {
        std::fs::read_to_string(self.ran_marker(name))
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `binary` in `dir` (no samconfig.toml) with no AWS variable of ours: AWS_ACCESS_KEY_ID,
/// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION and
/// every other `AWS_*` are removed; HOME and AWS_CONFIG_FILE are the test's, the credentials file
/// does not exist, instance metadata is off. Region us-east-1 (the test tables' region).
fn scrubbed(binary: &str, dir: &TestDir) -> Command {
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .current_dir(&dir.0)
        .env("HOME", dir.home())
        .env("AWS_CONFIG_FILE", dir.config_file())
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.0.join("no-credentials-file"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn");
    command
}

/// `flowiq-events --profile <profile> --json message WAMID` on `table` in DynamoDB Local.
fn events_message(dir: &TestDir, table: &str, profile: &str) -> Command {
    let mut command = scrubbed(env!("CARGO_BIN_EXE_flowiq-events"), dir);
    command
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local::endpoint())
        .env("TABLE_NAME", table)
        .args(["--profile", profile, "--json", "message", WAMID]);
    command
}

/// Runs `command` off the async runtime.
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A table holding one message, `WAMID`.
async fn table_with_a_message() -> TestTable {
    let table = TestTable::new().await;
    let body = json!({"event_type": "sent_message", "id": "row-credentials",
        "whatsapp_message_id": WAMID, "organization_id": "org-credentials",
        "message": "Stored for the credentials tests", "sender_type": "bot-whatsapp",
        "timestamp": "2026-03-07T10:00:00Z", "whatsapp_id": "27830000077"});
    table.store_delivery(&body.to_string()).await;
    table
}

/// `flowiq-events message` succeeded and printed the stored message as JSON lines.
fn assert_read_the_message(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    let text = stdout(output);
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON lines"))
        .collect();
    assert!(!lines.is_empty(), "no output");
    assert!(text.contains(WAMID), "{text}");
    assert!(text.contains("Stored for the credentials tests"), "{text}");
}

/// A profile without any source of credentials: exit 6 and a message about credentials.
fn assert_no_credentials(output: &Output) {
    assert_eq!(output.status.code(), Some(6), "{}", stderr(output));
    let message = stderr(output);
    assert!(message.contains("no credentials found"), "{message}");
}

/// The config file: `[profile process]` runs a credential_process that supplies the tables' key,
/// `[profile process-other-key]` one that supplies another key, `[profile no-credentials]` has
/// no source of credentials at all.
fn credential_process_profiles(dir: &TestDir) {
    let process = dir.credential_process("process", TABLE_KEY);
    let other = dir.credential_process("process-other-key", "otherkey");
    dir.write_config(&format!(
        "[profile process]\ncredential_process = {}\n\n\
         [profile process-other-key]\ncredential_process = {}\n\n\
         [profile no-credentials]\nregion = us-east-1\n",
        process.display(),
        other.display()
    ));
}

#[tokio::test]
async fn flowiq_events_reads_the_table_with_credentials_from_credential_process() {
    let table = table_with_a_message().await;
    let dir = TestDir::new("events-process");
    credential_process_profiles(&dir);

    let output = run(events_message(&dir, &table.name, "process")).await;
    assert_read_the_message(&output);
    assert!(dir.runs("process") >= 1, "the credential_process never ran");

    // The requests were signed with the key the process printed: another key finds no table.
    let output = run(events_message(&dir, &table.name, "process-other-key")).await;
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    assert!(dir.runs("process-other-key") >= 1);
    let message = stderr(&output);
    assert!(message.contains(&table.name), "{message}");
    assert!(!message.contains("no credentials found"), "{message}");

    // Negative control: the same command without a source of credentials fails.
    let output = run(events_message(&dir, &table.name, "no-credentials")).await;
    assert_no_credentials(&output);
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
}

/// What flowiq-bootstrap registers (as in bootstrap.rs).
const API_KEY: &str = "fiq_test_key_0123456789abcdef";
const TOKEN: &str = "BootstrapTestToken0123456789abcdefghijklmnopq";
const BASE: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com";

/// `flowiq-bootstrap --profile <profile>` registering `--url BASE` with FlowIQ at `api_base`,
/// the record in `table` in DynamoDB Local.
fn bootstrap_registering(dir: &TestDir, profile: &str, api_base: &str, table: &str) -> Command {
    let mut command = scrubbed(env!("CARGO_BIN_EXE_flowiq-bootstrap"), dir);
    command
        .env("FLOWIQ_API_KEY", API_KEY)
        .env("WEBHOOK_TOKEN", TOKEN)
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local::endpoint())
        .args(["--profile", profile, "--url", BASE, "--api-base", api_base])
        .arg("--allow-http");
    command
}

#[tokio::test]
async fn flowiq_bootstrap_registers_with_credentials_from_credential_process() {
    let table = TestTable::new().await;
    let dir = TestDir::new("bootstrap-process");
    credential_process_profiles(&dir);
    // A fake FlowIQ: exactly one Create Webhook call over both runs, nothing else.
    let flowiq = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418))
        .with_priority(u8::MAX)
        .named("any request other than Create Webhook")
        .expect(0)
        .mount(&flowiq)
        .await;
    let url = format!("{BASE}/webhooks/whatsapp/{TOKEN}");
    Mock::given(method("POST"))
        .and(path("/set-webhooks"))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .and(body_json(
            json!({"url": url, "type": "all", "platform": "whatsapp"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "message": "Webhook created successfully",
            "webhook": {"id": "wh-process", "url": url, "type": "all", "platform": "whatsapp",
                        "created_at": "2026-03-08T00:00:00.000+02:00"}
        })))
        .expect(1)
        .named("Create Webhook")
        .mount(&flowiq)
        .await;

    // Negative control: without credentials the record cannot be read, FlowIQ is not called.
    let command = bootstrap_registering(&dir, "no-credentials", &flowiq.uri(), &table.name);
    let output = run(command).await;
    assert_no_credentials(&output);
    assert!(table.all_items().await.is_empty());

    let command = bootstrap_registering(&dir, "process", &flowiq.uri(), &table.name);
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(dir.runs("process") >= 1, "the credential_process never ran");
    let text = stdout(&output);
    assert!(
        text.contains("all (whatsapp): registered, webhook id wh-process"),
        "{text}"
    );
    for secret in [API_KEY, TOKEN] {
        assert!(!text.contains(secret) && !stderr(&output).contains(secret));
    }
    let records = table.items_of_type("webhook").await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(s(&records[0], "webhook_id"), "wh-process");
}

const SSO_START_URL: &str = "https://d-0000000000.awsapps.com/start";
const SSO_SESSION: &str = "flowiq-test-sso";
const SSO_ACCOUNT: &str = "123456789012";
const SSO_ROLE: &str = "FlowIQOperator";
const SSO_BEARER_TOKEN: &str = "cached-sso-access-token-from-aws-sso-login";
/// The cache file names the AWS CLI uses: the SHA-1 (hex) of the sso-session's name
/// (`printf %s flowiq-test-sso | sha1sum`) ...
const SSO_SESSION_CACHE: &str = "f570995e29a7ef0e1ccb85222b2145b45007ebab";
/// ... or, for a legacy profile (sso_start_url in the profile itself), of the start URL
/// (`printf %s https://d-0000000000.awsapps.com/start | sha1sum`).
const SSO_START_URL_CACHE: &str = "b51e627ec5d75dab0c56e37911d5b31610f612e0";

/// `flowiq-events --profile sso message` with `config` and a token cached (as `aws sso login`
/// leaves it) in `~/.aws/sso/cache/<cache_name>.json`. A fake SSO portal (AWS_ENDPOINT_URL_SSO)
/// answers GetRoleCredentials for that token only, with the tables' access key; any other
/// request there, such as a token refresh (AWS_ENDPOINT_URL_SSO_OIDC points there too), fails
/// the test.
async fn flowiq_events_with_sso(name: &str, config: &str, cache_name: &str) {
    let table = table_with_a_message().await;
    let dir = TestDir::new(name);
    dir.write_config(config);
    let in_an_hour = SystemTime::now() + Duration::from_secs(3600);
    let expires_at = time::OffsetDateTime::from(in_an_hour)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let cache = dir.home().join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    let cached_token = json!({
        "startUrl": SSO_START_URL,
        "region": "eu-west-1",
        "accessToken": SSO_BEARER_TOKEN,
        "expiresAt": expires_at,
        "clientId": "flowiq-test-client-id",
        "clientSecret": "flowiq-test-client-secret",
        "registrationExpiresAt": expires_at,
        "refreshToken": "flowiq-test-refresh-token",
    });
    std::fs::write(
        cache.join(format!("{cache_name}.json")),
        cached_token.to_string(),
    )
    .unwrap();

    let portal = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418))
        .with_priority(u8::MAX)
        .named("any request other than GetRoleCredentials")
        .expect(0)
        .mount(&portal)
        .await;
    let expiration_ms = in_an_hour.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    Mock::given(method("GET"))
        .and(path("/federation/credentials"))
        .and(query_param("role_name", SSO_ROLE))
        .and(query_param("account_id", SSO_ACCOUNT))
        .and(header("x-amz-sso_bearer_token", SSO_BEARER_TOKEN))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"roleCredentials": {
                "accessKeyId": TABLE_KEY,
                "secretAccessKey": "secret-from-sso",
                "sessionToken": "session-token-from-sso",
                "expiration": expiration_ms,
            }})),
        )
        .expect(1..)
        .named("GetRoleCredentials with the cached token")
        .mount(&portal)
        .await;

    let mut command = events_message(&dir, &table.name, "sso");
    command
        .env("AWS_ENDPOINT_URL_SSO", portal.uri())
        .env("AWS_ENDPOINT_URL_SSO_OIDC", portal.uri());
    let output = run(command).await;
    assert_read_the_message(&output);
    portal.verify().await;

    // Negative control: without the cached token (not logged in) there are no credentials.
    std::fs::remove_dir_all(&cache).unwrap();
    let mut command = events_message(&dir, &table.name, "sso");
    command
        .env("AWS_ENDPOINT_URL_SSO", portal.uri())
        .env("AWS_ENDPOINT_URL_SSO_OIDC", portal.uri());
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains(&format!("{cache_name}.json")), "{message}");
}

#[tokio::test]
async fn flowiq_events_reads_the_table_with_credentials_from_an_sso_session_profile() {
    let config = format!(
        "[profile sso]\nsso_session = {SSO_SESSION}\nsso_account_id = {SSO_ACCOUNT}\n\
         sso_role_name = {SSO_ROLE}\nregion = us-east-1\n\n\
         [sso-session {SSO_SESSION}]\nsso_start_url = {SSO_START_URL}\nsso_region = eu-west-1\n\
         sso_registration_scopes = sso:account:access\n"
    );
    flowiq_events_with_sso("sso-session", &config, SSO_SESSION_CACHE).await;
}

#[tokio::test]
async fn flowiq_events_reads_the_table_with_credentials_from_a_legacy_sso_profile() {
    let config = format!(
        "[profile sso]\nsso_start_url = {SSO_START_URL}\nsso_region = eu-west-1\n\
         sso_account_id = {SSO_ACCOUNT}\nsso_role_name = {SSO_ROLE}\nregion = us-east-1\n"
    );
    flowiq_events_with_sso("sso-legacy", &config, SSO_START_URL_CACHE).await;
}
