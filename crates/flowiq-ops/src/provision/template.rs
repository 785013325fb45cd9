//! The resources `flowiq-provision` creates, read from template.yaml (the single source of truth;
//! nothing here repeats their shape): each resource's `Properties` evaluated as CloudFormation
//! would with every parameter at its default (or a value the tool's flags set): `!Ref Parameter`
//! is the parameter's value, `!If` follows the template's `Conditions`, `!Ref AWS::NoValue` drops
//! the property, `!GetAtt Resource.Arn` is the ARN of a resource this tool created (or will
//! name), `!Ref AWS::AccountId` and the other pseudo parameters are the account's, and `!Sub` /
//! `!Split` combine those. Any other intrinsic, or a property the tool does not apply, is an
//! error: a template change never goes unnoticed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use serde_norway::Value as Yaml;

/// The logical ids of the resources the tool provisions or refers to.
pub const EVENTS_TABLE: &str = "EventsTable";
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
/// The pseudo parameters the tool knows (from the table's ARN): keys of [`Arns`] too.
pub const PSEUDO_PARAMETERS: [&str; 3] = ["AWS::Partition", "AWS::Region", "AWS::AccountId"];
/// Without SAM, Lambda's default log group `/aws/lambda/<function>` plays its part.
pub const WEBHOOK_FUNCTION_LOG_GROUP: &str = "WebhookFunctionLogGroup";
/// Without SAM, a secret named `<function>-token` plays its part (`!Ref` of a secret is its ARN).
pub const WEBHOOK_TOKEN_SECRET: &str = "WebhookTokenSecret";
/// Without SAM, a secret named `<function>-contact-key` plays its part.
pub const CONTACT_KEY_SECRET: &str = "ContactKeySecret";

/// A template the tool cannot apply: a bug in the tool or the template, not in the user's input.
#[derive(Debug, thiserror::Error)]
#[error("template.yaml: {0}")]
pub struct TemplateError(String);

impl TemplateError {
    pub fn new(message: impl Into<String>) -> Self {
        TemplateError(message.into())
    }
}

fn error(message: impl Into<String>) -> TemplateError {
    TemplateError::new(message)
}

/// The ARN each `!GetAtt <logical id>.Arn` stands for, and the value of each pseudo parameter
/// ([`PSEUDO_PARAMETERS`]).
pub type Arns = BTreeMap<&'static str, String>;

