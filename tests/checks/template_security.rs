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
