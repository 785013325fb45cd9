//! The resources `flowiq-provision` creates, read from template.yaml (the single source of truth;
//! nothing here repeats their shape) by the one evaluator of the template (`flowiq_template`),
//! strictly: every parameter at its default (or a value the tool's flags set), `!GetAtt R.Arn`
//! the ARN of a resource this tool created (or will name), `!Ref` of a secret its ARN,
//! the pseudo parameters the account's. Any other reference, an intrinsic the evaluator does not
//! know, or a property the tool does not apply is an error: a template change never goes
//! unnoticed.

use std::collections::BTreeMap;

use flowiq_template::{Attributes, Scope};
use serde::Deserialize;
use serde_json::Value as Json;

pub use flowiq_template::TemplateError;
pub use flowiq_template::events_table::{EVENTS_TABLE, KeyElement, TableProperties};

pub const SPILL_QUEUE: &str = "SpillQueue";
pub const SPILL_DEAD_LETTER_QUEUE: &str = "SpillDeadLetterQueue";
pub const WEBHOOK_FUNCTION_ROLE: &str = "WebhookFunctionRole";
/// The drain function's role: SAM creates it; without SAM its ARN only appears in the spill
/// queue's policy.
pub const SPILL_DRAIN_FUNCTION_ROLE: &str = "SpillDrainFunctionRole";
pub const SPILL_QUEUE_POLICY: &str = "SpillQueuePolicy";
pub const SPILL_DEAD_LETTER_QUEUE_POLICY: &str = "SpillDeadLetterQueuePolicy";
/// The template's list of principals that may use the spill queues besides the functions.
pub const SPILL_QUEUE_OPERATOR_ARNS: &str = "SpillQueueOperatorArns";
/// Without SAM, Lambda's default log group `/aws/lambda/<function>` plays its part.
pub const WEBHOOK_FUNCTION_LOG_GROUP: &str = "WebhookFunctionLogGroup";
/// Without SAM, a secret named `<function>-token` plays its part (`!Ref` of a secret is its ARN).
pub const WEBHOOK_TOKEN_SECRET: &str = "WebhookTokenSecret";
/// Without SAM, a secret named `<function>-contact-key` plays its part.
pub const CONTACT_KEY_SECRET: &str = "ContactKeySecret";

/// The ARN each `!GetAtt <logical id>.Arn` stands for (and the secrets' `!Ref`), and the
/// value of each pseudo parameter the tool knows (`AWS::Partition`, `AWS::Region`,
/// `AWS::AccountId`, from the table's ARN).
pub type Arns = BTreeMap<&'static str, String>;

#[derive(Debug, Clone)]
pub struct Template {
    template: flowiq_template::Template,
    /// Parameter values other than the defaults.
    parameters: Vec<(String, String)>,
}

/// A queue policy: which queue (logical id) and the policy document, ready for SQS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePolicy {
    pub queue: String,
    pub document: Json,
}

impl Template {
    /// The repository's template.yaml, compiled in: the tool provisions what the template it was
    /// built with defines.
    pub fn repository() -> Self {
        let template = flowiq_template::Template::repository();
        Template {
            template,
            parameters: Vec::new(),
        }
    }

    pub fn parse(yaml: &str) -> Result<Self, TemplateError> {
        let template = flowiq_template::Template::parse(yaml)?;
        Ok(Template {
            template,
            parameters: Vec::new(),
        })
    }

    /// The template with `name` set to `value` instead of its default: a value the template
    /// does not allow is an error.
    pub fn with_parameter(mut self, name: &str, value: &str) -> Result<Self, TemplateError> {
        self.parameters.push((name.to_owned(), value.to_owned()));
        self.scope(Attributes::Placeholders)?;
        Ok(self)
    }

