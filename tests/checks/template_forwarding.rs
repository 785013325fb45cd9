//! Forwarding to the user's endpoint (template.yaml, `Forwarding*`): off by default with nothing of
//! it in the stack; on, an EventBridge rule on the bus with an API destination target that sends
//! `$.detail.event` with the event id in a header, EventBridge's longest retry policy, a
//! dead-letter queue only that rule may write to (with its alarm), a role that may only invoke
//! that API destination, a connection whose credentials come from the user's own secret, and a
//! dashboard row. Evaluated as tests/checks/template.rs does ([`flowiq_harness::template`]).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use flowiq_harness::template::{Stack, Template, each, strings, text};
use serde_json::{Value, json};

static TEMPLATE: LazyLock<Template> = LazyLock::new(Template::repository);

const SECRET: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:flowiq-forwarding-AbCdEf";
const URL: &str = "https://app.example.com/flowiq/events";

/// Forwarding with an API key, everything else at its default.
fn forwarding(extra: &[(&str, &str)]) -> Stack {
    let mut parameters = vec![("ForwardingUrl", URL), ("ForwardingAuthSecretArn", SECRET)];
    parameters.extend_from_slice(extra);
    deploy(&parameters)
}

fn deploy(parameters: &[(&str, &str)]) -> Stack {
    let stack = TEMPLATE.deploy(parameters);
    stack.unwrap_or_else(|e| panic!("{parameters:?}: {e}"))
}

fn forwarding_parts(stack: &Stack) -> Vec<&str> {
    let ids = stack.resources.keys().map(String::as_str);
    ids.filter(|id| id.starts_with("Forwarding")).collect()
}

#[test]
fn forwarding_is_off_by_default_and_then_nothing_of_it_exists() {
    for parameters in [
        &[][..],
        &[("EnableEventBridgePipe", "true")],
        // Its other parameters alone turn nothing on.
        &[
            ("ForwardingAuthSecretArn", SECRET),
            ("ForwardingEventTypes", "message_failed"),
        ],
    ] {
        let stack = deploy(parameters);
        assert!(stack.failed_rules.is_empty(), "{parameters:?}");
        assert_eq!(
            forwarding_parts(&stack),
            Vec::<&str>::new(),
            "{parameters:?}"
        );
        for kind in [
            "AWS::Events::Rule",
            "AWS::Events::Connection",
            "AWS::Events::ApiDestination",
        ] {
            assert_eq!(stack.of_type(kind).count(), 0, "{parameters:?}: {kind}");
        }
        let outputs = stack.outputs.as_object().unwrap().keys();
        assert!(!outputs.into_iter().any(|o| o.starts_with("Forwarding")));
        assert!(!dashboard_body(&stack).contains("AWS/Events"));
    }
    // Forwarding needs the Pipe (it forwards what the Pipe puts on the bus): on, the Pipe is.
    assert!(!deploy(&[]).has("EventsPipe"));
    let stack = forwarding(&[("EnableEventBridgePipe", "false")]);
    assert!(stack.has("EventsPipe"));
    let all = [
        "ForwardingApiDestination",
        "ForwardingConnection",
        "ForwardingDeadLetterQueue",
        "ForwardingDeadLetterQueueAlarm",
        "ForwardingDeadLetterQueuePolicy",
        "ForwardingRole",
        "ForwardingRule",
    ];
    assert_eq!(forwarding_parts(&stack), all);
}

#[test]
fn rules_refuse_forwarding_without_its_credentials() {
    let refused = [
        (vec![("ForwardingUrl", URL)], "ForwardingNeedsAuthSecret"),
        (
            vec![
                ("ForwardingUrl", URL),
                ("ForwardingAuthSecretArn", SECRET),
                ("ForwardingAuthType", "OAUTH_CLIENT_CREDENTIALS"),
            ],
            "ForwardingOAuthNeedsTokenUrl",
        ),
    ];
    for (parameters, rule) in refused {
        assert_eq!(deploy(&parameters).failed_rules, [rule], "{parameters:?}");
    }
    // Parameters CloudFormation refuses before any rule.
    for (name, value) in [
        ("ForwardingUrl", "http://app.example.com/x"),
        ("ForwardingEventTypes", "message_failed, message_read"),
        ("ForwardingAuthSecretArn", "my-secret"),
        ("ForwardingRateLimitPerSecond", "0"),
        ("ForwardingRateLimitPerSecond", "301"),
    ] {
        let stack = TEMPLATE.deploy(&[(name, value)]);
        assert!(stack.is_err(), "{name}={value}");
    }
}