#[derive(Debug, Clone)]
pub struct Template {
    root: Yaml,
    /// Parameter values other than the defaults.
    parameters: BTreeMap<String, String>,
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
        Self::parse(include_str!("../../../../template.yaml"))
            .expect("the repository's template.yaml parses (tested)")
    }

    pub fn parse(yaml: &str) -> Result<Self, TemplateError> {
        let root = serde_norway::from_str(yaml).map_err(|e| error(e.to_string()))?;
        Ok(Template {
            root,
            parameters: BTreeMap::new(),
        })
    }

    /// The template with `name` set to `value` instead of its default.
    pub fn with_parameter(mut self, name: &str, value: &str) -> Result<Self, TemplateError> {
        if self
            .root
            .get("Parameters")
            .and_then(|p| p.get(name))
            .is_none()
        {
            return Err(error(format!("no parameter {name}")));
        }
        self.parameters.insert(name.to_owned(), value.to_owned());
        Ok(self)
    }

    /// A queue policy's queue (its one `Queues: [!Ref Queue]`) and `PolicyDocument`, evaluated.
    pub fn queue_policy(
        &self,
        logical_id: &str,
        arns: &Arns,
    ) -> Result<QueuePolicy, TemplateError> {
        let properties = self
            .root
            .get("Resources")
            .and_then(|r| r.get(logical_id))
            .and_then(|r| r.get("Properties"))
            .ok_or_else(|| error(format!("no Resources.{logical_id}.Properties")))?;
        let queue = match properties.get("Queues").and_then(Yaml::as_sequence) {
            Some(queues) if queues.len() == 1 => match &queues[0] {
                Yaml::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
                _ => None,
            },
            _ => None,
        };
        let queue = queue.ok_or_else(|| {
            error(format!(
                "{logical_id}.Queues is not [!Ref <one queue>]: teach flowiq-provision the change"
            ))
        })?;
        let path = format!("Resources.{logical_id}.Properties.PolicyDocument");
        let document = properties
            .get("PolicyDocument")
            .ok_or_else(|| error(format!("no {path}")))?;
        let document = self
            .evaluate(document, arns, &path)?
            .ok_or_else(|| error(format!("{path} is AWS::NoValue")))?;
        Ok(QueuePolicy {
            queue: queue.to_owned(),
            document,
        })
    }

    /// `EventsTable`'s properties.
    pub fn table(&self) -> Result<TableProperties, TemplateError> {
        self.typed(EVENTS_TABLE, &Arns::new())
    }

    /// A queue's properties, as SQS queue attributes (name → value; `RedrivePolicy` as JSON).
    pub fn queue(
        &self,
        logical_id: &str,
        arns: &Arns,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        let Json::Object(properties) = self.resolve(logical_id, arns)? else {
            return Err(error(format!(
                "{logical_id}'s Properties are not a mapping"
            )));
        };
        Ok(properties
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                (name, value)
            })
            .collect())
    }

    /// `WebhookFunctionRole`'s properties.
    pub fn role(&self, arns: &Arns) -> Result<RoleProperties, TemplateError> {
        self.typed(WEBHOOK_FUNCTION_ROLE, arns)
    }

    fn typed<T: DeserializeOwned>(
        &self,
        logical_id: &str,
        arns: &Arns,
    ) -> Result<T, TemplateError> {
        serde_json::from_value(self.resolve(logical_id, arns)?).map_err(|e| {
            error(format!(
                "{logical_id}'s Properties are not what flowiq-provision applies ({e}): \
                 teach it the change (crates/flowiq-ops/src/provision)"
            ))
        })
    }

    /// `Resources.<logical_id>.Properties`, evaluated.
    pub fn resolve(&self, logical_id: &str, arns: &Arns) -> Result<Json, TemplateError> {
        let properties = self
            .root
            .get("Resources")
            .and_then(|r| r.get(logical_id))
            .and_then(|r| r.get("Properties"))
            .ok_or_else(|| error(format!("no Resources.{logical_id}.Properties")))?;
        let path = format!("Resources.{logical_id}.Properties");
        self.evaluate(properties, arns, &path)?
            .ok_or_else(|| error(format!("{path} is AWS::NoValue")))
    }

    /// `None`: `AWS::NoValue`.
    fn evaluate(
        &self,
        value: &Yaml,
        arns: &Arns,
        path: &str,
    ) -> Result<Option<Json>, TemplateError> {
        Ok(Some(match value {
            Yaml::Null => Json::Null,
            Yaml::Bool(b) => Json::Bool(*b),
            Yaml::Number(n) => {
                serde_json::to_value(n).map_err(|e| error(format!("{path}: {e}")))?
            }
            Yaml::String(s) => Json::String(s.clone()),
            Yaml::Sequence(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.extend(self.evaluate(item, arns, &format!("{path}[{i}]"))?);
                }
                Json::Array(out)
            }
            Yaml::Mapping(mapping) => {
                let mut out = serde_json::Map::new();
                for (key, item) in mapping {
                    let key = key
                        .as_str()
                        .ok_or_else(|| error(format!("{path}: a key that is not a string")))?;
                    if let Some(item) = self.evaluate(item, arns, &format!("{path}.{key}"))? {
                        out.insert(key.to_owned(), item);
                    }
                }
                Json::Object(out)
            }
            Yaml::Tagged(tagged) => {
                let argument = &tagged.value;
                let tag = &tagged.tag;
                if *tag == "Ref" {
                    match argument.as_str() {
                        Some("AWS::NoValue") => return Ok(None),
                        // A resource whose Ref is its ARN (a secret).
                        Some(name) if arns.contains_key(name) => Json::String(arns[name].clone()),
                        Some(name) if name.starts_with("AWS::") => {
                            Json::String(pseudo_parameter(name, arns, path)?)
                        }
                        Some(name) => self.parameter_default(name, path)?,
                        None => return Err(error(format!("{path}: !Ref of a non-string"))),
                    }
                } else if *tag == "GetAtt" {
                    let target = match argument {
                        Yaml::String(s) => s.clone(),
                        Yaml::Sequence(parts) => parts
                            .iter()
                            .filter_map(Yaml::as_str)
                            .collect::<Vec<_>>()
                            .join("."),
                        _ => String::new(),
                    };
                    let arn = target
                        .strip_suffix(".Arn")
                        .and_then(|resource| arns.get(resource));
                    let arn = arn.ok_or_else(|| {
                        error(format!(
                            "{path}: !GetAtt {target} is not an ARN flowiq-provision knows"
                        ))
                    })?;
                    Json::String(arn.clone())
                } else if *tag == "Sub" {
                    let template = argument
                        .as_str()
                        .ok_or_else(|| error(format!("{path}: !Sub of a non-string")))?;
                    Json::String(self.substitute(template, arns, path)?)
                } else if *tag == "Split" {
                    let parts = argument.as_sequence().filter(|s| s.len() == 2);
                    let [separator, whole] = parts.map(|s| [&s[0], &s[1]]).ok_or_else(|| {
                        error(format!("{path}: !Split needs [separator, string]"))
                    })?;
                    let text = |v: &Yaml| match self.evaluate(v, arns, path)? {
                        Some(Json::String(s)) => Ok(s),
                        _ => Err(error(format!("{path}: !Split of a non-string"))),
                    };
                    let (separator, whole) = (text(separator)?, text(whole)?);
                    Json::Array(
                        whole
                            .split(separator.as_str())
                            .map(|part| Json::String(part.to_owned()))
                            .collect(),
                    )
                } else if *tag == "If" {
                    let branches = argument.as_sequence().filter(|s| s.len() == 3);
                    let [condition, then, otherwise] =
                        branches.map(|s| [&s[0], &s[1], &s[2]]).ok_or_else(|| {
                            error(format!("{path}: !If needs [condition, then, else]"))
                        })?;
                    let name = condition
                        .as_str()
                        .ok_or_else(|| error(format!("{path}: !If's condition is not a name")))?;
                    let branch = if self.condition(name, path)? {
                        then
                    } else {
                        otherwise
                    };
                    return self.evaluate(branch, arns, path);
                } else {
                    return Err(error(format!(
                        "{path}: {tag} is not an intrinsic function flowiq-provision evaluates"
                    )));
                }
            }
        }))
    }

    /// `!Sub`'s `${Name}`: a pseudo parameter, `Resource.Arn` or a parameter.
    fn substitute(&self, template: &str, arns: &Arns, path: &str) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| error(format!("{path}: !Sub with an unclosed ${{")))?;
            let name = &rest[start + 2..start + end];
            let value = if name.starts_with("AWS::") {
                pseudo_parameter(name, arns, path)?
            } else if let Some(resource) = name.strip_suffix(".Arn") {
                arns.get(resource).cloned().ok_or_else(|| {
                    error(format!(
                        "{path}: ${{{name}}} is not an ARN flowiq-provision knows"
                    ))
                })?
            } else {
                match self.parameter_default(name, path)? {
                    Json::String(s) => s,
                    other => other.to_string(),
                }
            };
            out.push_str(&value);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn parameter_default(&self, name: &str, path: &str) -> Result<Json, TemplateError> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(Json::String(value.clone()));
        }
        let default = self
            .root
            .get("Parameters")
            .and_then(|p| p.get(name))
            .and_then(|p| p.get("Default"))
            .ok_or_else(|| {
                error(format!(
                    "{path}: !Ref {name} is not a parameter with a Default"
                ))
            })?;
        self.evaluate(default, &Arns::new(), path)?.ok_or_else(|| {
            error(format!(
                "{path}: parameter {name}'s Default is AWS::NoValue"
            ))
        })
    }

    /// `Conditions.<name>`, every parameter at its default.
    fn condition(&self, name: &str, path: &str) -> Result<bool, TemplateError> {
        let condition = self
            .root
            .get("Conditions")
            .and_then(|c| c.get(name))
            .ok_or_else(|| error(format!("{path}: no condition {name}")))?;
        self.truth(condition, path)
    }

    fn truth(&self, value: &Yaml, path: &str) -> Result<bool, TemplateError> {
        let Yaml::Tagged(tagged) = value else {
            return Err(error(format!("{path}: a condition that is not a function")));
        };
        let (tag, argument) = (&tagged.tag, &tagged.value);
        let operands = argument
            .as_sequence()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if *tag == "Condition" {
            let name = argument
                .as_str()
                .ok_or_else(|| error(format!("{path}: !Condition of a non-string")))?;
            self.condition(name, path)
        } else if *tag == "Equals" && operands.len() == 2 {
            let text = |v: &Yaml| -> Result<String, TemplateError> {
                Ok(match self.evaluate(v, &Arns::new(), path)? {
                    Some(Json::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => String::new(),
                })
            };
            Ok(text(&operands[0])? == text(&operands[1])?)
        } else if *tag == "Not" && operands.len() == 1 {
            Ok(!self.truth(&operands[0], path)?)
        } else if *tag == "And" {
            operands
                .iter()
                .try_fold(true, |all, c| Ok(all && self.truth(c, path)?))
        } else if *tag == "Or" {
            operands
                .iter()
                .try_fold(false, |any, c| Ok(any || self.truth(c, path)?))
        } else {
            Err(error(format!(
                "{path}: condition function {tag} not evaluated"
            )))
        }
    }
}

