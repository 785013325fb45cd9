//! The spill queues as template.yaml's `SpillDeadLetterQueue` and `SpillQueue` define them: the
//! template's queue properties are SQS queue attributes of the same names. Created when missing;
//! an attribute that differs is set back to the template's value (a queue's attributes can change
//! in place, and its messages stay). Each queue's policy (`SpillQueuePolicy`,
//! `SpillDeadLetterQueuePolicy`) is set the same way, once the roles it names exist
//! ([`ensure_policy`]).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

use super::template::TemplateError;
use super::{ProvisionError, aws_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub url: String,
    pub arn: String,
    pub changes: Vec<String>,
}

/// `attributes` as [`super::template::Template::queue`] gives them.
pub async fn ensure(
    client: &Client,
    name: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<Queue, ProvisionError> {
    let mut wanted = HashMap::new();
    for (attribute, value) in attributes {
        if !QueueAttributeName::values().contains(&attribute.as_str()) {
            let message = format!("queue property {attribute} is not an SQS queue attribute");
            return Err(TemplateError::new(message).into());
        }
        wanted.insert(QueueAttributeName::from(attribute.as_str()), value.clone());
    }
    let mut changes = Vec::new();
    let url = match client.get_queue_url().queue_name(name).send().await {
        Ok(found) => found.queue_url.unwrap_or_default(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_queue_does_not_exist()) =>
        {
            let created = (client.create_queue().queue_name(name))
                .set_attributes(Some(wanted.clone()))
                .send()
                .await
                .map_err(|e| aws_error(&format!("create queue {name}"), &e))?;
            changes.push("created".to_owned());
            created.queue_url.unwrap_or_default()
        }
        Err(e) => return Err(aws_error(&format!("look up queue {name}"), &e)),
    };
    let found = (client.get_queue_attributes().queue_url(&url))
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_error(&format!("read the attributes of queue {name}"), &e))?;
    let found = found.attributes.unwrap_or_default();
    let differing: HashMap<QueueAttributeName, String> = wanted
        .into_iter()
        .filter(|(attribute, value)| !same(value, found.get(attribute).map_or("", String::as_str)))
        .collect();
    if !differing.is_empty() {
        let mut names: Vec<&str> = differing.keys().map(QueueAttributeName::as_str).collect();
        names.sort_unstable();
        changes.push(format!("set {}", names.join(", ")));
        (client.set_queue_attributes().queue_url(&url))
            .set_attributes(Some(differing))
            .send()
            .await
            .map_err(|e| aws_error(&format!("set the attributes of queue {name}"), &e))?;
    }
    let arn = found
        .get(&QueueAttributeName::QueueArn)
        .cloned()
        .ok_or_else(|| ProvisionError::Aws(format!("queue {name} has no QueueArn attribute")))?;
    Ok(Queue { url, arn, changes })
}

/// Sets the queue's `Policy` attribute to `policy` unless it is that already. A queue that had
/// another policy (or none: IAM alone decided who could send) may hold messages that the webhook
/// function did not send, and the drain would store each as an authenticated delivery: the
/// policy is still replaced at once (nothing more gets in), but the run then stops (exit 8) so
/// that someone looks at them first. The next run finds the policy in place and goes on.
pub async fn ensure_policy(
    client: &Client,
    name: &str,
    url: &str,
    policy: &serde_json::Value,
) -> Result<Vec<String>, ProvisionError> {
    let counts = [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ];
    let found = (client.get_queue_attributes().queue_url(url))
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_error(&format!("read the policy of queue {name}"), &e))?;
    let found = found.attributes.unwrap_or_default();
    let current = found
        .get(&QueueAttributeName::Policy)
        .filter(|p| !p.is_empty())
        .map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap_or_default());
    if current
        .as_ref()
        .is_some_and(|current| same_policy(current, policy))
    {
        return Ok(Vec::new());
    }
    (client.set_queue_attributes().queue_url(url))
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .map_err(|e| aws_error(&format!("set the policy of queue {name}"), &e))?;
    let held: u64 = counts
        .iter()
        .filter_map(|count| found.get(count)?.parse::<u64>().ok())
        .sum();
    let before = if current.is_some() {
        "another policy"
    } else {
        "no policy"
    };
    if held > 0 {
        return Err(ProvisionError::Differs(format!(
            "queue {name} had {before}, so principals other than the webhook function may have \
             sent to it; its policy is template.yaml's now, but it holds {held} message(s) from \
             before, which the drain would store as authenticated deliveries. Look at them \
             (aws sqs receive-message --queue-url {url} --visibility-timeout 0), purge what the \
             webhook function did not send, then run flowiq-provision again \
             (docs/security.md#the-spill-queue)"
        )));
    }
    Ok(vec![format!("policy set (it had {before})")])
}

/// The same policy, as SQS may return it: a one-element list is the same as its element.
fn same_policy(found: &serde_json::Value, expected: &serde_json::Value) -> bool {
    use serde_json::Value;
    fn normalized(value: &Value) -> Value {
        match value {
            Value::Array(items) if items.len() == 1 => normalized(&items[0]),
            Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), normalized(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    normalized(found) == normalized(expected)
}

/// The same value: JSON objects (`RedrivePolicy`) compared key by key, numbers as text (SQS gives
/// `"maxReceiveCount":10` or `"10"`).
fn same(expected: &str, found: &str) -> bool {
    let object = |s: &str| match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Object(map)) => Some(
            map.into_iter()
                .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect::<BTreeMap<_, _>>(),
        ),
        _ => None,
    };
    match (object(expected), object(found)) {
        (Some(expected), Some(found)) => expected == found,
        _ => expected == found,
    }
}

#[cfg(test)]
mod tests {
    use super::{same, same_policy};

    #[test]
    fn policies_compare_as_documents() {
        let ours =
            serde_json::json!({"Statement": [{"Action": ["sqs:SendMessage"], "Effect": "Deny"}]});
        let returned =
            serde_json::json!({"Statement": {"Effect": "Deny", "Action": "sqs:SendMessage"}});
        assert!(same_policy(&returned, &ours));
        let wider =
            serde_json::json!({"Statement": [{"Action": "sqs:SendMessage", "Effect": "Allow"}]});
        assert!(!same_policy(&wider, &ours));
    }

    #[test]
    fn values_compare_as_sqs_returns_them() {
        let ours = r#"{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":10}"#;
        assert!(same(
            ours,
            r#"{"maxReceiveCount":"10", "deadLetterTargetArn":"arn:dlq"}"#
        ));
        assert!(!same(
            ours,
            r#"{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":5}"#
        ));
        assert!(same("1209600", "1209600"));
        assert!(!same("true", ""));
    }
}
