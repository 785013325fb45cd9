//! The spill queues as template.yaml's `SpillDeadLetterQueue` and `SpillQueue` define them: the
//! template's queue properties are SQS queue attributes of the same names. Created when missing;
//! an attribute that differs is set back to the template's value (a queue's attributes can change
//! in place, and its messages stay). Each queue's policy (`SpillQueuePolicy`,
//! `SpillDeadLetterQueuePolicy`) is set the same way, once the roles it names exist
//! ([`ensure_policy`]).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value as Json;

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
        Ok(found) => found.queue_url,
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
            created.queue_url
        }
        Err(e) => return Err(aws_error(&format!("look up queue {name}"), &e)),
    };
    let url = url.unwrap_or_default();
    let found = attributes_of(client, name, &url).await?;
    let found_value = |attribute: &QueueAttributeName| found.get(attribute).cloned();
    wanted.retain(|attribute, value| !same(value, &found_value(attribute).unwrap_or_default()));
    if !wanted.is_empty() {
        let mut names: Vec<&str> = wanted.keys().map(QueueAttributeName::as_str).collect();
        names.sort_unstable();
        changes.push(format!("set {}", names.join(", ")));
        (client.set_queue_attributes().queue_url(&url))
            .set_attributes(Some(wanted))
            .send()
            .await
            .map_err(|e| aws_error(&format!("set the attributes of queue {name}"), &e))?;
    }
    let arn = found.get(&QueueAttributeName::QueueArn).cloned();
    let arn =
        arn.ok_or_else(|| ProvisionError::Aws(format!("queue {name} has no QueueArn attribute")))?;
    Ok(Queue { url, arn, changes })
}

async fn attributes_of(
    client: &Client,
    name: &str,
    url: &str,
) -> Result<HashMap<QueueAttributeName, String>, ProvisionError> {
    let found = (client.get_queue_attributes().queue_url(url))
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_error(&format!("read the attributes of queue {name}"), &e))?;
    Ok(found.attributes.unwrap_or_default())
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
    policy: &Json,
) -> Result<Vec<String>, ProvisionError> {
    let found = attributes_of(client, name, url).await?;
    let current = found
        .get(&QueueAttributeName::Policy)
        .filter(|p| !p.is_empty());
    if current.is_some_and(|current| same(&policy.to_string(), current)) {
        return Ok(Vec::new());
    }
    (client.set_queue_attributes().queue_url(url))
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .map_err(|e| aws_error(&format!("set the policy of queue {name}"), &e))?;
    let counts = [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ];
    let held: u64 = (counts.iter())
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

/// The same attribute value, as SQS may return it: JSON documents (`RedrivePolicy`, `Policy`)
/// compared as documents, where a one-element list is its element and a number its text (SQS
/// gives `"maxReceiveCount":10` or `"10"`); anything else as text.
fn same(expected: &str, found: &str) -> bool {
    fn normalized(value: Json) -> Json {
        match value {
            Json::Array(mut items) if items.len() == 1 => normalized(items.remove(0)),
            Json::Array(items) => Json::Array(items.into_iter().map(normalized).collect()),
            Json::Object(map) => map.into_iter().map(|(k, v)| (k, normalized(v))).collect(),
            Json::Number(n) => Json::String(n.to_string()),
            other => other,
        }
    }
    match (serde_json::from_str(expected), serde_json::from_str(found)) {
        (Ok(expected), Ok(found)) => normalized(expected) == normalized(found),
        _ => expected == found,
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn policies_compare_as_documents() {
        let ours = r#"{"Statement": [{"Action": ["sqs:SendMessage"], "Effect": "Deny"}]}"#;
        let returned = r#"{"Statement": {"Effect": "Deny", "Action": "sqs:SendMessage"}}"#;
        assert!(same(ours, returned));
        let wider = r#"{"Statement": [{"Action": "sqs:SendMessage", "Effect": "Allow"}]}"#;
        assert!(!same(ours, wider));
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