fn pseudo_parameter(name: &str, arns: &Arns, path: &str) -> Result<String, TemplateError> {
    arns.get(name).cloned().ok_or_else(|| {
        error(format!(
            "{path}: {name} is not a value flowiq-provision knows"
        ))
    })
}

/// `EventsTable`'s properties, every one of them (an unknown one is an error).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TableProperties {
    pub billing_mode: String,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeyElement>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexDefinition>,
    pub stream_specification: Option<StreamSpecification>,
    pub time_to_live_specification: Option<TimeToLiveSpecification>,
    pub point_in_time_recovery_specification: Option<PointInTimeRecoverySpecification>,
    #[serde(rename = "SSESpecification")]
    pub sse_specification: Option<SseSpecification>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyElement {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IndexDefinition {
    pub index_name: String,
    pub key_schema: Vec<KeyElement>,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Projection {
    pub projection_type: String,
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct StreamSpecification {
    pub stream_view_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TimeToLiveSpecification {
    pub attribute_name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PointInTimeRecoverySpecification {
    pub point_in_time_recovery_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseSpecification {
    #[serde(rename = "SSEEnabled")]
    pub sse_enabled: bool,
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
        let table = template.table().unwrap();
        assert_eq!(table.billing_mode, "PAY_PER_REQUEST");
        assert!(!table.global_secondary_indexes.is_empty());
        assert!(table.stream_specification.is_some());
        assert!(table.time_to_live_specification.is_some_and(|t| t.enabled));
        assert_eq!(
            table.point_in_time_recovery_specification,
            Some(PointInTimeRecoverySpecification {
                point_in_time_recovery_enabled: true
            })
        );
        assert_eq!(
            table.sse_specification,
            Some(SseSpecification { sse_enabled: true })
        );

        let queue = template.queue(SPILL_QUEUE, &arns()).unwrap();
        let redrive: Json = serde_json::from_str(&queue["RedrivePolicy"]).unwrap();
        assert_eq!(redrive["deadLetterTargetArn"], "arn:dlq");
        assert!(redrive["maxReceiveCount"].is_u64(), "{redrive}");
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

    #[test]
    fn what_the_tool_cannot_evaluate_is_an_error_naming_where() {
        let template = |resources: &str| {
            Template::parse(&format!(
                "Parameters:\n  P:\n    Type: String\n    Default: x\n\
                 Conditions:\n  IsX: !Equals [!Ref P, x]\n\
                 Resources:\n  R:\n    Properties:\n{resources}"
            ))
            .unwrap()
        };
        let resolved = template(
            "      A: !If [IsX, !Ref P, other]\n      B: !If [IsX, !Ref AWS::NoValue, 1]\n",
        )
        .resolve("R", &Arns::new())
        .unwrap();
        assert_eq!(resolved, json!({"A": "x"}));
        let arns: Arns = [
            ("AWS::AccountId", "123456789012".to_owned()),
            ("Q", "arn:q".to_owned()),
        ]
        .into_iter()
        .collect();
        let resolved = template(
            "      A: !Sub \"arn:iam::${AWS::AccountId}:${P}/${Q.Arn}\"\n      B: !Split [\",\", \"a,b\"]\n",
        )
        .resolve("R", &arns)
        .unwrap();
        assert_eq!(
            resolved,
            json!({"A": "arn:iam::123456789012:x/arn:q", "B": ["a", "b"]})
        );
        for (properties, expected) in [
            (
                "      A: !Select [0, [x]]\n",
                "Resources.R.Properties.A: !Select is not an intrinsic",
            ),
            (
                "      A: !Sub \"${AWS::StackId}\"\n",
                "AWS::StackId is not a value flowiq-provision knows",
            ),
            (
                "      A: !GetAtt Other.Arn\n",
                "!GetAtt Other.Arn is not an ARN",
            ),
            (
                "      A: !Ref Q\n",
                "!Ref Q is not a parameter with a Default",
            ),
            ("      A: !If [Nope, 1, 2]\n", "no condition Nope"),
        ] {
            let message = template(properties)
                .resolve("R", &Arns::new())
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
