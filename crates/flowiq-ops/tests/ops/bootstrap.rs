//! flowiq-bootstrap against real components: a fake FlowIQ (wiremock on 127.0.0.1) that checks
//! every request and counts the calls, DynamoDB Local for the registration records,
//! aws-smithy-mocks for CloudFormation, Secrets Manager and SSM (no local server for those), and
//! the built binary for the flags and exit codes.

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::types::{Output, Stack, StackStatus};
use aws_sdk_secretsmanager::operation::get_secret_value::{
    GetSecretValueError, GetSecretValueOutput,
};
use aws_sdk_ssm::operation::get_parameter::{GetParameterError, GetParameterOutput};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use clap::Parser as _;
use flowiq_ops::bootstrap::aws::AwsClients;
use flowiq_ops::bootstrap::report::{Report, Status};
use flowiq_ops::bootstrap::{Args, BootstrapError, Settings, WebhookType, WebhookUrl, flowiq, run};
use flowiq_webhooks::platform::Platform;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{any, body_json, header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

use flowiq_harness::dynamodb_local;
use flowiq_harness::test_table::{TestTable, s};

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

fn masked_url(platform: &str) -> String {
    format!("{BASE}/webhooks/{platform}/Boot…")
}

fn url_sha256(platform: &str) -> String {
    hex::encode(Sha256::digest(full_url(platform)))
}

fn assert_no_secret(text: &str) {
    for secret in [KEY, SSM_KEY, TOKEN] {
        assert!(!text.contains(secret), "a secret leaked into: {text}");
    }
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

/// Create Webhook exactly as documented: method, path, both headers and the JSON body.
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

/// Settings as the binary builds them (`FLOWIQ_API_KEY` = `key`, no samconfig.toml), with short
/// backoff waits.
fn settings(flags: &[&str], key: Option<&str>) -> Settings {
    let args = Args::try_parse_from(["flowiq-bootstrap"].iter().chain(flags)).unwrap();
    let mut settings = Settings::new(args, key.map(str::to_owned), std::env::temp_dir()).unwrap();
    settings.first_backoff = Duration::from_millis(10);
    settings
}

/// A free port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

mod flowiq_api {
    use super::*;

    /// Registers type `all` for WhatsApp at `api_base`, with the `--…` flags given.
    async fn register(api_base: &str, flags: &[&str]) -> Result<flowiq::CreatedWebhook, String> {
        let common = [
            "--api-base",
            api_base,
            "--allow-http",
            "--connect-timeout",
            "2",
        ];
        let flags: Vec<&str> = common.iter().chain(flags).copied().collect();
        let client = flowiq::Client::new(&settings(&flags, Some(KEY)), KEY.into()).unwrap();
        let url = WebhookUrl::new(BASE, Platform::Whatsapp, TOKEN.into());
        let result = client.create_webhook(&url, WebhookType::ALL).await;
        result.map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn sends_the_documented_request_and_reads_the_documented_answer() {
        let server = fake_flowiq().await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(documented_answer("wh-1", "all", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;
        let created = register(&server.uri(), &[]).await.unwrap();
        let read = (&*created.id, &*created.event_type, &*created.platform);
        assert_eq!(read, ("wh-1", "all", "whatsapp"));
        assert_eq!(created.created_at, "2026-03-08T00:00:00.000+02:00");
        assert_eq!(
            created.message.as_deref(),
            Some("Webhook created successfully")
        );
        let request = &server.received_requests().await.unwrap()[0];
        assert_eq!(request.headers["accept"], "application/json");
        assert!(
            request.headers["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("flowiq-bootstrap/")
        );
        // The exact bytes: the documented body, fields in the documented order.
        let body = String::from_utf8(request.body.clone()).unwrap();
        let url = full_url("whatsapp");
        assert_eq!(
            body,
            format!(r#"{{"url":"{url}","type":"all","platform":"whatsapp"}}"#)
        );
    }

    #[tokio::test]
    async fn final_answers_are_not_retried_and_say_why() {
        let echo = format!("key {KEY} may not register {}", full_url("whatsapp"));
        let cases = [
            (
                ResponseTemplate::new(401)
                    .set_body_json(json!({"success": false, "message": "Invalid API key"})),
                "FlowIQ rejected the API key (HTTP 401: Invalid API key): check the key in FLOWIQ_API_KEY",
            ),
            (
                ResponseTemplate::new(403),
                "FlowIQ rejected the API key (HTTP 403): check",
            ),
            (
                ResponseTemplate::new(422).set_body_json(json!({"message": "url must be https"})),
                "FlowIQ refused the request (HTTP 422): url must be https",
            ),
            (
                ResponseTemplate::new(400).set_body_json(json!({"error": {"message": echo}})),
                &format!(
                    "(HTTP 400): key fiq_… may not register {}",
                    masked_url("whatsapp")
                ),
            ),
            (
                ResponseTemplate::new(301).insert_header("location", "https://elsewhere.example/"),
                "(HTTP 301): redirected to https://elsewhere.example/: check --api-base",
            ),
            (
                ResponseTemplate::new(200)
                    .set_body_json(json!({"success": false, "message": "Plan limit reached"})),
                "FlowIQ did not create the webhook (HTTP 200, success=false): Plan limit reached",
            ),
            (
                ResponseTemplate::new(200).set_body_string("<html>OK</html>"),
                "FlowIQ answered HTTP 200 but not with the documented Create Webhook response (not JSON",
            ),
            (
                ResponseTemplate::new(200),
                "(empty body); the webhook may have been created anyway: check FlowIQ",
            ),
            (
                ResponseTemplate::new(200).set_body_json(json!({"status": "ok"})),
                "missing field `success`",
            ),
            (
                ResponseTemplate::new(201).set_body_json(json!({"success": true})),
                "no `webhook` object",
            ),
            (
                ResponseTemplate::new(200)
                    .set_body_json(json!({"success": true, "webhook": {"id": "1"}})),
                "missing field",
            ),
        ];
        for (answer, expected) in cases {
            let server = fake_flowiq().await;
            let mock = create_webhook("all", "whatsapp", KEY).respond_with(answer);
            mock.expect(1).mount(&server).await;
            let error = register(&server.uri(), &[]).await.unwrap_err();
            assert!(error.contains(expected), "{expected:?} missing: {error}");
            assert_no_secret(&error);
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_waiting_as_long_as_retry_after_says() {
        let server = fake_flowiq().await;
        for answer in [
            ResponseTemplate::new(500).set_body_string("Internal Server Error"),
            ResponseTemplate::new(429).insert_header("retry-after", "1"),
        ] {
            let mock = create_webhook("all", "whatsapp", KEY).respond_with(answer);
            mock.up_to_n_times(1).expect(1).mount(&server).await;
        }
        create_webhook("all", "whatsapp", KEY)
            .respond_with(documented_answer("wh-after-retries", "all", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;
        let started = Instant::now();
        let created = register(&server.uri(), &["--max-attempts", "3"])
            .await
            .unwrap();
        assert_eq!(created.id, "wh-after-retries");
        // The backoff alone waits at most 10 + 20 ms.
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(4),
            "{elapsed:?}"
        );
    }

    #[tokio::test]
    async fn the_attempts_are_bounded() {
        let maintenance =
            ResponseTemplate::new(503).set_body_json(json!({"message": "maintenance"}));
        let slow =
            documented_answer("too-late", "all", "whatsapp").set_delay(Duration::from_secs(3));
        for (answer, flags, expected) in [
            (
                Some((maintenance, 3)),
                &["--max-attempts", "3"][..],
                "after 3 attempt(s): HTTP 503: maintenance",
            ),
            (
                Some((slow, 2)),
                &["--max-attempts", "2", "--request-timeout", "0.3"],
                "after 2 attempt(s): no answer in time (connect timeout 2s, request timeout 300ms)",
            ),
            (
                None,
                &["--max-attempts", "2"],
                "after 2 attempt(s): connection failed",
            ),
        ] {
            let server = fake_flowiq().await;
            let api_base = match answer {
                Some((answer, calls)) => {
                    let mock = create_webhook("all", "whatsapp", KEY).respond_with(answer);
                    mock.expect(calls).mount(&server).await;
                    server.uri()
                }
                None => format!("http://127.0.0.1:{}", closed_port()),
            };
            let started = Instant::now();
            let error = register(&api_base, flags).await.unwrap_err();
            let expected = format!(
                "could not get an answer from FlowIQ at {api_base}/set-webhooks {expected}"
            );
            assert!(
                error.starts_with(&expected),
                "{expected:?} missing: {error}"
            );
            assert!(started.elapsed() < Duration::from_secs(2), "{expected}");
        }
    }
}

/// Mocked SDK clients (aws-smithy-mocks) without the SDK crates' `test-util` feature.
macro_rules! mocked_client {
    ($sdk:ident, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in $rules {
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

/// The table's DynamoDB Local client, and AWS clients answering only the given rules.
fn aws_with(
    dynamodb: &aws_sdk_dynamodb::Client,
    cloudformation: &[&Rule],
    secrets: &[&Rule],
    ssm: &[&Rule],
) -> AwsClients {
    AwsClients {
        cloudformation: mocked_client!(aws_sdk_cloudformation, cloudformation),
        secrets_manager: mocked_client!(aws_sdk_secretsmanager, secrets),
        ssm: mocked_client!(aws_sdk_ssm, ssm),
        dynamodb: dynamodb.clone(),
        // --function-name: without_sam.rs, against moto.
        lambda: mocked_client!(aws_sdk_lambda, [] as [&Rule; 0]),
    }
}

fn stack_rule(outputs: &[(&str, &str)]) -> Rule {
    let outputs: Vec<Output> = outputs
        .iter()
        .map(|(k, v)| Output::builder().output_key(*k).output_value(*v).build())
        .collect();
    mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .match_requests(|req| req.stack_name() == Some(STACK))
        .then_output(move || {
            let stack = Stack::builder()
                .stack_name(STACK)
                .stack_status(StackStatus::UpdateComplete)
                .set_outputs(Some(outputs.clone()));
            DescribeStacksOutput::builder()
                .stacks(stack.build())
                .build()
        })
}

fn secret_rule() -> Rule {
    mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|req| req.secret_id() == Some(SECRET_ARN))
        .then_output(|| {
            let secret = GetSecretValueOutput::builder().arn(SECRET_ARN);
            secret
                .secret_string(format!(r#"{{"token":"{TOKEN}"}}"#))
                .build()
        })
}

mod aws_lookups {
    use super::*;

    #[tokio::test]
    async fn everything_from_the_stack_the_secret_and_ssm() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        create_webhook("all", "whatsapp", SSM_KEY)
            .respond_with(documented_answer("wh-stack", "all", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;
        let stack = stack_rule(&[
            ("WebhookBaseUrl", BASE),
            ("WebhookTokenSecretArn", SECRET_ARN),
            ("TableName", &table.name),
            ("FunctionName", "flowiq-webhook-fn"),
        ]);
        let secret = secret_rule();
        let key = mock!(aws_sdk_ssm::Client::get_parameter)
            .match_requests(|req| {
                req.name() == Some("/flowiq/api-key") && req.with_decryption() == Some(true)
            })
            .then_output(|| {
                let parameter = aws_sdk_ssm::types::Parameter::builder()
                    .value(SSM_KEY)
                    .build();
                GetParameterOutput::builder().parameter(parameter).build()
            });
        let aws = aws_with(&table.client, &[&stack], &[&secret], &[&key]);
        let flags = [
            "--stack-name",
            STACK,
            "--api-key-ssm-parameter",
            "/flowiq/api-key",
        ];
        let api_base = server.uri();
        let flags = [&flags[..], &["--api-base", &api_base, "--allow-http"]].concat();
        let mut report = Report::default();
        run(&settings(&flags, None), &aws, &mut report)
            .await
            .unwrap();
        assert_eq!(
            (report.stack.as_deref(), report.table.as_deref()),
            (Some(STACK), Some(&*table.name))
        );
        assert_eq!(
            report.registrations[0].webhook_id.as_deref(),
            Some("wh-stack")
        );
        assert_eq!(
            (stack.num_calls(), secret.num_calls(), key.num_calls()),
            (1, 1, 1)
        );
        assert_eq!(table.items_of_type("webhook").await.len(), 1);
    }

    #[tokio::test]
    async fn the_custom_domain_output_is_preferred() {
        let table = TestTable::new().await;
        let custom = "https://hooks.example.com/flowiq";
        for (outputs, base) in [
            (&[("WebhookBaseUrl", BASE)][..], BASE),
            (
                &[
                    ("WebhookBaseUrl", BASE),
                    ("CustomDomainWebhookBaseUrl", custom),
                ],
                custom,
            ),
            (&[("CustomDomainWebhookBaseUrl", custom)], custom),
        ] {
            let stack = stack_rule(outputs);
            let aws = aws_with(&table.client, &[&stack], &[], &[]);
            let flags = ["--stack-name", STACK, "--token", TOKEN, "--dry-run"];
            let mut report = Report::default();
            run(&settings(&flags, Some(KEY)), &aws, &mut report)
                .await
                .unwrap();
            assert_eq!(
                report.url,
                Some(format!("{base}/webhooks/whatsapp/Boot…")),
                "{outputs:?}"
            );
        }
    }

    #[tokio::test]
    async fn what_aws_lacks_is_named_before_flowiq_is_called() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await; // expects no request at all
        let no_secret_output = stack_rule(&[("WebhookBaseUrl", BASE), ("TableName", "t")]);
        let all_outputs = stack_rule(&[
            ("WebhookBaseUrl", BASE),
            ("WebhookTokenSecretArn", SECRET_ARN),
        ]);
        let missing_secret =
            mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_error(|| {
                let error =
                    aws_sdk_secretsmanager::types::error::ResourceNotFoundException::builder();
                GetSecretValueError::ResourceNotFoundException(error.build())
            });
        let missing_parameter = mock!(aws_sdk_ssm::Client::get_parameter).then_error(|| {
            let error = aws_sdk_ssm::types::error::ParameterNotFound::builder().build();
            GetParameterError::ParameterNotFound(error)
        });
        let api_base = server.uri();
        let common = [
            "--stack-name",
            STACK,
            "--api-base",
            &api_base,
            "--allow-http",
        ];
        for (aws, flags, expected) in [
            (
                aws_with(&table.client, &[&no_secret_output], &[], &[]),
                &[][..],
                "stack \"flowiq-webhooks-test\" (status UPDATE_COMPLETE) has no output \"WebhookTokenSecretArn\"",
            ),
            (
                aws_with(&table.client, &[&all_outputs], &[&missing_secret], &[]),
                &[],
                "secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:WebhookTokenSecret-AbCdEf does not exist in region eu-west-1",
            ),
            (
                aws_with(&table.client, &[], &[], &[&missing_parameter]),
                &["--api-key-ssm-parameter", "/flowiq/nope"],
                "SSM parameter \"/flowiq/nope\" does not exist in region eu-west-1",
            ),
        ] {
            let flags = [&common[..], flags].concat();
            let mut report = Report::default();
            let error = run(&settings(&flags, Some(KEY)), &aws, &mut report)
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{expected:?} missing: {error}"
            );
            assert!(report.registrations.is_empty());
        }
    }
    #[tokio::test]
    async fn a_webhook_that_could_not_be_recorded_is_named() {
        let server = fake_flowiq().await;
        create_webhook("all", "whatsapp", KEY)
            .respond_with(documented_answer("wh-unrecorded", "all", "whatsapp"))
            .expect(1)
            .mount(&server)
            .await;
        // Read allowed, write denied: nothing DynamoDB Local reproduces.
        let no_record = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
            aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder().build()
        });
        let denied =
            r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"no PutItem"}"#;
        let denied = mock!(aws_sdk_dynamodb::Client::put_item)
            .sequence()
            .http_status(400, Some(denied.to_owned()))
            .build();
        let dynamodb = mocked_client!(aws_sdk_dynamodb, [&no_record, &denied]);
        let api_base = server.uri();
        let flags = [
            "--url",
            BASE,
            "--token",
            TOKEN,
            "--table-name",
            "t",
            "--api-base",
            &api_base,
        ];
        let mut report = Report::default();
        let aws = aws_with(&dynamodb, &[], &[], &[]);
        let result = run(
            &settings(&[&flags[..], &["--allow-http"]].concat(), Some(KEY)),
            &aws,
            &mut report,
        )
        .await;
        let error = result.unwrap_err().to_string();
        for part in [
            "FlowIQ created webhook wh-unrecorded (type all), but it could not be recorded: cannot write the registration record to table \"t\"",
            "AccessDeniedException",
            "Running again would create a second webhook for this type",
        ] {
            assert!(error.contains(part), "{part:?} missing: {error}");
        }
        assert_eq!(
            report.registrations[0].webhook_id.as_deref(),
            Some("wh-unrecorded")
        );
    }
}

mod idempotency {
    use super::*;

    async fn run_with(
        server: &MockServer,
        table: &TestTable,
        extra: &[&str],
    ) -> (Report, Result<(), BootstrapError>) {
        let api_base = server.uri();
        let given = ["--url", BASE, "--token", TOKEN, "--table-name", &table.name];
        let flags = [
            &given[..],
            &["--api-base", &api_base, "--allow-http"],
            extra,
        ]
        .concat();
        let mut report = Report::default();
        let result = run(
            &settings(&flags, Some(KEY)),
            &aws_with(&table.client, &[], &[], &[]),
            &mut report,
        )
        .await;
        (report, result)
    }

    #[tokio::test]
    async fn registers_once_then_skips_unless_forced() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        for (id, times) in [("wh-first", Some(1)), ("wh-forced", None)] {
            let mock = create_webhook("all", "whatsapp", KEY)
                .respond_with(documented_answer(id, "all", "whatsapp"));
            let mock = match times {
                Some(times) => mock.up_to_n_times(times),
                None => mock,
            };
            mock.expect(1).mount(&server).await;
        }

        // First run: registered, and recorded.
        let (report, result) = run_with(&server, &table, &[]).await;
        result.unwrap();
        assert_eq!(report.registrations[0].status, Status::Registered);
        assert_eq!(report.registrations[0].url, masked_url("whatsapp"));
        let pk = format!("WEBHOOK#whatsapp#all#{}", url_sha256("whatsapp"));
        let item = table.get(&pk, "WEBHOOK").await.expect("the record");
        for (name, value) in [
            ("item_type", "webhook"),
            ("webhook_id", "wh-first"),
            ("event_type", "all"),
            ("platform", "whatsapp"),
            ("created_at", "2026-03-07T22:00:00.000Z"),
            ("url_sha256", &url_sha256("whatsapp")),
        ] {
            assert_eq!(s(&item, name), value, "{name}");
        }
        let registered_at = s(&item, "registered_at");
        assert_eq!(
            flowiq_webhooks::clock::normalize_rfc3339(registered_at).as_deref(),
            Ok(registered_at)
        );
        assert_eq!(item.len(), 9, "pk, sk and the 7 attributes: {item:?}");
        let stored = format!("{item:?}");
        assert!(
            !stored.contains(TOKEN) && !stored.contains("execute-api"),
            "{stored}"
        );

        // Second run: FlowIQ is not called.
        let (report, result) = run_with(&server, &table, &[]).await;
        result.unwrap();
        assert_eq!(report.registrations[0].status, Status::AlreadyRegistered);
        assert_eq!(
            report.registrations[0].registered_at.as_deref(),
            Some(registered_at)
        );

        // --force: called again, and the record now names the new webhook.
        let (report, result) = run_with(&server, &table, &["--force"]).await;
        result.unwrap();
        assert_eq!(report.registrations[0].status, Status::Registered);
        let item = table.get(&pk, "WEBHOOK").await.unwrap();
        assert_eq!(s(&item, "webhook_id"), "wh-forced");
        assert_eq!(table.all_items().await.len(), 1);
    }

    #[tokio::test]
    async fn each_type_and_platform_has_its_own_record() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        for (event_type, platform) in [
            ("all", "whatsapp"),
            ("message_received", "web"),
            ("message_failed", "web"),
        ] {
            create_webhook(event_type, platform, KEY)
                .respond_with(documented_answer(
                    &format!("wh-{event_type}"),
                    event_type,
                    platform,
                ))
                .expect(1)
                .mount(&server)
                .await;
        }
        let web = [
            "--platform",
            "web",
            "--type",
            "message_received",
            "--type",
            "message_failed",
        ];
        for flags in [&[][..], &web, &web] {
            run_with(&server, &table, flags).await.1.unwrap();
        }
        assert_eq!(table.items_of_type("webhook").await.len(), 3);
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
        let types = ["--type", "message_received", "--type", "message_read"];
        let (report, result) = run_with(&server, &table, &types).await;
        assert!(result.unwrap_err().to_string().contains("Key revoked"));
        assert_eq!(report.registrations.len(), 1);
        assert_eq!(report.registrations[0].webhook_id.as_deref(), Some("wh-ok"));
        assert_eq!(table.items_of_type("webhook").await.len(), 1);
    }
}

mod binary {
    use super::*;

    /// The built binary in an empty directory (no samconfig.toml) with a clean environment: no
    /// AWS configuration files, no instance metadata, DynamoDB Local's dummy credentials.
    fn bootstrap(name: &str) -> Command {
        let dir =
            std::env::temp_dir().join(format!("flowiq-bootstrap-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_flowiq-bootstrap"));
        command
            .env_clear()
            .current_dir(dir)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/flowiq-bootstrap-test")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/flowiq-bootstrap-test",
            );
        command
    }

    /// `bootstrap` registering `--url` with `WEBHOOK_TOKEN` at `api_base`, records in DynamoDB Local.
    fn registering(name: &str, api_base: &str, table: &str) -> Command {
        let mut command = bootstrap(name);
        command
            .env("FLOWIQ_API_KEY", KEY)
            .env("WEBHOOK_TOKEN", TOKEN)
            .env("TABLE_NAME", table)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local::endpoint())
            .args(["--url", BASE, "--api-base", api_base, "--allow-http"]);
        command
    }

    /// Exit code, stdout, stderr; neither output holds a secret.
    fn output(command: &mut Command) -> (i32, String, String) {
        let output = command.output().expect("the flowiq-bootstrap binary runs");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_no_secret(&stdout);
        assert_no_secret(&stderr);
        (output.status.code().expect("an exit code"), stdout, stderr)
    }

    #[tokio::test]
    async fn help_lists_the_sources_and_the_exit_codes() {
        let (code, stdout, _) = output(bootstrap("help").arg("--help"));
        assert_eq!(code, 0);
        for part in [
            "base URL  --url, else the stack output CustomDomainWebhookBaseUrl (a custom domain), else WebhookBaseUrl",
            "samconfig.toml",
            "FLOWIQ_API_KEY",
            "[env: WEBHOOK_TOKEN]",
            "[env: TABLE_NAME",
            "[default: all]",
            "[default: whatsapp]",
            "0  success",
            "2  usage or configuration error",
            "4  refused or stopped part way: FlowIQ refused the registration",
            "5  unreachable: FlowIQ",
            "6  an AWS call failed",
            "7  FlowIQ rejected the API key (HTTP 401 or 403)",
        ] {
            assert!(stdout.contains(part), "{part:?} missing:\n{stdout}");
        }
    }

    #[tokio::test]
    async fn usage_and_configuration_errors_exit_2_before_any_network_call() {
        let server = fake_flowiq().await; // expects no request at all
        let api_base = server.uri();
        let broken_samconfig = bootstrap("samconfig")
            .get_current_dir()
            .unwrap()
            .join("samconfig.toml");
        std::fs::write(
            broken_samconfig,
            "[default.global.parameters]\nstack_name = flowiq\n",
        )
        .unwrap();
        let local = ["--api-base", &api_base, "--allow-http"];
        let url_local = ["--url", BASE, "--api-base", &api_base, "--allow-http"];
        for (name, flags, key, expected) in [
            (
                "flags",
                &["--type", "everything"][..],
                Some(KEY),
                "invalid value 'everything' for '--type <TYPE>'",
            ),
            (
                "flags",
                &["--api-key", KEY],
                None,
                "unexpected argument '--api-key'",
            ),
            ("flags", &[], None, "no FlowIQ API key"),
            ("flags", &["--json"], None, "no FlowIQ API key"),
            (
                "flags",
                &["--url", "http://127.0.0.1:9000"],
                Some(KEY),
                "FlowIQ must reach the receiver over TLS",
            ),
            ("flags", &url_local, Some(KEY), "no AWS region configured"),
            (
                "samconfig",
                &local,
                Some(KEY),
                "samconfig.toml is not a usable SAM configuration: TOML parse error at line 2",
            ),
        ] {
            let mut command = bootstrap(name);
            command
                .env("AWS_REGION", "eu-west-1")
                .env("WEBHOOK_TOKEN", TOKEN)
                .args(flags);
            if expected.contains("region") {
                command.env_remove("AWS_REGION");
            }
            if let Some(key) = key {
                command.env("FLOWIQ_API_KEY", key);
            }
            let (code, stdout, stderr) = output(&mut command);
            assert_eq!(code, 2, "{flags:?}: {stderr}");
            assert!(stderr.contains(expected), "{expected:?} missing: {stderr}");
            if flags.contains(&"--json") {
                let json: Value = serde_json::from_str(&stdout).expect("--json: one object");
                assert_eq!(
                    (
                        json["error"]["exit_code"].as_u64(),
                        json["registrations"].as_array().map(Vec::len)
                    ),
                    (Some(2), Some(0))
                );
            } else {
                assert_eq!(stdout, "", "{flags:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_dry_run_needs_no_aws_and_sends_nothing() {
        let server = fake_flowiq().await; // expects no request at all
        let dry_run = |json: &[&str]| {
            let mut command = bootstrap("dry");
            command
                .env("FLOWIQ_API_KEY", KEY)
                .env("WEBHOOK_TOKEN", TOKEN); // and no AWS region
            command.args([
                "--url",
                BASE,
                "--dry-run",
                "--api-base",
                &server.uri(),
                "--allow-http",
            ]);
            command
                .args(["--type", "message_sent", "--type", "call"])
                .args(json);
            output(&mut command)
        };
        let (code, stdout, stderr) = dry_run(&[]);
        assert_eq!(code, 0, "{stderr}");
        let request = format!(
            "POST {}/set-webhooks\nAuthorization: Bearer fiq_…\nContent-Type: application/json\n\
             Accept: application/json\nUser-Agent: flowiq-bootstrap/{}\n\n\
             {{\"url\":\"{}\",\"type\":\"call\",\"platform\":\"whatsapp\"}}\n",
            server.uri(),
            env!("CARGO_PKG_VERSION"),
            masked_url("whatsapp")
        );
        assert!(
            stdout.starts_with(&format!(
                "Webhook URL: {}\nDry run: nothing was sent",
                masked_url("whatsapp")
            )),
            "{stdout}"
        );
        assert!(
            stdout.ends_with(&format!("\ncall (whatsapp): would send\n{request}")),
            "{stdout}"
        );

        let (code, stdout, stderr) = dry_run(&["--json"]);
        assert_eq!(code, 0, "{stderr}");
        let json: Value = serde_json::from_str(&stdout).unwrap();
        let first = &json["registrations"][0];
        assert_eq!(
            (&first["status"], &first["type"]),
            (&json!("dry_run"), &json!("message_sent"))
        );
        assert_eq!(
            first["request"]["headers"][0],
            json!(["Authorization", "Bearer fiq_…"])
        );
        assert_eq!(
            (&json["dry_run"], &json["error"]),
            (&json!(true), &Value::Null)
        );
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
        let (code, stdout, stderr) = output(&mut registering("e2e", &server.uri(), &table.name));
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(
            stdout,
            format!(
                "Webhook URL: {}\nall (whatsapp): registered, webhook id wh-bin, created_at \
                 2026-03-08T00:00:00.000+02:00\n",
                masked_url("whatsapp")
            )
        );
        let (code, stdout, stderr) = output(&mut registering("e2e", &server.uri(), &table.name));
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(
            stdout,
            format!(
                "Webhook URL: {}\nall (whatsapp): already registered (id wh-bin, created_at \
                 2026-03-07T22:00:00.000Z); --force registers it again\n",
                masked_url("whatsapp")
            )
        );
        let (code, stdout, stderr) =
            output(registering("e2e", &server.uri(), &table.name).arg("--json"));
        assert_eq!(code, 0, "{stderr}");
        let json: Value = serde_json::from_str(&stdout).expect("--json prints one JSON object");
        let expected = json!({
            "dry_run": false, "url": masked_url("whatsapp"), "platform": "whatsapp", "stack": null,
            "table": table.name, "error": null,
        });
        for (field, value) in expected.as_object().unwrap() {
            assert_eq!(&json[field], value, "{field}");
        }
        let registration = &json["registrations"][0];
        assert_eq!(
            (&registration["status"], &registration["webhook_id"]),
            (&json!("already_registered"), &json!("wh-bin"))
        );
    }

    #[tokio::test]
    async fn failures_exit_4_to_7() {
        let table = TestTable::new().await;
        let server = fake_flowiq().await;
        for (event_type, answer, calls) in [
            (
                "message_read",
                ResponseTemplate::new(401).set_body_json(json!({"message": "Invalid API key"})),
                1,
            ),
            ("call", ResponseTemplate::new(200).set_body_string("OK"), 1),
            ("message_sent", ResponseTemplate::new(502), 2),
        ] {
            let mock = create_webhook(event_type, "whatsapp", KEY).respond_with(answer);
            mock.expect(calls).mount(&server).await;
        }
        let closed = format!("http://127.0.0.1:{}", closed_port());
        let api_base = server.uri();
        for (api_base, table, event_type, code, expected) in [
            (
                &api_base,
                &*table.name,
                "message_read",
                7,
                "FlowIQ rejected the API key (HTTP 401: Invalid API key)",
            ),
            (&api_base, &table.name, "call", 4, "not JSON"),
            (
                &api_base,
                &table.name,
                "message_sent",
                5,
                "after 2 attempt(s): HTTP 502",
            ),
            (
                &closed,
                &table.name,
                "all",
                5,
                "after 2 attempt(s): connection failed",
            ),
            (
                &api_base,
                "flowiq-no-such-table",
                "all",
                6,
                "table \"flowiq-no-such-table\" does not exist",
            ),
        ] {
            let mut command = registering("fail", api_base, table);
            command.args(["--type", event_type, "--max-attempts", "2"]);
            let (exit_code, _, stderr) = output(&mut command);
            assert_eq!(exit_code, code, "{event_type}: {stderr}");
            assert!(stderr.contains(expected), "{expected:?} missing: {stderr}");
        }
        // Nothing FlowIQ did not confirm is recorded.
        assert!(table.all_items().await.is_empty());
    }
}
