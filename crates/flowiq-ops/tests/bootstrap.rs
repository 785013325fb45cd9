//! flowiq-bootstrap against a fake FlowIQ (wiremock on 127.0.0.1) that checks every request and
//! plays scripted answers; idempotency records in DynamoDB Local; CloudFormation, Secrets
//! Manager and SSM mocked with aws-smithy-mocks; and the built binary's flags and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use clap::Parser as _;
use flowiq_ops::bootstrap::api_key::{ApiKey, ApiKeyError, read_ssm_parameter};
use flowiq_ops::bootstrap::aws::AwsClients;
use flowiq_ops::bootstrap::cli::{Args, ExitStatus, Settings};
use flowiq_ops::bootstrap::flowiq_client::{
    ApiBase, AttemptFailure, CreateWebhook, FlowIqClient, FlowIqError, HttpSettings,
};
use flowiq_ops::bootstrap::registration_store::{REGISTRATION_SK, registration_pk};
use flowiq_ops::bootstrap::report::{Report, Status};
use flowiq_ops::bootstrap::retry::RetryPolicy;
use flowiq_ops::bootstrap::token_secret::{SecretError, fetch_webhook_token};
use flowiq_ops::bootstrap::webhook_type::WebhookType;
use flowiq_ops::bootstrap::webhook_url::{BaseUrl, WebhookToken, WebhookUrl};
use flowiq_ops::bootstrap::{BootstrapError, run};
use flowiq_webhooks::platform::Platform;
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{any, body_json, header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

use flowiq_harness::dynamodb_local;
use flowiq_harness::test_table::{Item, TestTable, s};

const KEY: &str = "fiq_test_key_0123456789abcdef";
const SSM_KEY: &str = "fiq_from_ssm_9876543210fedcba";
/// Letters and digits, like the tokens the stack's secret generates.
const TOKEN: &str = "BootstrapTestToken0123456789abcdefghijklmnopq";
const BASE: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com";
const STACK: &str = "flowiq-webhooks-test";
const SECRET_ARN: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:WebhookTokenSecret-AbCdEf";

fn full_url(platform: &str) -> String {
    format!("{BASE}/webhooks/{platform}/{TOKEN}")
}

fn documented_answer(id: &str, event_type: &str, platform: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "success": true,
        "message": "Webhook created successfully",
        "webhook": {
            "id": id,
            "url": full_url(platform),
            "type": event_type,
            "platform": platform,
            "created_at": "2026-03-08T00:00:00.000+02:00"
        }
    }))
}

/// A fake FlowIQ that fails the test (on drop) if any request matches none of the expected ones.
async fn fake_flowiq() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418))
        .with_priority(u8::MAX)
        .named("any request other than the expected Create Webhook calls")
        .expect(0)
        .mount(&server)
        .await;
    server
}

/// Create Webhook exactly as documented: method, path, both headers and the exact JSON body.
fn create_webhook(event_type: &str, platform: &str, key: &str) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path("/set-webhooks"))
        .and(header("authorization", format!("Bearer {key}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "url": full_url(platform),
            "type": event_type,
            "platform": platform,
        })))
}

/// Small waits so the retry tests run fast.
fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    }
}

fn http_settings(max_attempts: u32, request_timeout: Duration) -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout,
        retry: fast_retries(max_attempts),
    }
}

fn webhook_url(platform: Platform) -> WebhookUrl {
    WebhookUrl::new(
        &BaseUrl::parse(BASE, "--url", false).unwrap(),
        platform,
        &WebhookToken::parse(SecretString::from(TOKEN)).unwrap(),
    )
}

fn client_for(api_base: &str, settings: HttpSettings) -> FlowIqClient {
    FlowIqClient::new(
        &ApiBase::parse(api_base, true).unwrap(),
        ApiKey::parse(KEY, "test").unwrap(),
        settings,
    )
    .unwrap()
}

async fn register(client: &FlowIqClient, event_type: WebhookType) -> Result<(), FlowIqError> {
    let url = webhook_url(Platform::Whatsapp);
    client
        .create_webhook(&CreateWebhook {
            url: &url,
            event_type,
        })
        .await
        .map(|_| ())
}

fn exit_code(error: FlowIqError) -> u8 {
    BootstrapError::from(error).exit_status().code()
}

fn assert_no_secret(text: &str) {
    for secret in [KEY, SSM_KEY, TOKEN] {
        assert!(!text.contains(secret), "a secret leaked into: {text}");
    }
}

/// A free port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

mod flowiq_api {
    use super::*;