    fn scope(&self, attributes: Attributes) -> Result<Scope<'_>, TemplateError> {
        let overrides: Vec<(&str, &str)> = (self.parameters.iter())
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        self.template.scope(&overrides, attributes)
    }

    /// Exactly what `arns` says: `!GetAtt X.Arn`, the secrets' `!Ref`, the pseudo parameters.
    fn known(&self, arns: &Arns) -> Result<Scope<'_>, TemplateError> {
        let mut known = BTreeMap::new();
        for (&name, value) in arns {
            if name.starts_with("AWS::")
                || [WEBHOOK_TOKEN_SECRET, CONTACT_KEY_SECRET].contains(&name)
            {
                known.insert(name.to_owned(), value.clone());
            }
            if !name.starts_with("AWS::") {
                known.insert(format!("{name}.Arn"), value.clone());
            }
        }
        self.scope(Attributes::Known(known))
    }

    /// A queue policy's queue (its one `Queues: [!Ref Queue]`) and `PolicyDocument`, evaluated.
    pub fn queue_policy(
        &self,
        logical_id: &str,
        arns: &Arns,
    ) -> Result<QueuePolicy, TemplateError> {
        // With placeholders, a queue's `!Ref` is its logical id.
        let queues = (self.scope(Attributes::Placeholders)?).property(logical_id, "Queues")?;
        let Some([Json::String(queue)]) = queues.as_array().map(Vec::as_slice) else {
            let message = format!(
                "{logical_id}.Queues is not [!Ref <one queue>]: teach flowiq-provision the change"
            );
            return Err(TemplateError::new(message));
        };
        let document = self.known(arns)?.property(logical_id, "PolicyDocument")?;
        Ok(QueuePolicy {
            queue: queue.clone(),
            document,
        })
    }

    /// `EventsTable`'s properties.
    pub fn table(&self) -> Result<TableProperties, TemplateError> {
        self.known(&Arns::new())?.typed(EVENTS_TABLE)
    }

    /// A queue's properties, as SQS queue attributes (name → value; `RedrivePolicy` as JSON).
    pub fn queue(
        &self,
        logical_id: &str,
        arns: &Arns,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        let Json::Object(properties) = self.resolve(logical_id, arns)? else {
            let message = format!("{logical_id}'s Properties are not a mapping");
            return Err(TemplateError::new(message));
        };
        let text = |value| match value {
            Json::String(s) => s,
            other => other.to_string(),
        };
        Ok(properties
            .into_iter()
            .map(|(name, value)| (name, text(value)))
            .collect())
    }

    /// `WebhookFunctionRole`'s properties.
    pub fn role(&self, arns: &Arns) -> Result<RoleProperties, TemplateError> {
        self.known(arns)?.typed(WEBHOOK_FUNCTION_ROLE)
    }

    /// `Resources.<logical_id>.Properties`, evaluated.
    pub fn resolve(&self, logical_id: &str, arns: &Arns) -> Result<Json, TemplateError> {
        self.known(arns)?.properties(logical_id)
    }
}

