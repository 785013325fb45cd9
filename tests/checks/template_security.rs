//! template.yaml's protections (docs/security.md), evaluated as CloudFormation would deploy them
//! ([`flowiq_harness::template`]): who may use the spill queues, checked by evaluating the queue
//! policies' statements for each principal and action, not by reading their text.

use std::sync::LazyLock;

use flowiq_harness::template::{Stack, Template, each, strings};
use serde_json::Value;

static TEMPLATE: LazyLock<Template> = LazyLock::new(Template::repository);

const ACCOUNT_ROOT: &str = "arn:aws:iam::123456789012:root";
const OPERATOR_PATTERN: &str =
    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*";
const AN_OPERATOR: &str = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0a1b";
/// Any other principal of the account, e.g. an application role whose IAM policy allows `sqs:*`.
const SOMEONE_ELSE: &str = "arn:aws:iam::123456789012:role/some-app-with-sqs-star";

fn deploy(overrides: &[(&str, &str)]) -> Stack {
    let stack = TEMPLATE.deploy(overrides);
    let stack = stack.unwrap_or_else(|e| panic!("{overrides:?}: {e}"));
    assert!(stack.failed_rules.is_empty(), "{overrides:?}: {stack:?}");
    stack
}

/// IAM's `*` and `?` in an `...Like` condition.
fn glob(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => {
            pattern.len() == value.len()
                && pattern
                    .bytes()
                    .zip(value.bytes())
                    .all(|(p, v)| p == b'?' || p == v)
        }
        Some((head, rest)) => {
            value.len() >= head.len()
                && glob(head, &value[..head.len()])
                && (head.len()..=value.len()).any(|i| glob(rest, &value[i..]))
        }
    }
}

/// Whether one condition block holds for a request by `principal` (`None`: a request signed by
/// no principal, such as SQS's own move to a dead-letter queue). Only the operators the
/// template uses are known; another one fails the test.
fn condition_holds(condition: &Value, principal: Option<&str>) -> bool {
    let Some(condition) = condition.as_object() else {
        return true;
    };
    condition.iter().all(|(operator, keys)| {
        keys.as_object().unwrap().iter().all(|(key, values)| {
            assert_eq!(key, "aws:PrincipalArn", "a condition on another key: {key}");
            let values = strings(values);
            match (operator.as_str(), principal) {
                ("Null", _) => (values == ["true"]) == principal.is_none(),
                // Negated operators hold when the key is absent.
                ("ArnNotEquals" | "ArnNotLike", None) => true,
                ("ArnNotEquals", Some(p)) => !values.iter().any(|v| v == p),
                ("ArnNotLike", Some(p)) => !values.iter().any(|v| glob(v, p)),
                ("ArnEquals", Some(p)) => values.iter().any(|v| v == p),
                ("ArnLike", Some(p)) => values.iter().any(|v| glob(v, p)),
                (other, _) => panic!("condition operator {other} not evaluated here"),
            }
        })
    })
}

/// A resource policy's explicit Deny of `action` on `resource` for `principal`.
fn denies(policy: &Value, principal: Option<&str>, action: &str, resource: &str) -> bool {
    each(policy, "Statement.*").into_iter().any(|statement| {
        statement["Effect"] == "Deny"
            && statement["Principal"] == "*"
            && strings(&statement["Action"]).iter().any(|a| a == action)
            && strings(&statement["Resource"])
                .iter()
                .any(|r| r == resource)
            && condition_holds(&statement["Condition"], principal)
    })
}

/// The queue policy of a queue, and the queue's ARN as the stack renders it.
fn queue_policy<'a>(stack: &'a Stack, queue: &str) -> (&'a Value, String) {
    let policies: Vec<&Value> = stack
        .of_type("AWS::SQS::QueuePolicy")
        .map(|(_, body)| &body["Properties"])
        .filter(|p| strings(&p["Queues"]) == [queue])
        .collect();
    assert_eq!(policies.len(), 1, "{queue}'s policies: {policies:?}");
    (&policies[0]["PolicyDocument"], format!("{queue}.Arn"))
}

const MESSAGE_ACTIONS: [&str; 5] = [
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:PurgeQueue",
];

