//! The pre-traffic hook (crates/flowiq-deploy-hook) as CodeDeploy runs it, against the real
//! webhook binary: its probe goes through Lambda's Invoke API to a fresh process of
//! `flowiq-webhook` configured as a deployed version is (tokens from moto's Secrets Manager, the
//! table on DynamoDB Local), and its verdict to CodeDeploy's API.
//!
//! Neither moto nor DynamoDB Local speaks those two APIs without Docker (moto's Lambda cannot run
//! a `provided.al2023` function, and its CodeDeploy has no lifecycle hooks), so two local
//! endpoints (wiremock) speak their wire protocols: Lambda's REST-JSON Invoke, answered by running
//! the binary under the harness's Runtime API emulator, and CodeDeploy's JSON 1.1
//! `PutLifecycleEventHookExecutionStatus`, recorded.

use std::path::Path;

use flowiq_deploy_hook::lifecycle::{Hook, HookEvent, Verdict};
use flowiq_harness::moto_server::MotoServer;
use flowiq_harness::runtime_api::invoke_once;
use flowiq_harness::test_table::sdk_config;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::*;

const VERSION: &str = "arn:aws:lambda:us-east-1:123456789012:function:flowiq-webhook:7";
const INVOKE_PATH: &str = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aflowiq-webhook%3A7/invocations";
const PUT_STATUS: &str = "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus";
const DEPLOYMENT: &str = "d-PRETRAFFIC1";
const EXECUTION: &str = "execution-0001";

/// Lambda's Invoke for one version: a fresh process of the webhook binary with the version's
/// environment, as Lambda starts one (an error at start is Lambda's `Unhandled` function error).
struct WebhookVersion {
    env: Vec<(String, String)>,
}

impl Respond for WebhookVersion {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let binary = Path::new(env!("CARGO_BIN_EXE_flowiq-webhook"));
        match invoke_once(binary, &env, &request.body) {
            Ok(response) => ResponseTemplate::new(200)
                .insert_header("X-Amz-Executed-Version", "7")
                .set_body_json(response),
            Err(report) => {
                // The error document the runtime (or the emulator, for an exit) posted.
                let document = report
                    .find('{')
                    .and_then(|start| serde_json::from_str::<Value>(&report[start..]).ok())
                    .unwrap_or_else(|| json!({"errorType": "Unknown", "errorMessage": report}));
                ResponseTemplate::new(200)
                    .insert_header("X-Amz-Executed-Version", "7")
                    .insert_header("X-Amz-Function-Error", "Unhandled")
                    .set_body_json(document)
            }
        }
    }
}

/// CodeDeploy's endpoint, taking every status report.
async fn codedeploy() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("x-amz-target", PUT_STATUS))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            json!({"lifecycleEventHookExecutionId": EXECUTION}).to_string(),
            "application/x-amz-json-1.1",
        ))
        .mount(&server)
        .await;
    server
}

/// The statuses reported to `codedeploy`, with the ids they name.
async fn reports(codedeploy: &MockServer) -> Vec<Value> {
    let requests = codedeploy.received_requests().await.unwrap();
    requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// Runs the hook for one lifecycle event against a Lambda endpoint answering with `version`.
async fn run_hook(
    version: impl Respond + 'static,
    codedeploy: &MockServer,
) -> Result<Verdict, String> {
    let lambda = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(INVOKE_PATH))
        .respond_with(version)
        .mount(&lambda)
        .await;
    let hook = Hook {
        lambda: aws_sdk_lambda::Client::new(&sdk_config(&lambda.uri())),
        codedeploy: aws_sdk_codedeploy::Client::new(&sdk_config(&codedeploy.uri())),
        version: VERSION.to_owned(),
    };
    let event: HookEvent = serde_json::from_value(json!({
        "DeploymentId": DEPLOYMENT,
        "LifecycleEventHookExecutionId": EXECUTION,
    }))
    .unwrap();
    hook.run(&event).await.map_err(|e| e.to_string())
}

/// The environment of a deployed version: its tokens in the secret `secret_id` and its contact
/// key in `contact_key_secret`, both in moto's Secrets Manager, its table on DynamoDB Local.
fn deployed_env(
    moto: &MotoServer,
    table: &TestTable,
    secret_id: &str,
    contact_key_secret: &str,
) -> Vec<(String, String)> {
    [
        ("TABLE_NAME", table.name.as_str()),
        ("WEBHOOK_TOKEN_SECRET", secret_id),
        ("CONTACT_KEY_SECRET", contact_key_secret),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint().as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local::endpoint()),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test]
