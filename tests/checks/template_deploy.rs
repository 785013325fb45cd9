//! Deploys that cannot take the receiver down (issue 25 §3): every function is published and
//! invoked through its alias `live`; the webhook function's alias moves to a new version as
//! `DeploymentType` says, after the pre-traffic hook proved the version answers, and moves back on
//! the new version's errors or the endpoint's 5xx. The hook's role is in `template::GRANTS`.

use flowiq_deploy_hook::probe::PROBE_TOKEN;
use flowiq_harness::template::{Stack, Template, each, strings, text};
use serde_json::Value;

fn deploy(overrides: &[(&str, &str)]) -> Stack {
    Template::repository()
        .deploy(overrides)
        .unwrap_or_else(|e| panic!("{overrides:?}: {e}"))
}

/// Every optional function on, with each endpoint.
fn every_function(endpoint: &str) -> Stack {
    deploy(&[
        ("Endpoint", endpoint),
        ("DeployStreamConsumer", "true"),
        ("DeployMessageProjection", "true"),
        ("EnableEventBridgePipe", "true"),
    ])
}

fn one<'a>(stack: &'a Stack, path: &str) -> &'a Value {
    let values = stack.each(path);
    assert_eq!(values.len(), 1, "{path}: {values:?}");
    values[0]
}

#[test]
fn every_function_is_invoked_through_its_alias() {
    for endpoint in ["HttpApi", "FunctionUrl"] {
        let stack = every_function(endpoint);
        let functions: Vec<&str> = stack
            .of_type("AWS::Serverless::Function")
            .map(|(name, _)| name)
            .collect();
        assert_eq!(functions.len(), 6, "{functions:?}");
        for (name, function) in stack.of_type("AWS::Serverless::Function") {
            assert_eq!(function["Properties"]["AutoPublishAlias"], "live", "{name}");
            let alias = format!("{name}Aliaslive");
            assert_eq!(stack.generated.get(&alias), Some(&"AWS::Lambda::Alias"));
        }
        // Whatever invokes the webhook function or the enrichment names the alias: a permission,
        // the API's integration, the function URL, the Pipe (the stream mappings and the drain's
        // queue are SAM `Events`, which SAM attaches to the alias itself).
        for (name, permission) in stack.of_type("AWS::Lambda::Permission") {
            let function = text(&permission["Properties"]["FunctionName"]).unwrap();
            assert_eq!(function, "WebhookFunctionAliaslive", "{name}");
        }
        match endpoint {
            "HttpApi" => {
                let uri = one(
                    &stack,
                    "WebhookApi.Properties.Body.paths.*.post.x-amazon-apigateway-integration.uri",
                );
                let uri = text(uri).unwrap();
                assert!(
                    uri.ends_with("/functions/WebhookFunctionAliaslive/invocations"),
                    "{uri}"
                );
            }
            _ => {
                let url = stack.properties("WebhookFunctionUrl");
                assert_eq!(url["Qualifier"], "live");
                assert_eq!(
                    stack.resources["WebhookFunctionUrl"]["DependsOn"],
                    "WebhookFunctionAliaslive"
                );
            }
        }
        assert_eq!(
            text(&stack.properties("EventsPipe")["Enrichment"]).unwrap(),
            "PipeEnrichmentFunctionAliaslive"
        );
    }
}