#[test]
fn the_rule_forwards_the_flowiq_event_with_its_id_retried_for_24_hours_then_to_the_dlq() {
    let stack = forwarding(&[]);
    let rule = stack.properties("ForwardingRule");
    assert_eq!(rule["EventBusName"], "default");
    assert_eq!(rule["State"], "ENABLED");
    // Every type by default: the Pipe's source only.
    assert_eq!(rule["EventPattern"], json!({"source": ["flowiq.webhooks"]}));
    let targets = rule["Targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    let target = &targets[0];
    assert_eq!(target["Arn"], "ForwardingApiDestination.Arn");
    assert_eq!(target["RoleArn"], "ForwardingRole.Arn");
    assert_eq!(target["InputPath"], "$.detail.event");
    assert_eq!(
        target["HttpParameters"],
        json!({"HeaderParameters": {"X-FlowIQ-Event-Id": "$.detail.event_id"}})
    );
    assert_eq!(
        target["RetryPolicy"],
        json!({"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185})
    );
    assert_eq!(
        target["DeadLetterConfig"]["Arn"],
        "ForwardingDeadLetterQueue.Arn"
    );

    // Chosen types: the detail-type filter.
    let stack = forwarding(&[
        ("ForwardingEventTypes", "message_received,message_failed"),
        ("EventBusName", "flowiq"),
    ]);
    let rule = stack.properties("ForwardingRule");
    assert_eq!(rule["EventBusName"], "flowiq");
    assert_eq!(
        rule["EventPattern"],
        json!({"source": ["flowiq.webhooks"], "detail-type": ["message_received", "message_failed"]})
    );
    // The Pipe puts them on that same bus.
    assert!(
        text(&stack.properties("EventsPipe")["Target"])
            .unwrap()
            .ends_with(":event-bus/flowiq")
    );
}

#[test]
fn the_api_destination_posts_to_the_url_at_the_rate_limit() {
    let stack = forwarding(&[("ForwardingRateLimitPerSecond", "50")]);
    let destination = stack.properties("ForwardingApiDestination");
    assert_eq!(destination["InvocationEndpoint"], URL);
    assert_eq!(destination["HttpMethod"], "POST");
    assert_eq!(
        text(&destination["InvocationRateLimitPerSecond"]).unwrap(),
        "50"
    );
    assert_eq!(destination["ConnectionArn"], "ForwardingConnection.Arn");
    let default = forwarding(&[]);
    let rate = &default.properties("ForwardingApiDestination")["InvocationRateLimitPerSecond"];
    assert_eq!(text(rate).unwrap(), "20");
}

/// The connection reads each credential from the user's secret (a dynamic reference resolved at
/// deploy time, never a parameter value), for each authorization type; the stack creates no
/// secret of its own for it (EventBridge's, deleted with the connection, is the only copy).
#[test]
fn the_connection_takes_its_credentials_from_the_users_secret() {
    let reference =
        |key: &str| format!("{{{{resolve:secretsmanager:{SECRET}:SecretString:{key}}}}}");
    let cases = [
        (
            "API_KEY",
            json!({"ApiKeyAuthParameters": {"ApiKeyName": reference("api_key_name"),
                "ApiKeyValue": reference("api_key_value")}}),
        ),
        (
            "BASIC",
            json!({"BasicAuthParameters": {"Username": reference("username"),
                "Password": reference("password")}}),
        ),
        (
            "OAUTH_CLIENT_CREDENTIALS",
            json!({"OAuthParameters": {"AuthorizationEndpoint": "https://auth.example.com/token",
                "HttpMethod": "POST", "ClientParameters": {"ClientID": reference("client_id"),
                "ClientSecret": reference("client_secret")}}}),
        ),
    ];
    for (kind, expected) in cases {
        let stack = forwarding(&[
            ("ForwardingAuthType", kind),
            ("ForwardingOAuthTokenUrl", "https://auth.example.com/token"),
        ]);
        assert!(stack.failed_rules.is_empty());
        let connection = stack.properties("ForwardingConnection");
        assert_eq!(connection["AuthorizationType"], kind);
        assert_eq!(connection["AuthParameters"], expected, "{kind}");
        // The stack's only secrets are its own: the webhook token's and the contact key's.
        let secrets: Vec<&str> = stack
            .of_type("AWS::SecretsManager::Secret")
            .map(|(id, _)| id)
            .collect();
        assert_eq!(secrets, ["ContactKeySecret", "WebhookTokenSecret"]);
        // No output carries a credential.
        for value in stack.outputs.as_object().unwrap().values() {
            assert!(!text(value).unwrap().contains("resolve:"), "{value}");
        }
    }
}

#[test]
fn only_the_rule_may_write_to_its_encrypted_dead_letter_queue_which_alarms() {
    let stack = forwarding(&[("AlarmTopicArn", "arn:aws:sns:eu-west-1:123456789012:ops")]);
    let queue = stack.properties("ForwardingDeadLetterQueue");
    assert_eq!(queue["SqsManagedSseEnabled"], true);
    assert_eq!(text(&queue["MessageRetentionPeriod"]).unwrap(), "1209600");
    let policy = stack.properties("ForwardingDeadLetterQueuePolicy");
    assert_eq!(policy["Queues"], json!(["ForwardingDeadLetterQueue"]));
    let statements = each(policy, "PolicyDocument.Statement.*");
    assert_eq!(statements.len(), 1);
    assert_eq!(
        *statements[0],
        json!({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": "ForwardingDeadLetterQueue.Arn",
            "Condition": {"ArnEquals": {"aws:SourceArn": "ForwardingRule.Arn"}}})
    );
    let alarm = stack.properties("ForwardingDeadLetterQueueAlarm");
    assert_eq!(alarm["Namespace"], "AWS/SQS");
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        alarm["Dimensions"],
        json!([{"Name": "QueueName", "Value": "ForwardingDeadLetterQueue.QueueName"}])
    );
    assert_eq!(text(&alarm["Threshold"]).unwrap(), "1");
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert_eq!(
        alarm["AlarmActions"],
        json!(["arn:aws:sns:eu-west-1:123456789012:ops"])
    );
    let outputs = [
        "ForwardingDeadLetterQueueUrl",
        "ForwardingEndpointUrl",
        "ForwardingRuleName",
    ];
    let values = outputs.map(|o| stack.output(o).unwrap_or_else(|| panic!("{o}")));
    assert_eq!(
        values,
        [
            "ForwardingDeadLetterQueue",
            URL,
            "flowiq-webhooks-forwarding"
        ]
    );
}

/// The rule's role may invoke that API destination and nothing else; only EventBridge of this
/// account may assume it.
#[test]
fn the_rules_role_may_only_invoke_that_api_destination() {
    let stack = forwarding(&[]);
    let role = stack.properties("ForwardingRole");
    assert!(role["ManagedPolicyArns"].is_null());
    let mut grants = BTreeSet::new();
    for statement in each(role, "Policies.*.PolicyDocument.Statement.*") {
        assert_eq!(statement["Effect"], "Allow");
        assert!(statement["Condition"].is_null());
        for action in strings(&statement["Action"]) {
            for resource in strings(&statement["Resource"]) {
                grants.insert(format!("{action} {resource}"));
            }
        }
    }
    assert_eq!(
        grants,
        BTreeSet::from(["events:InvokeApiDestination ForwardingApiDestination.Arn".to_owned()])
    );
    let trust = each(role, "AssumeRolePolicyDocument.Statement.*");
    assert_eq!(
        *trust[0],
        json!({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}})
    );
    assert_eq!(trust.len(), 1);
}

fn dashboard_body(stack: &Stack) -> String {
    text(&stack.properties("WebhookDashboard")["DashboardBody"]).unwrap()
}

/// The metrics AWS/Events publishes per rule (EventBridge User Guide, "Monitoring"): by
/// `RuleName` for the default bus, by `EventBusName` and `RuleName` for a custom one.
const EVENTS_RULE_METRICS: [&str; 7] = [
    "Invocations",
    "FailedInvocations",
    "InvocationAttempts",
    "SuccessfulInvocationAttempts",
    "RetryInvocationAttempts",
    "InvocationsSentToDlq",
    "InvocationsFailedToBeSentToDlq",
];

/// The dashboard row: forwarded, retried, failed by the rule's name (with the bus for a custom
/// one), and the dead-letter queue's depth.
#[test]
fn the_dashboard_charts_forwarded_retried_and_failed() {
    for (bus, dimensions) in [
        ("default", vec!["RuleName", "flowiq-webhooks-forwarding"]),
        (
            "flowiq",
            vec![
                "EventBusName",
                "flowiq",
                "RuleName",
                "flowiq-webhooks-forwarding",
            ],
        ),
    ] {
        let stack = forwarding(&[("EventBusName", bus)]);
        assert_eq!(
            stack.output("ForwardingRuleName"),
            Some(dimensions[dimensions.len() - 1])
        );
        let body: Value = serde_json::from_str(&dashboard_body(&stack)).unwrap();
        let widgets = body["widgets"].as_array().unwrap();
        let row = widgets
            .iter()
            .find(|w| {
                w["properties"]["title"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("Forwarding")
            })
            .expect("a forwarding widget");
        assert_eq!(row["properties"]["region"], "eu-west-1");
        let mut labels = Vec::new();
        for metric in row["properties"]["metrics"].as_array().unwrap() {
            let names = strings(metric);
            let options = metric.as_array().unwrap().last().unwrap();
            labels.push(options["label"].as_str().unwrap().to_owned());
            match names[0].as_str() {
                "AWS/Events" => {
                    assert!(EVENTS_RULE_METRICS.contains(&names[1].as_str()), "{metric}");
                    assert_eq!(names[2..], dimensions, "{bus}: {metric}");
                }
                "AWS/SQS" => assert_eq!(
                    names[1..],
                    [
                        "ApproximateNumberOfMessagesVisible",
                        "QueueName",
                        "ForwardingDeadLetterQueue.QueueName"
                    ]
                ),
                other => panic!("{other}"),
            }
        }
        for wanted in ["forwarded", "retried", "failed"] {
            assert!(labels.iter().any(|l| l.starts_with(wanted)), "{labels:?}");
        }
        // It is the last widget: appended after every other part's.
        assert_eq!(widgets.last(), Some(row));
    }
}