async fn a_version_that_starts_and_refuses_the_probe_passes_and_nothing_is_stored() {
    let moto = MotoServer::start();
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config(&moto.endpoint()));
    let secret = secrets
        .create_secret()
        .name("WebhookTokenSecret-hook")
        .secret_string(json!({"token": DEV_TOKEN}).to_string())
        .send()
        .await
        .unwrap();
    let contact_key = secrets
        .create_secret()
        .name("ContactKeySecret-hook")
        .secret_string("k".repeat(64))
        .send()
        .await
        .unwrap();
    let contact_key = contact_key.arn().unwrap();
    let table = TestTable::new().await;
    let codedeploy = codedeploy().await;

    let healthy = WebhookVersion {
        env: deployed_env(&moto, &table, secret.arn().unwrap(), contact_key),
    };
    assert_eq!(run_hook(healthy, &codedeploy).await, Ok(Verdict::Succeeded));
    assert_eq!(
        reports(&codedeploy).await,
        [
            json!({"deploymentId": DEPLOYMENT, "lifecycleEventHookExecutionId": EXECUTION,
            "status": "Succeeded"})
        ]
    );
    // The probe wrote nothing: no event, no rejected body (the init warm-up never applies).
    assert_eq!(table.all_items().await, []);

    // The same version without its secret (deleted, or a role that may not read it) never
    // starts: Failed, with Lambda's reason.
    let codedeploy = self::codedeploy().await;
    let no_secret = WebhookVersion {
        env: deployed_env(&moto, &table, "WebhookTokenSecret-missing", contact_key),
    };
    let verdict = run_hook(no_secret, &codedeploy).await.unwrap();
    let Verdict::Failed(why) = verdict else {
        panic!("{verdict:?}")
    };
    assert!(why.contains("Runtime.ExitError"), "{why}");
    assert_eq!(reports(&codedeploy).await[0]["status"], "Failed");
    assert_eq!(table.all_items().await, []);
}

#[tokio::test]
async fn a_version_that_fails_at_start_or_answers_5xx_is_failed() {
    // Configured without any token source: the binary refuses to start, as a release with a
    // broken configuration would.
    let codedeploy = codedeploy().await;
    let broken = WebhookVersion {
        env: vec![("TABLE_NAME".into(), "events".into())],
    };
    let verdict = run_hook(broken, &codedeploy).await.unwrap();
    assert!(
        matches!(&verdict, Verdict::Failed(why)
            if why.contains("Runtime.ExitError") && why.contains("WEBHOOK_TOKEN_SECRET is not set")),
        "{verdict:?}"
    );
    assert_eq!(reports(&codedeploy).await[0]["status"], "Failed");

    // A release whose handler answers 502 (the receiver never does for a wrong token, so this
    // answer is canned).
    let codedeploy = self::codedeploy().await;
    let bad_gateway = ResponseTemplate::new(200).set_body_json(json!({"statusCode": 502,
        "headers": {"content-type": "application/json"}, "body": "{\"error\":\"internal\"}",
        "isBase64Encoded": false}));
    let verdict = run_hook(bad_gateway, &codedeploy).await.unwrap();
    assert_eq!(
        verdict,
        Verdict::Failed("the new version answered 502 to a wrong token, not 401".into())
    );
    assert_eq!(reports(&codedeploy).await[0]["status"], "Failed");
}

#[tokio::test]
async fn a_report_codedeploy_refuses_is_an_error_naming_the_permission() {
    let codedeploy = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-amz-target", PUT_STATUS))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            json!({"__type": "AccessDeniedException", "message": "not authorized"}).to_string(),
            "application/x-amz-json-1.1",
        ))
        .mount(&codedeploy)
        .await;
    let canned_401 = ResponseTemplate::new(200).set_body_json(json!({"statusCode": 401,
        "body": "{\"error\":\"unauthorized\"}", "isBase64Encoded": false}));
    let error = run_hook(canned_401, &codedeploy).await.unwrap_err();
    assert!(
        error.contains("could not report Succeeded for deployment d-PRETRAFFIC1"),
        "{error}"
    );
    assert!(
        error.contains("codedeploy:PutLifecycleEventHookExecutionStatus"),
        "{error}"
    );
}