#[test]
fn the_webhook_function_shifts_as_deployment_type_says_and_rolls_back_on_its_alarms() {
    let canary = deploy(&[]);
    let preference = &canary.properties("WebhookFunction")["DeploymentPreference"];
    assert_eq!(preference["Type"], "Canary10Percent5Minutes");
    assert_eq!(
        preference["Hooks"]["PreTraffic"],
        "WebhookPreTrafficHookFunction"
    );
    // Only the webhook function's alias moves gradually; the others' follow each deploy at once.
    let preferences = canary.each("AWS::Serverless::Function.Properties.DeploymentPreference");
    assert_eq!(preferences.iter().filter(|p| !p.is_null()).count(), 1);
    for shift in ["Linear10PercentEvery1Minute", "AllAtOnce"] {
        let stack = deploy(&[("DeploymentType", shift)]);
        let preference = &stack.properties("WebhookFunction")["DeploymentPreference"];
        assert_eq!(preference["Type"], shift);
        assert!(!preference["Hooks"]["PreTraffic"].is_null(), "{shift}");
    }
    assert!(
        Template::repository()
            .deploy(&[("DeploymentType", "Canary50Percent1Minute")])
            .is_err(),
        "only the shifts the parameter lists"
    );

    // The new version's errors, and the endpoint's 5xx, whichever endpoint serves.
    for (endpoint, five_xx) in [
        ("HttpApi", "WebhookApi5xxAlarm"),
        ("FunctionUrl", "WebhookFunctionUrl5xxAlarm"),
    ] {
        let stack = deploy(&[("Endpoint", endpoint)]);
        let alarms =
            strings(&stack.properties("WebhookFunction")["DeploymentPreference"]["Alarms"]);
        assert_eq!(alarms, ["WebhookFunctionNewVersionErrorsAlarm", five_xx]);
        for alarm in &alarms {
            assert_eq!(stack.resources[alarm]["Type"], "AWS::CloudWatch::Alarm");
        }
    }
    let alarm = canary.properties("WebhookFunctionNewVersionErrorsAlarm");
    let dimensions: Vec<(String, String)> = each(alarm, "Dimensions.*")
        .into_iter()
        .map(|d| (text(&d["Name"]).unwrap(), text(&d["Value"]).unwrap()))
        .collect();
    // The alias's invocations that ran the new version: not the old one still serving.
    assert_eq!(
        dimensions,
        [
            ("FunctionName".into(), "WebhookFunction".into()),
            ("Resource".into(), "WebhookFunction:live".into()),
            (
                "ExecutedVersion".into(),
                "WebhookFunction.Version.Version".into()
            ),
        ]
    );
    assert_eq!(alarm["MetricName"], "Errors");
    // One failed invocation within a minute: well inside the canary's 5 minutes.
    assert_eq!(text(&alarm["Period"]).unwrap(), "60");
    assert_eq!(text(&alarm["Threshold"]).unwrap(), "1");
    assert_eq!(alarm["TreatMissingData"], "notBreaching");
}

#[test]
fn the_pre_traffic_hook_is_one_codedeploy_may_invoke_and_checks_the_new_version() {
    let stack = deploy(&[]);
    let hook = &stack.resources["WebhookPreTrafficHookFunction"];
    let properties = &hook["Properties"];
    // SAM's CodeDeploy role (AWSCodeDeployRoleForLambda) invokes `CodeDeployHook_*` only.
    let name = text(&properties["FunctionName"]).unwrap();
    assert_eq!(name, "CodeDeployHook_flowiq-pre-traffic-51af3dc0");
    assert!(name.len() <= 64);
    assert_eq!(
        properties["Environment"]["Variables"]["WEBHOOK_FUNCTION_VERSION"],
        "WebhookFunction.Version"
    );
    assert_eq!(properties["CodeUri"], "crates/flowiq-deploy-hook");
    assert_eq!(
        hook["Metadata"]["BuildProperties"]["Binary"],
        "flowiq-deploy-hook"
    );
    assert_eq!(properties["Role"], "WebhookPreTrafficHookFunctionRole.Arn");
    // Its probe's token is never one the stack generates (letters and digits only), so the
    // probe is answered 401 and stores nothing.
    let generated = &stack.properties("WebhookTokenSecret")["GenerateSecretString"];
    assert_eq!(generated["ExcludePunctuation"], true);
    assert!(!PROBE_TOKEN.chars().all(|c| c.is_ascii_alphanumeric()));
}