    #[tokio::test]
    async fn success_parses_the_documented_answer() {
        let server = fake_flowiq().await;
        create_webhook("message_received", "whatsapp", KEY)
            .respond_with(documented_answer("wh-1", "message_received", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;
        let client = client_for(&server.uri(), http_settings(3, Duration::from_secs(5)));
        let url = webhook_url(Platform::Whatsapp);
        let created = client
            .create_webhook(&CreateWebhook {
                url: &url,
                event_type: WebhookType::MessageReceived,
            })
            .await
            .unwrap();
        assert_eq!(created.id, "wh-1");
        assert_eq!(created.event_type, "message_received");
        assert_eq!(created.platform, "whatsapp");
        assert_eq!(created.created_at, "2026-03-08T00:00:00.000+02:00");
        assert_eq!(
            created.message.as_deref(),
            Some("Webhook created successfully")
        );
        // The exact bytes sent: the documented body, fields in the documented order.
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests[0].headers["accept"], "application/json");
        assert!(
            requests[0].headers["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("flowiq-bootstrap/")
        );
        assert_eq!(
            String::from_utf8(requests[0].body.clone()).unwrap(),
            format!(
                r#"{{"url":"{}","type":"message_received","platform":"whatsapp"}}"#,
                full_url("whatsapp")
            )
        );
    }

    #[tokio::test]
    async fn a_rejected_key_is_not_retried() {
        for status in [401, 403] {
            let server = fake_flowiq().await;
            create_webhook("all", "whatsapp", KEY)
                .respond_with(
                    ResponseTemplate::new(status)
                        .set_body_json(json!({"success": false, "message": "Invalid API key"})),
                )
                .expect(1)
                .mount(&server)
                .await;
            let client = client_for(&server.uri(), http_settings(5, Duration::from_secs(5)));
            let error = register(&client, WebhookType::All).await.unwrap_err();
            assert_eq!(
                error,
                FlowIqError::Unauthorized {
                    status,
                    message: Some("Invalid API key".into())
                }
            );
            let text = error.to_string();
            assert!(text.contains("Invalid API key"), "{text}");
            assert_no_secret(&text);
            assert_eq!(exit_code(error), ExitStatus::KeyRejected.code());
        }
    }

    #[tokio::test]
    async fn a_500_is_retried() {
        let server = fake_flowiq().await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(documented_answer("wh-after-500", "all", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;
        let client = client_for(&server.uri(), http_settings(3, Duration::from_secs(5)));
        register(&client, WebhookType::All).await.unwrap();
    }

    #[tokio::test]
    async fn a_429_waits_as_long_as_retry_after_says() {
        let server = fake_flowiq().await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(documented_answer("wh-after-429", "all", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;
        // The backoff alone would wait at most 10 ms.
        let client = client_for(&server.uri(), http_settings(3, Duration::from_secs(5)));
        let started = Instant::now();
        register(&client, WebhookType::All).await.unwrap();
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 2);
    }

    #[tokio::test]
    async fn persistent_5xx_ends_after_the_bounded_attempts() {
        let server = fake_flowiq().await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(
                ResponseTemplate::new(503).set_body_json(json!({"message": "maintenance"})),
            )
            .expect(3)
            .mount(&server)
            .await;
        let client = client_for(&server.uri(), http_settings(3, Duration::from_secs(5)));
        let error = register(&client, WebhookType::All).await.unwrap_err();
        assert!(
            matches!(
                &error,
                FlowIqError::RetriesExhausted {
                    attempts: 3,
                    last: AttemptFailure::Status { status: 503, message: Some(m) },
                    ..
                } if m == "maintenance"
            ),
            "{error:?}"
        );
        assert_eq!(exit_code(error), ExitStatus::Unreachable.code());
    }

    #[tokio::test]
    async fn a_2xx_that_is_not_the_documented_answer_is_an_error() {
        for (answer, expected) in [
            (
                ResponseTemplate::new(200).set_body_string("<html>OK</html>"),
                "not JSON",
            ),
            (
                ResponseTemplate::new(200).set_body_json(json!({"status": "ok"})),
                "missing field `success`",
            ),
            (
                ResponseTemplate::new(200).set_body_json(json!({"success": true})),
                "no `webhook` object",
            ),
        ] {
            let server = fake_flowiq().await;
            create_webhook("all", "whatsapp", KEY)
                .respond_with(answer)
                .expect(1) // not retried: FlowIQ may have created it
                .mount(&server)
                .await;
            let client = client_for(&server.uri(), http_settings(5, Duration::from_secs(5)));
            let error = register(&client, WebhookType::All).await.unwrap_err();
            assert!(
                matches!(&error, FlowIqError::UnexpectedResponse { status: 200, problem } if problem.contains(expected)),
                "{error:?}"
            );
            assert!(error.to_string().contains("check FlowIQ"), "{error}");
            assert_eq!(exit_code(error), ExitStatus::FlowIqError.code());
        }
    }

    #[tokio::test]
    async fn success_false_and_other_4xx_carry_flowiqs_message() {
        let server = fake_flowiq().await;
        create_webhook("call", "whatsapp", KEY)
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"success": false, "message": "Plan limit reached"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        create_webhook("message_read", "whatsapp", KEY)
            .respond_with(
                ResponseTemplate::new(422)
                    .set_body_json(json!({"success": false, "message": "url must be https"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let client = client_for(&server.uri(), http_settings(5, Duration::from_secs(5)));
        let error = register(&client, WebhookType::Call).await.unwrap_err();
        assert!(
            error.to_string().ends_with(": Plan limit reached"),
            "{error}"
        );
        assert_eq!(exit_code(error), ExitStatus::FlowIqError.code());
        let error = register(&client, WebhookType::MessageRead)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "FlowIQ refused the request (HTTP 422): url must be https"
        );
        assert_eq!(exit_code(error), ExitStatus::FlowIqError.code());
    }

    #[tokio::test]
    async fn a_slow_answer_times_out_after_the_bounded_attempts() {
        let server = fake_flowiq().await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(
                documented_answer("too-late", "all", "whatsapp").set_delay(Duration::from_secs(3)),
            )
            .expect(2)
            .mount(&server)
            .await;
        let client = client_for(&server.uri(), http_settings(2, Duration::from_millis(300)));
        let started = Instant::now();
        let error = register(&client, WebhookType::All).await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(
                &error,
                FlowIqError::RetriesExhausted {
                    attempts: 2,
                    last: AttemptFailure::Timeout { .. },
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("request timeout 300ms"),
            "{error}"
        );
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(exit_code(error), ExitStatus::Unreachable.code());
    }

    #[tokio::test]
    async fn a_connection_failure_is_retried_then_reported() {
        let base = format!("http://127.0.0.1:{}", closed_port());
        let client = client_for(&base, http_settings(3, Duration::from_secs(2)));
        let error = register(&client, WebhookType::All).await.unwrap_err();
        assert!(
            matches!(
                &error,
                FlowIqError::RetriesExhausted {
                    attempts: 3,
                    last: AttemptFailure::Connection(_),
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains(&base), "{error}");
        assert_eq!(exit_code(error), ExitStatus::Unreachable.code());
    }
}

/// Mocked SDK clients (aws-smithy-mocks) without the SDK crates' `test-util` feature.
macro_rules! mocked_client {
    ($sdk:ident, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        let rules: &[&Rule] = $rules;
        for rule in rules {
            interceptor = interceptor.with_rule(rule);
        }
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("eu-west-1"))
                .credentials_provider($sdk::config::Credentials::new(
                    "test", "test", None, None, "test",
                ))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }};
}

mod aws_lookups {
    use super::*;
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
    use aws_sdk_cloudformation::types::{Output, Stack, StackStatus};
    use aws_sdk_secretsmanager::operation::get_secret_value::{
        GetSecretValueError, GetSecretValueOutput,
    };
    use aws_sdk_ssm::operation::get_parameter::{GetParameterError, GetParameterOutput};

    pub fn stack_rule(outputs: &[(&str, &str)]) -> Rule {
        let outputs: Vec<(String, String)> = outputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .match_requests(|req| req.stack_name() == Some(STACK))
            .then_output(move || {
                let mut stack = Stack::builder()
                    .stack_name(STACK)
                    .stack_status(StackStatus::UpdateComplete);
                for (key, value) in &outputs {
                    stack = stack.outputs(
                        Output::builder()
                            .output_key(key)
                            .output_value(value)
                            .build(),
                    );
                }
                DescribeStacksOutput::builder()
                    .stacks(stack.build())
                    .build()
            })
    }

    pub fn secret_rule(secret_string: &str) -> Rule {
        let secret_string = secret_string.to_owned();
        mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|req| req.secret_id() == Some(SECRET_ARN))
            .then_output(move || {
                GetSecretValueOutput::builder()
                    .arn(SECRET_ARN)
                    .secret_string(&secret_string)
                    .build()
            })
    }

    pub fn ssm_rule(name: &'static str, value: &'static str) -> Rule {
        mock!(aws_sdk_ssm::Client::get_parameter)
            .match_requests(move |req| {
                req.name() == Some(name) && req.with_decryption() == Some(true)
            })
            .then_output(move || {
                GetParameterOutput::builder()
                    .parameter(
                        aws_sdk_ssm::types::Parameter::builder()
                            .name(name)
                            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                            .value(value)
                            .build(),
                    )
                    .build()
            })
    }

    pub fn all_outputs(table: &str) -> Vec<(&'static str, String)> {
        vec![
            ("WebhookBaseUrl", BASE.to_owned()),
            ("WebhookTokenSecretArn", SECRET_ARN.to_owned()),
            ("TableName", table.to_owned()),
            ("FunctionName", "flowiq-webhook-fn".to_owned()),
        ]
    }

    #[tokio::test]
    async fn reads_the_token_from_the_secret() {
        let rule = secret_rule(&format!(r#"{{"token":"{TOKEN}"}}"#));
        let secrets = mocked_client!(aws_sdk_secretsmanager, &[&rule]);
        let token = fetch_webhook_token(&secrets, SECRET_ARN).await.unwrap();
        assert_eq!(token.expose_secret(), TOKEN);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_secret_without_the_token_key_is_explained() {
        let rule = secret_rule(&format!(r#"{{"password":"{TOKEN}"}}"#));
        let secrets = mocked_client!(aws_sdk_secretsmanager, &[&rule]);
        let error = fetch_webhook_token(&secrets, SECRET_ARN).await.unwrap_err();
        assert_eq!(
            error,
            SecretError::MissingTokenKey {
                secret_id: SECRET_ARN.into()
            }
        );
        assert!(error.to_string().contains(SECRET_ARN));
        assert_no_secret(&error.to_string());
    }

    #[tokio::test]
    async fn a_missing_secret_is_explained() {
        let rule = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_error(|| {
            GetSecretValueError::ResourceNotFoundException(
                aws_sdk_secretsmanager::types::error::ResourceNotFoundException::builder()
                    .message("Secrets Manager can't find the specified secret.")
                    .build(),
            )
        });
        let secrets = mocked_client!(aws_sdk_secretsmanager, &[&rule]);
        let error = fetch_webhook_token(&secrets, SECRET_ARN).await.unwrap_err();
        assert!(matches!(error, SecretError::NotFound { .. }), "{error:?}");
        assert!(error.to_string().contains("WEBHOOK_TOKEN"), "{error}");
    }

    #[tokio::test]
    async fn reads_the_api_key_from_ssm_with_decryption() {
        let rule = ssm_rule("/flowiq/api-key", SSM_KEY);
        let ssm = mocked_client!(aws_sdk_ssm, &[&rule]);
        let key = read_ssm_parameter(&ssm, "/flowiq/api-key").await.unwrap();
        assert_eq!(key.expose_secret(), SSM_KEY);
        assert_eq!(rule.num_calls(), 1);

        let missing = mock!(aws_sdk_ssm::Client::get_parameter).then_error(|| {
            GetParameterError::ParameterNotFound(
                aws_sdk_ssm::types::error::ParameterNotFound::builder().build(),
            )
        });
        let ssm = mocked_client!(aws_sdk_ssm, &[&missing]);
        let error = read_ssm_parameter(&ssm, "/flowiq/nope").await.unwrap_err();
        assert!(
            matches!(&error, ApiKeyError::SsmParameterNotFound { name, .. } if name == "/flowiq/nope"),
            "{error:?}"
        );
        assert_eq!(BootstrapError::from(error).exit_status(), ExitStatus::Aws);
    }
}

/// Settings as the binary would build them, with `FLOWIQ_API_KEY` = [`KEY`] unless `key` says
/// otherwise, no samconfig.toml, and fast retries.
fn settings(args: &[&str], key: Option<&str>) -> Settings {
    let args =
        Args::try_parse_from(std::iter::once("flowiq-bootstrap").chain(args.iter().copied()))
            .unwrap();
    let key = key.map(str::to_owned);
    let mut settings = Settings::from_args(
        args,
        move |name| (name == "FLOWIQ_API_KEY").then(|| key.clone()).flatten(),
        &std::env::temp_dir(),
    )
    .unwrap();
    settings.http = http_settings(3, Duration::from_secs(5));
    settings
}

/// The table's DynamoDB Local client, and AWS clients that must not be called (no mock rules).
fn aws_with(
    table: &TestTable,
    cloudformation: &[&Rule],
    secrets: &[&Rule],
    ssm: &[&Rule],
) -> AwsClients {
    AwsClients {
        cloudformation: mocked_client!(aws_sdk_cloudformation, cloudformation),
        secrets_manager: mocked_client!(aws_sdk_secretsmanager, secrets),
        ssm: mocked_client!(aws_sdk_ssm, ssm),
        dynamodb: table.client.clone(),
    }
}

fn url_sha256(platform: &str) -> String {
    hex::encode(Sha256::digest(full_url(platform).as_bytes()))
}

/// Every string in an item, to check that no secret was stored.
fn all_strings(item: &Item) -> String {
    format!("{item:?}")
}

mod idempotency {
    use super::*;

    fn given_flags<'a>(server: &'a MockServer, table: &'a TestTable) -> Vec<String> {
        vec![
            "--url".into(),
            BASE.into(),
            "--token".into(),
            TOKEN.into(),
            "--table-name".into(),
            table.name.clone(),
            "--api-base".into(),
            server.uri(),
            "--allow-http".into(),
        ]
    }

    async fn run_with(
        server: &MockServer,
        table: &TestTable,
        extra: &[&str],
    ) -> (Report, Result<(), BootstrapError>) {
        let mut args = given_flags(server, table);
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let settings = settings(&args, Some(KEY));
        let aws = aws_with(table, &[], &[], &[]);
        let mut report = Report::default();
        let result = run(&settings, &aws, &mut report).await;
        (report, result)
    }

    #[tokio::test]
    async fn registers_once_then_skips_unless_forced() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(documented_answer("wh-first", "all", "whatsapp"))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(documented_answer("wh-forced", "all", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;

        // First run: registered, and recorded.
        let (report, result) = run_with(&server, &table, &[]).await;
        result.unwrap();
        assert_eq!(report.registrations.len(), 1);
        let registration = &report.registrations[0];
        assert_eq!(registration.status, Status::Registered);
        assert_eq!(registration.webhook_id.as_deref(), Some("wh-first"));
        assert_eq!(registration.url, format!("{BASE}/webhooks/whatsapp/Boot…"));
        assert_no_secret(&report.to_text());
        assert_no_secret(&report.to_json(None));

        let pk = registration_pk(
            Platform::Whatsapp,
            WebhookType::All,
            &url_sha256("whatsapp"),
        );
        assert_eq!(
            pk,
            format!("WEBHOOK#whatsapp#all#{}", url_sha256("whatsapp"))
        );
        let item = table.get(&pk, REGISTRATION_SK).await.expect("the record");
        assert_eq!(s(&item, "sk"), "WEBHOOK");
        assert_eq!(s(&item, "item_type"), "webhook");
        assert_eq!(s(&item, "webhook_id"), "wh-first");
        assert_eq!(s(&item, "event_type"), "all");
        assert_eq!(s(&item, "platform"), "whatsapp");
        assert_eq!(s(&item, "created_at"), "2026-03-07T22:00:00.000Z");
        assert_eq!(s(&item, "url_sha256"), url_sha256("whatsapp"));
        let registered_at = s(&item, "registered_at");
        assert_eq!(
            flowiq_webhooks::clock::normalize_rfc3339(registered_at).as_deref(),
            Ok(registered_at)
        );
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "created_at",
                "event_type",
                "item_type",
                "pk",
                "platform",
                "registered_at",
                "sk",
                "url_sha256",
                "webhook_id"
            ]
        );
        let stored = all_strings(&item);
        assert!(
            !stored.contains(TOKEN) && !stored.contains("execute-api"),
            "neither the token nor the URL is stored: {stored}"
        );
        assert_eq!(table.all_items().await.len(), 1);

        // Second run: FlowIQ is not called.
        let (report, result) = run_with(&server, &table, &[]).await;
        result.unwrap();
        assert_eq!(report.registrations[0].status, Status::AlreadyRegistered);
        assert_eq!(
            report.registrations[0].webhook_id.as_deref(),
            Some("wh-first")
        );
        assert!(
            report
                .to_text()
                .contains("all (whatsapp): already registered (id wh-first"),
            "{}",
            report.to_text()
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 1);

        // --force: called again, and the record now names the new webhook.
        let (report, result) = run_with(&server, &table, &["--force"]).await;
        result.unwrap();
        assert_eq!(report.registrations[0].status, Status::Registered);
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
        let item = table.get(&pk, REGISTRATION_SK).await.unwrap();
        assert_eq!(s(&item, "webhook_id"), "wh-forced");
        assert_eq!(table.all_items().await.len(), 1);
    }

    #[tokio::test]
    async fn each_type_and_platform_has_its_own_record() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        for event_type in ["message_received", "message_failed"] {
            create_webhook(event_type, "web", KEY)
                .respond_with(documented_answer(
                    &format!("wh-{event_type}"),
                    event_type,
                    "web",
                ))
                .expect(1)
                .mount(&server)
                .await;
        }
        let extra = [
            "--platform",
            "web",
            "--type",
            "message_received",
            "--type",
            "message_failed",
        ];
        let (report, result) = run_with(&server, &table, &extra).await;
        result.unwrap();
        let statuses: Vec<_> = report.registrations.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [Status::Registered, Status::Registered]);
        assert_eq!(table.items_of_type("webhook").await.len(), 2);
        let (report, result) = run_with(&server, &table, &extra).await;
        result.unwrap();
        assert!(
            report
                .registrations
                .iter()
                .all(|r| r.status == Status::AlreadyRegistered)
        );
    }

    #[tokio::test]
    async fn a_failure_half_way_keeps_what_was_done() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        create_webhook("message_received", "whatsapp", KEY)
            .respond_with(documented_answer("wh-ok", "message_received", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;
        create_webhook("message_read", "whatsapp", KEY)
            .respond_with(
                ResponseTemplate::new(401).set_body_json(json!({"message": "Key revoked"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let (report, result) = run_with(
            &server,
            &table,
            &["--type", "message_received", "--type", "message_read"],
        )
        .await;
        let error = result.unwrap_err();
        assert_eq!(error.exit_status(), ExitStatus::KeyRejected);
        assert_eq!(report.registrations.len(), 1);
        assert_eq!(report.registrations[0].webhook_id.as_deref(), Some("wh-ok"));
        assert_eq!(table.items_of_type("webhook").await.len(), 1);
        let json = report.to_json(Some(&error));
        assert_no_secret(&json);
        let json: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json["error"]["exit_code"], 3);
    }

    #[tokio::test]
    async fn a_dry_run_sends_nothing_and_writes_nothing() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await; // expects no request at all
        let (report, result) = run_with(
            &server,
            &table,
            &["--dry-run", "--type", "message_sent", "--type", "call"],
        )
        .await;
        result.unwrap();
        assert!(server.received_requests().await.unwrap().is_empty());
        assert!(table.all_items().await.is_empty());
        assert_eq!(report.registrations.len(), 2);
        let preview = report.registrations[0].request.as_ref().unwrap();
        assert_eq!(report.registrations[0].status, Status::DryRun);
        assert_eq!(preview.method, "POST");
        assert_eq!(preview.url, format!("{}/set-webhooks", server.uri()));
        assert!(
            preview
                .headers
                .contains(&("Authorization".into(), "Bearer fiq_…".into()))
        );
        assert!(
            preview
                .headers
                .contains(&("Content-Type".into(), "application/json".into()))
        );
        assert_eq!(
            serde_json::from_str::<Value>(&preview.body).unwrap(),
            json!({
                "url": format!("{BASE}/webhooks/whatsapp/Boot…"),
                "type": "message_sent",
                "platform": "whatsapp"
            })
        );
        let text = report.to_text();
        assert!(text.contains("Dry run"), "{text}");
        assert_no_secret(&text);
        assert_no_secret(&report.to_json(None));
    }

    #[tokio::test]
    async fn everything_from_the_stack_the_secret_and_ssm() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        create_webhook("all", "whatsapp", SSM_KEY)
            .respond_with(documented_answer("wh-stack", "all", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;
        let outputs = aws_lookups::all_outputs(&table.name);
        let pairs: Vec<(&str, &str)> = outputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let stack = aws_lookups::stack_rule(&pairs);
        let secret = aws_lookups::secret_rule(&format!(r#"{{"token":"{TOKEN}"}}"#));
        let key = aws_lookups::ssm_rule("/flowiq/api-key", SSM_KEY);
        let aws = aws_with(&table, &[&stack], &[&secret], &[&key]);
        let settings = settings(
            &[
                "--stack-name",
                STACK,
                "--api-key-ssm-parameter",
                "/flowiq/api-key",
                "--api-base",
                &server.uri(),
                "--allow-http",
            ],
            None,
        );
        let mut report = Report::default();
        run(&settings, &aws, &mut report).await.unwrap();
        assert_eq!(report.stack.as_deref(), Some(STACK));
        assert_eq!(report.table.as_deref(), Some(table.name.as_str()));
        assert_eq!(
            report.registrations[0].webhook_id.as_deref(),
            Some("wh-stack")
        );
        assert_eq!(
            (stack.num_calls(), secret.num_calls(), key.num_calls()),
            (1, 1, 1)
        );
        let pk = registration_pk(
            Platform::Whatsapp,
            WebhookType::All,
            &url_sha256("whatsapp"),
        );
        assert!(table.get(&pk, REGISTRATION_SK).await.is_some());
    }

    #[tokio::test]
    async fn a_stack_without_the_secret_output_stops_before_flowiq() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        let stack = aws_lookups::stack_rule(&[("WebhookBaseUrl", BASE), ("TableName", "t")]);
        let aws = aws_with(&table, &[&stack], &[], &[]);
        let settings = settings(
            &[
                "--stack-name",
                STACK,
                "--api-base",
                &server.uri(),
                "--allow-http",
            ],
            Some(KEY),
        );
        let mut report = Report::default();
        let error = run(&settings, &aws, &mut report).await.unwrap_err();
        assert_eq!(error.exit_status(), ExitStatus::Aws);
        assert!(
            error.to_string().contains("WebhookTokenSecretArn"),
            "{error}"
        );
        assert!(report.registrations.is_empty());
    }

    #[tokio::test]
    async fn a_custom_domain_output_is_preferred_to_the_api_url() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await; // a dry run: expects no request
        let custom = "https://hooks.example.com/flowiq";
        let stack = aws_lookups::stack_rule(&[
            ("WebhookBaseUrl", BASE),
            ("CustomDomainWebhookBaseUrl", custom),
            ("WebhookTokenSecretArn", SECRET_ARN),
        ]);
        let secret = aws_lookups::secret_rule(&format!(r#"{{"token":"{TOKEN}"}}"#));
        let aws = aws_with(&table, &[&stack], &[&secret], &[]);
        let flags = [
            "--stack-name",
            STACK,
            "--dry-run",
            "--api-base",
            &server.uri(),
            "--allow-http",
        ];
        let mut report = Report::default();
        run(&settings(&flags, Some(KEY)), &aws, &mut report)
            .await
            .unwrap();
        assert_eq!(
            report.url.as_deref(),
            Some(&*format!("{custom}/webhooks/whatsapp/Boot…"))
        );
        assert_eq!(report.stack.as_deref(), Some(STACK));
    }

    #[tokio::test]
    async fn a_missing_table_is_reported_before_flowiq_is_called() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        let mut args = given_flags(&server, &table);
        args[5] = "flowiq-no-such-table".into();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let settings = settings(&args, Some(KEY));
        let mut report = Report::default();
        let error = run(&settings, &aws_with(&table, &[], &[], &[]), &mut report)
            .await
            .unwrap_err();
        assert_eq!(error.exit_status(), ExitStatus::Aws);
        assert!(
            error.to_string().contains("flowiq-no-such-table"),
            "{error}"
        );
    }
}

mod binary {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("flowiq-bootstrap-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The built binary with a clean environment: DynamoDB Local's dummy credentials, no AWS
    /// configuration files, no instance metadata, no samconfig.toml.
    fn bootstrap(name: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_flowiq-bootstrap"));
        command
            .env_clear()
            .current_dir(temp_dir(name))
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/flowiq-bootstrap-test")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/flowiq-bootstrap-test",
            );
        command
    }

    fn output(command: &mut Command) -> (i32, String, String) {
        let Output {
            status,
            stdout,
            stderr,
        } = command.output().expect("the flowiq-bootstrap binary runs");
        let stdout = String::from_utf8(stdout).unwrap();
        let stderr = String::from_utf8(stderr).unwrap();
        assert_no_secret(&stdout);
        assert_no_secret(&stderr);
        (status.code().expect("an exit code"), stdout, stderr)
    }

    #[tokio::test]
    async fn invalid_flags_exit_2_before_any_network_call() {
        let server = fake_flowiq().await; // expects no request at all
        let api_base = server.uri();
        let common = ["--api-base", &api_base, "--allow-http", "--token", TOKEN];
        let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
            (vec!["--type", "everything"], Some(KEY), "possible values"),
            (
                vec!["--type", "message-received"],
                Some(KEY),
                "possible values",
            ),
            (vec!["--platform", "sms"], Some(KEY), "possible values"),
            (
                vec!["--type", "all", "--type", "call"],
                Some(KEY),
                "--type all",
            ),
            (vec!["--api-key", KEY], None, "unexpected argument"),
            (vec![], None, "FLOWIQ_API_KEY"),
            (vec!["--json"], None, "FLOWIQ_API_KEY"),
            (
                vec!["--request-timeout", "0"],
                Some(KEY),
                "--request-timeout",
            ),
        ];
        for (args, key, expected) in cases {
            let mut command = bootstrap("flags");
            command
                .args(common)
                .args(["--url", BASE, "--table-name", "t"])
                .args(&args);
            if let Some(key) = key {
                command.env("FLOWIQ_API_KEY", key);
            }
            let (code, stdout, stderr) = output(&mut command);
            assert_eq!(code, 2, "{args:?}: {stderr}");
            assert!(stderr.contains(expected), "{args:?}: {stderr}");
            if args.contains(&"--json") {
                let json: Value = serde_json::from_str(&stdout).expect("--json: one object");
                assert_eq!(json["error"]["exit_code"], 2);
                assert!(json["registrations"].as_array().unwrap().is_empty());
            } else {
                assert_eq!(stdout, "", "{args:?}");
            }
        }
        // http:// without --allow-http, for the registered URL and for the API base.
        for args in [
            vec!["--url", "http://127.0.0.1:9000"],
            vec!["--url", BASE, "--api-base", &api_base],
        ] {
            let (code, _, stderr) = output(
                bootstrap("http")
                    .env("FLOWIQ_API_KEY", KEY)
                    .env("WEBHOOK_TOKEN", TOKEN)
                    .args(["--table-name", "t"])
                    .args(&args),
            );
            assert_eq!(code, 2, "{args:?}: {stderr}");
            assert!(stderr.contains("is not https"), "{stderr}");
            assert!(stderr.contains("--allow-http"), "{stderr}");
        }
        // A token the receiver would refuse, and a full webhook URL given as the base.
        let (code, _, stderr) = output(
            bootstrap("token")
                .env("FLOWIQ_API_KEY", KEY)
                .env("WEBHOOK_TOKEN", "too-short")
                .args(["--url", BASE, "--api-base", &api_base, "--allow-http"]),
        );
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("at least 32"), "{stderr}");
        let full = full_url("whatsapp");
        let (code, _, stderr) = output(
            bootstrap("full-url")
                .env("FLOWIQ_API_KEY", KEY)
                .env("WEBHOOK_TOKEN", TOKEN)
                .args(["--url", &full, "--api-base", &api_base, "--allow-http"]),
        );
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("pass only the base URL"), "{stderr}");
    }

    #[tokio::test]
    async fn help_documents_the_exit_codes() {
        let (code, stdout, _) = output(bootstrap("help").arg("--help"));
        assert_eq!(code, 0);
        for line in [
            "0  success",
            "2  usage or configuration error",
            "3  FlowIQ rejected the API key (HTTP 401/403)",
            "4  FlowIQ refused the request",
            "5  FlowIQ unreachable",
            "6  an AWS call failed",
        ] {
            assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
        }
    }

    #[tokio::test]
    async fn a_dry_run_needs_no_aws_and_sends_nothing() {
        let server = fake_flowiq().await;
        // No AWS settings at all: nothing may call AWS.
        let (code, stdout, stderr) = output(
            Command::new(env!("CARGO_BIN_EXE_flowiq-bootstrap"))
                .env_clear()
                .current_dir(temp_dir("dry"))
                .env("FLOWIQ_API_KEY", KEY)
                .env("WEBHOOK_TOKEN", TOKEN)
                .args(["--url", BASE, "--dry-run", "--api-base", &server.uri()])
                .arg("--allow-http"),
        );
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("Dry run"), "{stdout}");
        assert!(
            stdout.contains(&format!("POST {}/set-webhooks", server.uri())),
            "{stdout}"
        );
        assert!(stdout.contains("Authorization: Bearer fiq_…"), "{stdout}");
        assert!(
            stdout.contains(&format!(
                r#"{{"url":"{BASE}/webhooks/whatsapp/Boot…","type":"all","platform":"whatsapp"}}"#
            )),
            "{stdout}"
        );
    }

    fn registering(name: &str, api_base: &str, table: &TestTable) -> Command {
        let mut command = bootstrap(name);
        command
            .env("FLOWIQ_API_KEY", KEY)
            .env("WEBHOOK_TOKEN", TOKEN)
            .env("TABLE_NAME", &table.name)
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local::endpoint())
            .args(["--url", BASE, "--api-base", api_base, "--allow-http"]);
        command
    }

    #[tokio::test]
    async fn registers_then_reports_already_registered() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(documented_answer("wh-bin", "all", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;
        let (code, stdout, stderr) = output(&mut registering("e2e", &server.uri(), &table));
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(
            stdout,
            format!(
                "Webhook URL: {BASE}/webhooks/whatsapp/Boot…\n\
                 all (whatsapp): registered, webhook id wh-bin, created_at 2026-03-08T00:00:00.000+02:00\n"
            )
        );
        let (code, stdout, stderr) =
            output(registering("e2e", &server.uri(), &table).arg("--json"));
        assert_eq!(code, 0, "{stderr}");
        let json: Value = serde_json::from_str(&stdout).expect("--json prints one JSON object");
        assert_eq!(json["error"], Value::Null);
        assert_eq!(json["url"], format!("{BASE}/webhooks/whatsapp/Boot…"));
        assert_eq!(json["registrations"][0]["status"], "already_registered");
        assert_eq!(json["registrations"][0]["webhook_id"], "wh-bin");
        assert_eq!(json["registrations"][0]["type"], "all");
        assert_eq!(table.items_of_type("webhook").await.len(), 1);
    }

    #[tokio::test]
    async fn flowiq_failures_map_to_exit_codes() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        create_webhook("message_read", "whatsapp", KEY)
            .respond_with(
                ResponseTemplate::new(401).set_body_json(json!({"message": "Invalid API key"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        create_webhook("call", "whatsapp", KEY)
            .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
            .expect(1)
            .mount(&server)
            .await;
        create_webhook("message_sent", "whatsapp", KEY)
            .respond_with(ResponseTemplate::new(502))
            .expect(2)
            .mount(&server)
            .await;
        for (event_type, expected_code, expected) in [
            ("message_read", 3, "Invalid API key"),
            ("call", 4, "not JSON"),
            ("message_sent", 5, "after 2 attempt(s): HTTP 502"),
        ] {
            let (code, _, stderr) = output(registering("fail", &server.uri(), &table).args([
                "--type",
                event_type,
                "--max-attempts",
                "2",
            ]));
            assert_eq!(code, expected_code, "{event_type}: {stderr}");
            assert!(stderr.contains(expected), "{event_type}: {stderr}");
        }
        // Nothing FlowIQ did not confirm is recorded.
        assert!(table.all_items().await.is_empty());
        // Unreachable.
        let closed = format!("http://127.0.0.1:{}", closed_port());
        let (code, _, stderr) =
            output(registering("fail", &closed, &table).args(["--max-attempts", "1"]));
        assert_eq!(code, 5, "{stderr}");
        assert!(stderr.contains("connection failed"), "{stderr}");
    }

    #[tokio::test]
    async fn aws_failures_exit_6() {
        let server = fake_flowiq().await;
        // DynamoDB Local without the table.
        let (code, _, stderr) = output(
            bootstrap("aws")
                .env("FLOWIQ_API_KEY", KEY)
                .env("WEBHOOK_TOKEN", TOKEN)
                .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local::endpoint())
                .args(["--url", BASE, "--api-base", &server.uri(), "--allow-http"])
                .args(["--table-name", "flowiq-bootstrap-no-such-table"]),
        );
        assert_eq!(code, 6, "{stderr}");
        assert!(
            stderr.contains("flowiq-bootstrap-no-such-table"),
            "{stderr}"
        );
    }
}