/// Who may do what to each queue's messages: `queue principal actions...` (the actions not
/// listed are denied to that principal).
const WHO_MAY: &str = "
SpillQueue WebhookFunctionRole.Arn sqs:SendMessage
SpillQueue SpillDrainFunctionRole.Arn sqs:ReceiveMessage sqs:DeleteMessage sqs:ChangeMessageVisibility
SpillQueue root sqs:SendMessage sqs:ReceiveMessage sqs:DeleteMessage sqs:ChangeMessageVisibility sqs:PurgeQueue
SpillQueue someone-else
SpillDeadLetterQueue WebhookFunctionRole.Arn
SpillDeadLetterQueue SpillDrainFunctionRole.Arn
SpillDeadLetterQueue root sqs:SendMessage sqs:ReceiveMessage sqs:DeleteMessage sqs:ChangeMessageVisibility sqs:PurgeQueue
SpillDeadLetterQueue someone-else";

fn principal(name: &str) -> &str {
    match name {
        "root" => ACCOUNT_ROOT,
        "someone-else" => SOMEONE_ELSE,
        "operator" => AN_OPERATOR,
        role => role,
    }
}

#[test]
fn only_the_webhook_function_sends_to_the_spill_queue_and_only_the_drain_consumes_it() {
    for (overrides, operators) in [
        (&[][..], false),
        (
            &[("Endpoint", "FunctionUrl"), ("ReservedConcurrency", "10")][..],
            false,
        ),
        (&[("SpillQueueOperatorArns", OPERATOR_PATTERN)][..], true),
    ] {
        let stack = deploy(overrides);
        for line in WHO_MAY.trim().lines() {
            let mut words = line.split(' ');
            let (queue, who) = (words.next().unwrap(), words.next().unwrap());
            let allowed: Vec<&str> = words.collect();
            let (policy, arn) = queue_policy(&stack, queue);
            for action in MESSAGE_ACTIONS {
                assert_eq!(
                    denies(policy, Some(principal(who)), action, &arn),
                    !allowed.contains(&action),
                    "{overrides:?}: {who} {action} on {queue}"
                );
                // Operators may do everything to the messages; without the parameter they are
                // anyone else.
                assert_eq!(
                    denies(policy, Some(AN_OPERATOR), action, &arn),
                    !operators,
                    "{overrides:?}: an operator {action} on {queue}"
                );
                // SQS's own moves (no principal) are never denied.
                assert!(!denies(policy, None, action, &arn), "{queue} {action}");
            }
            // Management actions stay with IAM: no one is locked out of the queue.
            for action in ["sqs:SetQueueAttributes", "sqs:GetQueueAttributes"] {
                assert!(!denies(policy, Some(SOMEONE_ELSE), action, &arn));
            }
        }
    }
}

