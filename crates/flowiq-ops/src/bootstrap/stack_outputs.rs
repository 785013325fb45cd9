//! The deployed stack's outputs (template.yaml `Outputs`), read with CloudFormation
//! `DescribeStacks`.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// The receiver's API root, without the `/webhooks/…` route.
pub const WEBHOOK_BASE_URL_OUTPUT: &str = "WebhookBaseUrl";
/// The Secrets Manager secret holding the token (JSON key `token`).
pub const WEBHOOK_TOKEN_SECRET_ARN_OUTPUT: &str = "WebhookTokenSecretArn";
/// The DynamoDB table (events, and the registration records).
pub const TABLE_NAME_OUTPUT: &str = "TableName";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StackError {
    #[error(
        "CloudFormation stack {stack:?} does not exist in region {region}: deploy it with `sam \
         deploy`, or pass --stack-name (and --region) for the stack you deployed"
    )]
    NotFound { stack: String, region: String },
    #[error(
        "stack {stack:?} (status {status}) has no output {output:?}: is it deployed from this \
         project's template.yaml, and has the deployment finished? Otherwise give it with {flag}"
    )]
    MissingOutput {
        stack: String,
        status: String,
        output: String,
        flag: &'static str,
    },
    #[error(
        "cannot describe CloudFormation stack {stack:?} in region {region} (check your AWS \
         credentials, e.g. `aws sts get-caller-identity`): {message}"
    )]
    Aws {
        stack: String,
        region: String,
        message: String,
    },
}

/// A stack's outputs by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutputs {
    stack: String,
    status: String,
    outputs: BTreeMap<String, String>,
}

impl StackOutputs {
    pub fn new(
        stack: impl Into<String>,
        status: impl Into<String>,
        outputs: BTreeMap<String, String>,
    ) -> Self {
        StackOutputs {
            stack: stack.into(),
            status: status.into(),
            outputs,
        }
    }

    pub fn stack_name(&self) -> &str {
        &self.stack
    }

    /// The output's value; `flag` names the option that replaces it, for the error message.
    pub fn require(&self, output: &str, flag: &'static str) -> Result<&str, StackError> {
        self.outputs
            .get(output)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| StackError::MissingOutput {
                stack: self.stack.clone(),
                status: self.status.clone(),
                output: output.to_owned(),
                flag,
            })
    }
}

/// `DescribeStacks` for one stack, in the client's region.
pub async fn describe_stack_outputs(
    client: &aws_sdk_cloudformation::Client,
    stack_name: &str,
) -> Result<StackOutputs, StackError> {
    let region = client
        .config()
        .region()
        .map_or_else(|| "(none)".to_owned(), |r| r.to_string());
    let not_found = || StackError::NotFound {
        stack: stack_name.to_owned(),
        region: region.clone(),
    };
    let output = client
        .describe_stacks()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|err| {
            // CloudFormation answers a missing stack with a ValidationError
            // "Stack with id <name> does not exist".
            if let SdkError::ServiceError(service) = &err
                && service.err().code() == Some("ValidationError")
                && service
                    .err()
                    .message()
                    .is_some_and(|m| m.contains("does not exist"))
            {
                return not_found();
            }
            StackError::Aws {
                stack: stack_name.to_owned(),
                region: region.clone(),
                message: DisplayErrorContext(&err).to_string(),
            }
        })?;
    let stack = output.stacks().first().ok_or_else(not_found)?;
    let outputs = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let status = stack
        .stack_status()
        .map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned());
    Ok(StackOutputs::new(
        stack.stack_name().unwrap_or(stack_name),
        status,
        outputs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_output_names_the_output_the_stack_and_the_flag() {
        let outputs = StackOutputs::new(
            "flowiq-webhooks",
            "UPDATE_COMPLETE",
            BTreeMap::from([
                ("TableName".to_owned(), "t".to_owned()),
                ("WebhookBaseUrl".to_owned(), " ".to_owned()),
            ]),
        );
        assert_eq!(outputs.require(TABLE_NAME_OUTPUT, "--table-name"), Ok("t"));
        let err = outputs
            .require(WEBHOOK_BASE_URL_OUTPUT, "--url")
            .unwrap_err();
        let text = err.to_string();
        for part in [
            "\"flowiq-webhooks\"",
            "UPDATE_COMPLETE",
            "\"WebhookBaseUrl\"",
            "--url",
        ] {
            assert!(text.contains(part), "{text}");
        }
    }
}