/// `WebhookFunctionRole`'s properties: the trust policy and the inline policies, as JSON
/// documents ready for IAM.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RoleProperties {
    pub assume_role_policy_document: Json,
    #[serde(default)]
    pub policies: Vec<InlinePolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InlinePolicy {
    pub policy_name: String,
    pub policy_document: Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arns() -> Arns {
        [
            (EVENTS_TABLE, "arn:table"),
            (SPILL_QUEUE, "arn:queue"),
            (SPILL_DEAD_LETTER_QUEUE, "arn:dlq"),
            (WEBHOOK_FUNCTION_LOG_GROUP, "arn:logs:*"),
            (WEBHOOK_TOKEN_SECRET, "arn:secret"),
            (CONTACT_KEY_SECRET, "arn:contact-key"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect()
    }

    /// Every resource the tool provisions evaluates: a template change that the tool does not
    /// apply fails here first.
    #[test]
    fn the_repository_template_evaluates_at_its_defaults() {
        let template = Template::repository();
        // Its properties are checked in flowiq_template::events_table.
        template.table().unwrap();

        let queue = template.queue(SPILL_QUEUE, &arns()).unwrap();
        let redrive: Json = serde_json::from_str(&queue["RedrivePolicy"]).unwrap();
        assert_eq!(redrive["deadLetterTargetArn"], "arn:dlq");
        // A parameter is a string, as CloudFormation passes it (SQS takes either).
        assert_eq!(redrive["maxReceiveCount"], "10", "{redrive}");
        assert_eq!(queue["SqsManagedSseEnabled"], "true");
        assert!(
            template
                .queue(SPILL_DEAD_LETTER_QUEUE, &Arns::new())
                .is_ok()
        );

        assert!(
            template.role(&Arns::new()).is_err(),
            "the secret's ARN is needed"
        );
        let role = template.role(&arns()).unwrap();
        let resources: Vec<&Json> = role
            .policies
            .iter()
            .flat_map(|p| p.policy_document["Statement"].as_array().unwrap())
            .map(|s| &s["Resource"])
            .collect();
        assert!(resources.contains(&&json!("arn:table")), "{resources:?}");
        assert!(resources.contains(&&json!("arn:logs:*")), "{resources:?}");
        assert_eq!(
            role.assume_role_policy_document["Statement"][0]["Principal"],
            json!({"Service": "lambda.amazonaws.com"})
        );
    }

    /// The ARNs stand for `!GetAtt X.Arn`, the secret's `!Ref` and the pseudo parameters, and
    /// for nothing else.
    #[test]
    fn what_the_tool_does_not_know_is_an_error_naming_where() {
        let template = |properties: &str| {
            Template::parse(&format!(
                "Resources:\n  Q: {{Type: AWS::SQS::Queue}}\n  Other: {{Type: T}}\n\
                 \x20 {WEBHOOK_TOKEN_SECRET}: {{Type: AWS::SecretsManager::Secret}}\n\
                 \x20 R:\n    Type: T\n    Properties:\n{properties}"
            ))
            .unwrap()
        };
        let arns: Arns = [
            ("AWS::AccountId", "123456789012"),
            ("Q", "arn:q"),
            (WEBHOOK_TOKEN_SECRET, "arn:secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
        let resolved = template(&format!(
            "      A: !Sub \"arn:iam::${{AWS::AccountId}}:${{Q.Arn}}\"\n\
             \x20     B: !Ref {WEBHOOK_TOKEN_SECRET}\n      C: !GetAtt Q.Arn\n"
        ))
        .resolve("R", &arns)
        .unwrap();
        assert_eq!(
            resolved,
            json!({"A": "arn:iam::123456789012:arn:q", "B": "arn:secret", "C": "arn:q"})
        );
        for (properties, expected) in [
            ("      A: !Ref Q\n", "!Ref Q: its value is not known here"),
            (
                "      A: !Sub \"${AWS::StackId}\"\n",
                "AWS::StackId: no value for it is known here",
            ),
            (
                "      A: !GetAtt Other.Arn\n",
                "!GetAtt Other.Arn: its value is not known here",
            ),
            (
                "      A: !GetAtt Q.QueueName\n",
                "!GetAtt Q.QueueName: its value is not known here",
            ),
            (
                "      A: [!Base64 x]\n",
                "Resources.R.Properties.A[0]: !Base64 is not an intrinsic function evaluated",
            ),
        ] {
            let message = template(properties)
                .resolve("R", &arns)
                .unwrap_err()
                .to_string();
            assert!(message.contains(expected), "{message}");
        }
        let unknown = Template::parse(
            "Resources:\n  EventsTable:\n    Properties:\n      BillingMode: X\n      TableClass: STANDARD\n",
        )
        .unwrap()
        .table()
        .unwrap_err()
        .to_string();
        assert!(unknown.contains("unknown field `TableClass`"), "{unknown}");
    }
}