/// Every grant of the stack's roles on a spill queue is one its queue policy lets through:
/// the policy never breaks the function or the drain.
#[test]
fn the_queue_policies_deny_nothing_the_functions_roles_are_granted() {
    let stack = deploy(&[]);
    let mut checked = 0;
    for (role, body) in stack.of_type("AWS::IAM::Role") {
        let statements = each(&body["Properties"], "Policies.*.PolicyDocument.Statement.*");
        for statement in statements {
            for resource in strings(&statement["Resource"]) {
                let Some(queue) = resource.strip_suffix(".Arn") else {
                    continue;
                };
                if !queue.starts_with("Spill") || !queue.ends_with("Queue") {
                    continue;
                }
                let (policy, arn) = queue_policy(&stack, queue);
                let role_arn = format!("{role}.Arn");
                for action in strings(&statement["Action"]) {
                    assert!(
                        !denies(policy, Some(&role_arn), &action, &arn),
                        "{role} {action}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 5, "{checked} grants checked");
}

#[test]
fn operators_are_excepted_in_every_statement_only_when_named() {
    for (overrides, expected) in [
        (&[][..], None),
        (
            &[("SpillQueueOperatorArns", OPERATOR_PATTERN)][..],
            Some(vec![OPERATOR_PATTERN]),
        ),
        (
            &[(
                "SpillQueueOperatorArns",
                "arn:aws:iam::123456789012:user/ops,arn:aws:iam::123456789012:role/break-glass",
            )][..],
            Some(vec![
                "arn:aws:iam::123456789012:user/ops",
                "arn:aws:iam::123456789012:role/break-glass",
            ]),
        ),
    ] {
        let stack = deploy(overrides);
        for queue in ["SpillQueue", "SpillDeadLetterQueue"] {
            let (policy, _) = queue_policy(&stack, queue);
            for statement in each(policy, "Statement.*") {
                let likes = &statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"];
                match &expected {
                    None => assert!(
                        statement["Condition"]["ArnNotLike"].is_null(),
                        "{statement}"
                    ),
                    Some(arns) => assert_eq!(&strings(likes), arns, "{queue}"),
                }
            }
        }
    }
    assert_eq!(
        TEMPLATE.yaml["Parameters"]["SpillQueueOperatorArns"]["Default"].as_str(),
        Some("")
    );
}

// ----------------------------------------------------------------------- capacity protection

/// Where API Gateway sends a request, as its documentation describes HTTP APIs: on the API's
/// own host, a path whose first segment names a stage goes to that stage, anything else to the
/// `$default` stage if there is one; on a custom domain, the longest matching API mapping key
/// (hidden from the route) picks the stage. Then the stage's routes: a `{param}` is one segment.
/// `Some((stage, route))` is the throttle bucket the request takes a token from (route-level
/// throttling is per stage and route); `None` is API Gateway's own 404, which takes none and
/// invokes nothing.
fn route(stack: &Stack, url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("https://").unwrap();
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let stages: Vec<String> = stack
        .of_type("AWS::ApiGatewayV2::Stage")
        .map(|(_, body)| text_of(&body["Properties"]["StageName"]))
        .collect();
    let (stage, path) = if host.ends_with(".execute-api.eu-west-1.amazonaws.com") {
        match path.split_once('/') {
            Some((first, rest)) if stages.iter().any(|s| s == first) => (first.to_owned(), rest),
            _ if stages.iter().any(|s| s == "$default") => ("$default".to_owned(), path),
            _ => return None,
        }
    } else {
        assert_eq!(host, "hooks.example.com");
        let mut mappings: Vec<(String, String)> = stack
            .of_type("AWS::ApiGatewayV2::ApiMapping")
            .map(|(_, body)| {
                let key = &body["Properties"]["ApiMappingKey"];
                let key = if key.is_null() {
                    String::new()
                } else {
                    text_of(key)
                };
                (key, text_of(&body["Properties"]["Stage"]))
            })
            .collect();
        mappings.sort_by_key(|(key, _)| std::cmp::Reverse(key.len()));
        mappings.into_iter().find_map(|(key, stage)| {
            if key.is_empty() {
                Some((stage, path))
            } else {
                let rest = path.strip_prefix(key.as_str())?.strip_prefix('/')?;
                Some((stage, rest))
            }
        })?
    };
    let segments: Vec<&str> = path.split('/').collect();
    let paths = stack.properties("WebhookApi")["Body"]["paths"]
        .as_object()
        .unwrap();
    let route = paths.keys().find(|route| {
        let pattern: Vec<&str> = route.trim_start_matches('/').split('/').collect();
        pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s)
    })?;
    Some((stage, format!("POST {route}")))
}

fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

const TOKEN: &str = "FlowIQsRealToken0123456789abcdefghijklmnopqrstuv";
const WRONG: &str = "AStrangersGuess0123456789abcdefghijklmnopqrstuvw";
const API_HOST: &str = "https://WebhookApi.execute-api.eu-west-1.amazonaws.com";

/// What a stranger can send knowing the hostname (the API's, or a custom domain's from
/// certificate transparency logs) but not the URL FlowIQ was given.
fn strangers_requests(host: &str) -> Vec<String> {
    [
        format!("{host}/webhooks/whatsapp/{WRONG}"),
        format!("{host}/webhooks/web/{WRONG}"),
        format!("{host}/flowiq/webhooks/whatsapp/{WRONG}"),
        format!("{host}/00000000-0000-1000-8000-000000000000/webhooks/whatsapp/{WRONG}"),
        format!("{host}/$default/webhooks/whatsapp/{WRONG}"),
        format!("{host}/"),
    ]
    .into()
}

#[test]
fn a_stranger_who_knows_only_the_hostname_matches_no_route_so_takes_no_capacity() {
    for overrides in [
        &[][..],
        &[
            ("CustomDomainName", "hooks.example.com"),
            (
                "CertificateArn",
                "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d",
            ),
        ],
        &[
            ("CustomDomainName", "hooks.example.com"),
            (
                "CertificateArn",
                "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d",
            ),
            ("CustomDomainBasePath", "flowiq"),
        ],
    ] {
        let stack = deploy(overrides);
        let mut bases = vec![stack.output("WebhookBaseUrl").unwrap().to_owned()];
        bases.extend(
            stack
                .output("CustomDomainWebhookBaseUrl")
                .map(str::to_owned),
        );
        for base in &bases {
            // FlowIQ's deliveries, to the URL flowiq-bootstrap registers: the one route.
            for platform in ["whatsapp", "web"] {
                let delivery = format!("{base}/webhooks/{platform}/{TOKEN}");
                let (stage, route) = route(&stack, &delivery).expect(&delivery);
                assert_eq!(route, "POST /webhooks/{platform}/{token}");
                assert_eq!(
                    stage,
                    text_of(&stack.properties("WebhookApiStage")["StageName"])
                );
            }
            // The stage name is the stack id's UUID: nothing a stranger can derive.
            let stage = text_of(&stack.properties("WebhookApiStage")["StageName"]);
            assert!(
                stage.len() == 36 && stage.matches('-').count() == 4 && stage != "$default",
                "{stage}"
            );
        }
        for host in ["https://hooks.example.com", API_HOST] {
            if host == API_HOST || stack.has("WebhookDomainName") {
                for request in strangers_requests(host) {
                    assert_eq!(route(&stack, &request), None, "{overrides:?}: {request}");
                }
            }
        }
    }
}

/// During the switch (KeepUnprefixedUrl=true) the old URL works and a flood of it is throttled
/// in a bucket of its own: the prefixed route's capacity stays FlowIQ's.
#[test]
fn the_old_url_kept_during_a_switch_has_a_throttle_bucket_of_its_own() {
    let stack = deploy(&[
        ("KeepUnprefixedUrl", "true"),
        ("CustomDomainName", "hooks.example.com"),
        (
            "CertificateArn",
            "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d",
        ),
    ]);
    let new = format!(
        "{}/webhooks/whatsapp/{TOKEN}",
        stack.output("WebhookBaseUrl").unwrap()
    );
    let new_bucket = route(&stack, &new).unwrap();
    let old_base = stack.output("UnprefixedWebhookBaseUrl").unwrap();
    for old in [
        format!("{old_base}/webhooks/whatsapp/{TOKEN}"),
        format!("https://hooks.example.com/webhooks/whatsapp/{TOKEN}"),
    ] {
        let old_bucket = route(&stack, &old).expect(&old);
        assert_eq!(old_bucket.0, "$default");
        assert_ne!(old_bucket, new_bucket);
    }
    let domain_new = stack.output("CustomDomainWebhookBaseUrl").unwrap();
    assert_eq!(
        route(&stack, &format!("{domain_new}/webhooks/web/{TOKEN}"))
            .unwrap()
            .0,
        new_bucket.0
    );
    // Both stages throttled alike, and logged alike.
    let settings = |stage: &str| {
        let properties = stack.properties(stage);
        (
            properties["DefaultRouteSettings"].clone(),
            properties["AccessLogSettings"].clone(),
        )
    };
    assert_eq!(
        settings("WebhookApiStage"),
        settings("WebhookApiApiGatewayDefaultStage")
    );
}

/// The access log never holds what would let a reader send to the route: the token (in the
/// path) or the stage name (in the path, `$context.stage`, the domain's mapping).
#[test]
fn the_access_log_holds_neither_the_path_nor_the_stage_name() {
    let stack = deploy(&[("KeepUnprefixedUrl", "true")]);
    for stage in ["WebhookApiStage", "WebhookApiApiGatewayDefaultStage"] {
        let format = text_of(&stack.properties(stage)["AccessLogSettings"]["Format"]);
        for leaks in [
            "$context.path",
            "$context.resourcePath",
            "$context.routeKey",
            "$context.stage",
            "$context.customDomain",
            "$context.requestOverride",
            "$context.domainName",
        ] {
            assert!(!format.contains(leaks), "{stage}: {leaks} in {format}");
        }
    }
}

/// With a function URL every request invokes the function: reserved concurrency caps what a
/// flood can take from the account, by default.
#[test]
fn a_function_url_is_capped_by_reserved_concurrency_by_default() {
    let stack = deploy(&[("Endpoint", "FunctionUrl")]);
    let reserved = &stack.properties("WebhookFunction")["ReservedConcurrentExecutions"];
    assert_eq!(
        reserved.as_u64().or_else(|| text_of(reserved).parse().ok()),
        Some(100)
    );
    let stack = deploy(&[]);
    assert!(stack.properties("WebhookFunction")["ReservedConcurrentExecutions"].is_null());
}

// ------------------------------------------------------------------ encryption and the stream

const WITH_KEY: [(&str, &str); 1] = [("CustomerManagedKey", "true")];
/// Every optional part that holds or reads the stack's data.
const EVERYTHING: [(&str, &str); 4] = [
    ("CustomerManagedKey", "true"),
    ("DeployStreamConsumer", "true"),
    ("DeployMessageProjection", "true"),
    ("EnableEventBridgePipe", "true"),
];

/// Where the stack keeps personal data: the table (and its stream), the spill queues, the log
/// groups and the secrets (the token and the contact key).
fn encrypted_with(stack: &Stack) -> Vec<(String, Value)> {
    let mut found = vec![(
        "EventsTable".to_owned(),
        stack.properties("EventsTable")["SSESpecification"].clone(),
    )];
    for queue in ["SpillQueue", "SpillDeadLetterQueue"] {
        let properties = stack.properties(queue);
        found.push((
            queue.to_owned(),
            serde_json::json!([
                properties["KmsMasterKeyId"],
                properties["SqsManagedSseEnabled"]
            ]),
        ));
    }
    for (name, body) in stack.of_type("AWS::Logs::LogGroup") {
        found.push((name.to_owned(), body["Properties"]["KmsKeyId"].clone()));
    }
    for (name, body) in stack.of_type("AWS::SecretsManager::Secret") {
        found.push((name.to_owned(), body["Properties"]["KmsKeyId"].clone()));
    }
    found
}

#[test]
fn the_customer_managed_key_protects_the_table_queues_logs_and_secret_only_when_asked() {
    let stack = deploy(&EVERYTHING);
    let found = encrypted_with(&stack);
    assert!(found.len() >= 9, "{found:?}");
    for (resource, value) in &found {
        let expected = match resource.as_str() {
            "EventsTable" => {
                serde_json::json!({"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": "DataKey"})
            }
            "SpillQueue" | "SpillDeadLetterQueue" => serde_json::json!(["DataKey", null]),
            "WebhookTokenSecret" | "ContactKeySecret" => serde_json::json!("DataKey"),
            _ => serde_json::json!("DataKey.Arn"),
        };
        assert_eq!(value, &expected, "{resource}");
    }
    let key = &stack.resources["DataKey"];
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    // The retained table and queues stay readable after the stack is gone.
    assert_eq!(
        (&key["DeletionPolicy"], &key["UpdateReplacePolicy"]),
        (&"Retain".into(), &"Retain".into())
    );

    let stack = deploy(&[]);
    assert!(!stack.has("DataKey") && !stack.has("DataKeyUsePolicy"));
    for (resource, value) in encrypted_with(&stack) {
        let expected = match resource.as_str() {
            "EventsTable" => serde_json::json!({"SSEEnabled": true}),
            "SpillQueue" | "SpillDeadLetterQueue" => serde_json::json!([null, true]),
            _ => Value::Null,
        };
        assert_eq!(value, expected, "{resource}");
    }
}

/// Who the key policy lets do what: the account administers it but uses it only through the
/// stack's services (so a principal needs kms:Decrypt in its IAM policy, which AWS's
/// ReadOnlyAccess does not grant, to read the table); CloudWatch Logs only for this account's
/// log groups; no one else.
#[test]
fn the_key_policy_is_limited_to_the_accounts_administrators_and_the_stacks_services() {
    let stack = deploy(&WITH_KEY);
    let policy = &stack.properties("DataKey")["KeyPolicy"];
    let crypto = [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:ReEncrypt*",
    ];
    let services: Vec<String> = ["dynamodb", "sqs", "secretsmanager"]
        .iter()
        .map(|s| format!("{s}.eu-west-1.amazonaws.com"))
        .collect();
    let mut statements = 0;
    for statement in each(policy, "Statement.*") {
        statements += 1;
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Resource"], "*");
        let actions = strings(&statement["Action"]);
        let aws = strings(&statement["Principal"]["AWS"]);
        let service = strings(&statement["Principal"]["Service"]);
        assert!(statement["Principal"] != "*", "{statement}");
        let uses = actions
            .iter()
            .any(|a| crypto.iter().any(|c| glob(a, c) || glob(c, a)) || a == "kms:*");
        match (aws.as_slice(), service.as_slice()) {
            ([root], []) if root == ACCOUNT_ROOT => {
                if uses {
                    let via = strings(&statement["Condition"]["StringEquals"]["kms:ViaService"]);
                    assert_eq!(via, services, "{statement}");
                    assert_eq!(
                        statement["Condition"]["StringEquals"]["kms:CallerAccount"],
                        "123456789012"
                    );
                }
                assert!(!actions.contains(&"kms:*".to_owned()), "{statement}");
            }
            ([], [logs]) if logs == "logs.eu-west-1.amazonaws.com" => {
                let context =
                    &statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"];
                assert_eq!(
                    text_of(context),
                    "arn:aws:logs:eu-west-1:123456789012:log-group:*"
                );
            }
            other => panic!("a principal the key should not trust: {other:?}"),
        }
    }
    assert_eq!(statements, 3);
}

/// Every role that writes or reads the table, its stream or the spill queues may use the key
/// (through those services only): with the key on, nothing of the stack stops working.
#[test]
fn every_role_that_touches_encrypted_data_may_use_the_key() {
    let stack = deploy(&EVERYTHING);
    let policy = stack.properties("DataKeyUsePolicy");
    let attached = strings(&policy["Roles"]);
    for (role, body) in stack.of_type("AWS::IAM::Role") {
        let resources: Vec<String> = each(
            &body["Properties"],
            "Policies.*.PolicyDocument.Statement.*.Resource",
        )
        .into_iter()
        .flat_map(strings)
        .collect();
        let touches = resources.iter().any(|r| {
            r.starts_with("EventsTable.")
                || r.starts_with("SpillQueue.")
                || r.starts_with("SpillDeadLetterQueue.")
        });
        assert_eq!(
            attached.contains(&role.to_owned()),
            touches,
            "{role}: {resources:?}"
        );
    }
    for statement in each(&policy["PolicyDocument"], "Statement.*") {
        assert_eq!(text_of(&statement["Resource"]), "DataKey.Arn");
        assert!(!strings(&statement["Condition"]["StringEquals"]["kms:ViaService"]).is_empty());
    }
}

/// Every statement of a role's policies: its inline ones and the stack's `AWS::IAM::Policy`s
/// attached to it.
fn role_statements<'a>(stack: &'a Stack, role: &str) -> Vec<&'a Value> {
    let mut statements = each(
        &stack.resources[role]["Properties"],
        "Policies.*.PolicyDocument.Statement.*",
    );
    for (_, policy) in stack.of_type("AWS::IAM::Policy") {
        if strings(&policy["Properties"]["Roles"])
            .iter()
            .any(|r| r == role)
        {
            statements.extend(each(&policy["Properties"], "PolicyDocument.Statement.*"));
        }
    }
    statements
}

/// Whether `role`'s IAM policies let it decrypt `secret` with the data key: kms:Decrypt on
/// DataKey through Secrets Manager, unless the encryption context names another secret.
fn may_decrypt_secret(stack: &Stack, role: &str, secret: &str) -> bool {
    role_statements(stack, role).into_iter().any(|statement| {
        let condition = &statement["Condition"]["StringEquals"];
        statement["Effect"] == "Allow"
            && strings(&statement["Action"])
                .iter()
                .any(|a| a == "kms:Decrypt")
            && strings(&statement["Resource"]) == ["DataKey.Arn"]
            && strings(&condition["kms:ViaService"])
                .iter()
                .any(|s| s == "secretsmanager.eu-west-1.amazonaws.com")
            && (condition["kms:EncryptionContext:SecretARN"].is_null()
                || text_of(&condition["kms:EncryptionContext:SecretARN"]) == secret)
    })
}

/// Whether `role` may call GetSecretValue on `secret`.
fn reads_secret(stack: &Stack, role: &str, secret: &str) -> bool {
    role_statements(stack, role).into_iter().any(|statement| {
        statement["Effect"] == "Allow"
            && strings(&statement["Action"])
                .iter()
                .any(|a| a == "secretsmanager:GetSecretValue")
            && strings(&statement["Resource"]).iter().any(|r| r == secret)
    })
}

/// With the data key, each secret is readable exactly by the roles granted GetSecretValue on it:
/// each of them may decrypt it (the key policy lets the account's principals use the key through
/// Secrets Manager, and the role's IAM grants kms:Decrypt for that secret), and no other role of
/// the stack may decrypt it, whatever else it may do with the key.
#[test]
fn each_secret_is_decryptable_by_the_roles_that_read_it_and_by_no_other() {
    let stack = deploy(&EVERYTHING);
    let key_policy = &stack.properties("DataKey")["KeyPolicy"];
    let through_secrets_manager = each(key_policy, "Statement.*")
        .into_iter()
        .any(|statement| {
            strings(&statement["Principal"]["AWS"]) == [ACCOUNT_ROOT]
                && strings(&statement["Action"])
                    .iter()
                    .any(|a| a == "kms:Decrypt")
                && strings(&statement["Condition"]["StringEquals"]["kms:ViaService"])
                    .iter()
                    .any(|s| s == "secretsmanager.eu-west-1.amazonaws.com")
        });
    assert!(through_secrets_manager, "{key_policy}");
    let secrets: Vec<&str> = stack
        .of_type("AWS::SecretsManager::Secret")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(secrets, ["ContactKeySecret", "WebhookTokenSecret"]);
    let roles: Vec<&str> = stack.of_type("AWS::IAM::Role").map(|(id, _)| id).collect();
    assert!(roles.len() >= 5, "{roles:?}");
    let mut readers = Vec::new();
    for secret in &secrets {
        for role in &roles {
            let reads = reads_secret(&stack, role, secret);
            assert_eq!(
                may_decrypt_secret(&stack, role, secret),
                reads,
                "{role} on {secret}: reads it {reads}"
            );
            if reads {
                readers.push(format!("{role} {secret}"));
            }
        }
    }
    assert_eq!(
        readers,
        [
            "SpillDrainFunctionRole ContactKeySecret",
            "WebhookFunctionRole ContactKeySecret",
            "WebhookFunctionRole WebhookTokenSecret",
        ]
    );
    // Without the data key, no role has a KMS grant at all.
    let stack = deploy(&EVERYTHING[1..]);
    for (role, _) in stack.of_type("AWS::IAM::Role") {
        for statement in role_statements(&stack, role) {
            let actions = strings(&statement["Action"]);
            assert!(
                !actions.iter().any(|a| a.starts_with("kms:")),
                "{role}: {statement}"
            );
        }
    }
}

/// The stream carries new images only: every deployed consumer reads the new image (the
/// projection and the example consumer `TableChange::NewEvent`, the Pipe `dynamodb.NewImage`).
#[test]
fn the_stream_carries_only_what_the_consumers_read() {
    let stack = deploy(&EVERYTHING[1..]);
    let view = &stack.properties("EventsTable")["StreamSpecification"]["StreamViewType"];
    assert_eq!(text_of(view), "NEW_IMAGE");
    let template = serde_json::to_string(&stack.resources).unwrap();
    assert!(
        !template.contains("OldImage"),
        "a consumer reads old images"
    );
    let kept = deploy(&[("StreamViewType", "NEW_AND_OLD_IMAGES")]);
    let view = &kept.properties("EventsTable")["StreamSpecification"]["StreamViewType"];
    assert_eq!(text_of(view), "NEW_AND_OLD_IMAGES");
}
