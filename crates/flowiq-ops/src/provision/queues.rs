//! The spill queues as template.yaml's `SpillDeadLetterQueue` and `SpillQueue` define them: the
//! template's queue properties are SQS queue attributes of the same names. Created when missing;
//! an attribute that differs is set back to the template's value (a queue's attributes can change
//! in place, and its messages stay).

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
    use super::same;

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
