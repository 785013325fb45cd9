//! Finding the deployment, for every operator CLI: the flags that name it ([`DeploymentArgs`]),
//! the stack name (`--stack-name`, else `samconfig.toml`), the AWS configuration, the stack's
//! outputs (read once, when first needed: [`Deployment`]) and the table. Runs with the user's
//! credentials; the Lambda function's role plays no part. User docs: docs/bootstrap.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata};

pub const SAMCONFIG_FILE: &str = "samconfig.toml";
/// The stack name this project's samconfig.toml uses, for when it names none.
pub const DEFAULT_STACK_NAME: &str = "flowiq-webhooks";
/// The SAM CLI's default configuration environment (`--config-env`).
pub const DEFAULT_CONFIG_ENV: &str = "default";
/// The stack output naming the DynamoDB table.
pub const TABLE_NAME_OUTPUT: &str = "TableName";

/// The flags that find the deployment; `#[command(flatten)]` them into a CLI's arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct DeploymentArgs {
    /// CloudFormation stack whose outputs give the base URL, the token's secret and the table
    /// [default: stack_name in ./samconfig.toml, else flowiq-webhooks]
    #[arg(long, value_name = "NAME", value_parser = non_empty)]
    pub stack_name: Option<String>,

    /// samconfig.toml environment to take stack_name from (as `sam deploy --config-env`)
    #[arg(long, value_name = "ENV", default_value = DEFAULT_CONFIG_ENV)]
    pub config_env: String,

    /// AWS region of the stack [default: from the AWS configuration]
    #[arg(long, value_name = "REGION", value_parser = non_empty)]
    pub region: Option<String>,

    /// AWS profile to use [default: AWS_PROFILE, else the default profile]
    #[arg(long, value_name = "PROFILE", value_parser = non_empty)]
    pub profile: Option<String>,

    /// DynamoDB table for the registration records, instead of the stack output TableName
    #[arg(long, env = "TABLE_NAME", value_name = "TABLE", value_parser = non_empty)]
    pub table_name: Option<String>,
}

/// A flag's value, trimmed; an empty one is refused.
pub(crate) fn non_empty(value: &str) -> Result<String, &'static str> {
    match value.trim() {
        "" => Err("the value is empty"),
        value => Ok(value.to_owned()),
    }
}

/// A stack name and where it came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackName {
    pub name: String,
    /// `--stack-name`, `samconfig.toml [default.global.parameters]`, or the built-in default.
    pub source: String,
}

impl DeploymentArgs {
    /// `--stack-name`, else `stack_name` in `<dir>/samconfig.toml` (`[<env>.deploy.parameters]`,
    /// then `[<env>.global.parameters]`, as `sam deploy` reads it), else [`DEFAULT_STACK_NAME`].
    /// A missing file or key falls back; a file that cannot be read or parsed is an error.
    pub fn stack_name(&self, dir: &Path) -> Result<StackName, DeploymentError> {
        let found = |name: &str, source: String| {
            Ok(StackName {
                name: name.to_owned(),
                source,
            })
        };
        if let Some(name) = &self.stack_name {
            return found(name, "--stack-name".to_owned());
        }
        let path = dir.join(SAMCONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            read => read.map_err(|source| DeploymentError::ReadSamConfig {
                path: path.clone(),
                source,
            })?,
        };
        let config: toml::Table = text.parse().map_err(|e| samconfig_error(&path, &e))?;
        for command in ["deploy", "global"] {
            let section = format!("{}.{command}.parameters", self.config_env);
            let value = (config.get(&self.config_env))
                .and_then(|env| env.get(command)?.get("parameters")?.get("stack_name"));
            match value.map(|v| v.as_str().map(str::trim)) {
                None => {}
                Some(Some(name)) if !name.is_empty() => {
                    return found(name, format!("{SAMCONFIG_FILE} [{section}]"));
                }
                Some(_) => {
                    let problem = format!("stack_name in [{section}] is not a non-empty string");
                    return Err(samconfig_error(&path, &problem));
                }
            }
        }
        found(
            DEFAULT_STACK_NAME,
            format!("the default; no stack_name in ./{SAMCONFIG_FILE}"),
        )
    }
}

fn samconfig_error(path: &Path, problem: &dyn std::fmt::Display) -> DeploymentError {
    let problem = problem.to_string().trim_end().to_owned();
    DeploymentError::SamConfig {
        path: path.to_owned(),
        problem,
    }
}

/// The usual AWS configuration (environment, profile, SSO, …), with `--profile` and `--region`.
pub async fn load_sdk_config(args: &DeploymentArgs) -> SdkConfig {
    load_aws_config(args.profile.as_ref(), args.region.as_ref()).await
}

/// The usual AWS configuration, with a profile and a region if given (every CLI's
/// `--profile` and `--region`).
pub async fn load_aws_config(profile: Option<&String>, region: Option<&String>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}

/// Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("cannot read {}: {source}", path.display())]
    ReadSamConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} is not a usable SAM configuration: {problem}\n(fix it, since `sam deploy` reads it \
         too, or pass --stack-name)",
        path.display()
    )]
    SamConfig { path: PathBuf, problem: String },
    #[error(
        "no AWS region configured: pass --region, set AWS_REGION, or set a region in your AWS \
         profile"
    )]
    NoRegion,
    #[error(
        "CloudFormation stack {stack:?} does not exist in region {region}: deploy it with `sam \
         deploy`, or pass --stack-name (and --region) for the stack you deployed"
    )]
    StackNotFound { stack: String, region: String },
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

impl DeploymentError {
    /// A local configuration mistake (samconfig.toml, no region), as opposed to an AWS call that
    /// failed or a stack that lacks something.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            Self::ReadSamConfig { .. } | Self::SamConfig { .. } | Self::NoRegion
        )
    }
}

/// A stack's outputs by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutputs {
    stack: String,
    status: String,
    outputs: BTreeMap<String, String>,
}

impl StackOutputs {
    /// The output's value, if the stack has it and it is not blank.
    pub fn get(&self, output: &str) -> Option<&str> {
        let value = self.outputs.get(output).map(String::as_str);
        value.filter(|v| !v.trim().is_empty())
    }

    /// The output's value; `flag` names the option that replaces it, for the error message.
    pub fn require(&self, output: &str, flag: &'static str) -> Result<&str, DeploymentError> {
        self.get(output)
            .ok_or_else(|| DeploymentError::MissingOutput {
                stack: self.stack.clone(),
                status: self.status.clone(),
                output: output.to_owned(),
                flag,
            })
    }
}

/// CloudFormation `DescribeStacks` for one stack, in the client's region.
pub async fn describe_stack_outputs(
    client: &aws_sdk_cloudformation::Client,
    stack_name: &str,
) -> Result<StackOutputs, DeploymentError> {
    let region = client.config().region();
    let region = region.map_or_else(|| "(none)".to_owned(), ToString::to_string);
    let answer = client.describe_stacks().stack_name(stack_name).send().await;
    let stack = match answer {
        Ok(answer) => answer.stacks.unwrap_or_default().into_iter().next(),
        // CloudFormation answers a missing stack with a ValidationError
        // "Stack with id <name> does not exist".
        Err(err)
            if err.code() == Some("ValidationError")
                && err.message().is_some_and(|m| m.contains("does not exist")) =>
        {
            None
        }
        Err(err) => {
            let message = DisplayErrorContext(&err).to_string();
            let stack = stack_name.to_owned();
            return Err(DeploymentError::Aws {
                stack,
                region,
                message,
            });
        }
    };
    let Some(stack) = stack else {
        let stack = stack_name.to_owned();
        return Err(DeploymentError::StackNotFound { stack, region });
    };
    let outputs = (stack.outputs().iter())
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    Ok(StackOutputs {
        stack: stack.stack_name().unwrap_or(stack_name).to_owned(),
        status: stack
            .stack_status()
            .map_or("unknown", |s| s.as_str())
            .to_owned(),
        outputs,
    })
}

/// The deployment a CLI works on: its flags, the directory holding samconfig.toml, and the
/// stack's outputs, read at most once and only when a value needs them (with every value given
/// as a flag, the stack is never read).
#[derive(Debug)]
pub struct Deployment {
    args: DeploymentArgs,
    dir: PathBuf,
    cloudformation: aws_sdk_cloudformation::Client,
    outputs: Option<StackOutputs>,
}

impl Deployment {
    pub fn new(
        args: DeploymentArgs,
        dir: impl Into<PathBuf>,
        cloudformation: aws_sdk_cloudformation::Client,
    ) -> Self {
        let dir = dir.into();
        Deployment {
            args,
            dir,
            cloudformation,
            outputs: None,
        }
    }

    /// The stack's outputs, read on the first call.
    pub async fn outputs(&mut self) -> Result<&StackOutputs, DeploymentError> {
        if self.outputs.is_none() {
            let stack = self.args.stack_name(&self.dir)?;
            let (name, source) = (&stack.name, &stack.source);
            tracing::info!("reading the outputs of stack {name} ({source})");
            self.outputs = Some(describe_stack_outputs(&self.cloudformation, name).await?);
        }
        Ok(self.outputs.as_ref().expect("read above"))
    }

    /// The stack's name, if its outputs have been read.
    pub fn stack_read(&self) -> Option<&str> {
        self.outputs.as_ref().map(|outputs| outputs.stack.as_str())
    }

    /// `given` (a flag's value), else the stack's `output`, which `flag` would replace.
    pub async fn flag_or_output(
        &mut self,
        given: Option<&String>,
        output: &str,
        flag: &'static str,
    ) -> Result<String, DeploymentError> {
        match given {
            Some(value) => Ok(value.clone()),
            None => Ok(self.outputs().await?.require(output, flag)?.to_owned()),
        }
    }

    /// `--table-name` / `TABLE_NAME`, else the stack output `TableName`.
    pub async fn table_name(&mut self) -> Result<String, DeploymentError> {
        let given = self.args.table_name.clone();
        (self.flag_or_output(given.as_ref(), TABLE_NAME_OUTPUT, "--table-name")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
    use aws_sdk_cloudformation::types::{Output, Stack, StackStatus};
    use aws_smithy_mocks::{MockResponseInterceptor, Rule, create_mock_http_client, mock};
    use clap::Parser as _;

    /// The flags as a CLI flattening them parses them.
    fn args(flags: &[&str]) -> DeploymentArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            deployment: DeploymentArgs,
        }
        Cli::parse_from(["cli"].iter().chain(flags)).deployment
    }

    /// `stack_name` for `config_env` from a samconfig.toml holding `text` (`None`: no file).
    fn stack_name(text: Option<&str>, config_env: &str) -> Result<StackName, DeploymentError> {
        let dir = std::env::temp_dir().join(format!(
            "flowiq-samconfig-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(text) = text {
            std::fs::write(dir.join(SAMCONFIG_FILE), text).unwrap();
        }
        let result = args(&["--config-env", config_env]).stack_name(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    #[test]
    fn the_stack_name_comes_from_samconfig_like_in_sam_deploy() {
        // What `sam deploy --guided` writes, plus another environment.
        let guided = r#"
version = 0.1
[default.global.parameters]
stack_name = "from-global"
[default.deploy.parameters]
stack_name = "my-webhooks"   # chosen in --guided
[prod.global.parameters]
stack_name = 'prod-webhooks'
[staging.deploy.parameters]
resolve_s3 = true
"#;
        let project = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(SAMCONFIG_FILE),
        )
        .unwrap();
        let default = "the default; no stack_name in ./samconfig.toml";
        for (text, env, name, source) in [
            (
                Some(project.as_str()),
                "default",
                "flowiq-webhooks",
                "samconfig.toml [default.global.parameters]",
            ),
            (
                Some(guided),
                "default",
                "my-webhooks",
                "samconfig.toml [default.deploy.parameters]",
            ),
            (
                Some(guided),
                "prod",
                "prod-webhooks",
                "samconfig.toml [prod.global.parameters]",
            ),
            (Some(guided), "staging", "flowiq-webhooks", default),
            (Some(guided), "nope", "flowiq-webhooks", default),
            (None, "default", "flowiq-webhooks", default),
        ] {
            let found = stack_name(text, env).unwrap();
            assert_eq!(
                (found.name.as_str(), found.source.as_str()),
                (name, source),
                "{env}"
            );
        }
    }

    #[test]
    fn a_samconfig_that_does_not_parse_is_an_error_naming_the_file_and_the_problem() {
        for (text, problem) in [
            (
                "[default.global.parameters]\nstack_name = flowiq\n",
                "line 2",
            ),
            ("[default.global.parameters\n", "line 1"),
            (
                "[default.global.parameters]\nstack_name = 123\n",
                "not a non-empty string",
            ),
            (
                "[default.deploy.parameters]\nstack_name = \"\"\n",
                "not a non-empty string",
            ),
        ] {
            let error = stack_name(Some(text), "default").unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains("samconfig.toml is not a usable"),
                "{message}"
            );
            assert!(message.contains(problem), "{message}");
            assert!(message.contains("--stack-name"), "{message}");
            assert!(error.is_configuration());
        }
    }

    fn cloudformation(rule: &Rule) -> aws_sdk_cloudformation::Client {
        use aws_sdk_cloudformation::config::{BehaviorVersion, Credentials, Region};
        aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("eu-west-1"))
                .credentials_provider(Credentials::new("test", "test", None, None, "test"))
                .http_client(create_mock_http_client())
                .interceptor(MockResponseInterceptor::new().with_rule(rule))
                .build(),
        )
    }

    #[tokio::test]
    async fn reads_the_outputs_once_and_only_when_needed() {
        let rule = mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .match_requests(|req| req.stack_name() == Some("flowiq-webhooks"))
            .then_output(|| {
                let output =
                    |k: &str, v: &str| Output::builder().output_key(k).output_value(v).build();
                DescribeStacksOutput::builder()
                    .stacks(
                        Stack::builder()
                            .stack_name("flowiq-webhooks")
                            .stack_status(StackStatus::UpdateComplete)
                            .outputs(output("TableName", "events"))
                            .outputs(output("WebhookBaseUrl", " "))
                            .build(),
                    )
                    .build()
            });
        let given = args(&["--stack-name", "flowiq-webhooks", "--table-name", " given "]);
        let mut deployment = Deployment::new(given, ".", cloudformation(&rule));
        assert_eq!(deployment.table_name().await.unwrap(), "given");
        assert_eq!((rule.num_calls(), deployment.stack_read()), (0, None));

        let from_stack = args(&["--stack-name", "flowiq-webhooks"]);
        let mut deployment = Deployment::new(from_stack, ".", cloudformation(&rule));
        assert_eq!(deployment.table_name().await.unwrap(), "events");
        let outputs = deployment.outputs().await.unwrap();
        assert_eq!(outputs.get("WebhookBaseUrl"), None, "blank is missing");
        let message = outputs
            .require("WebhookBaseUrl", "--url")
            .unwrap_err()
            .to_string();
        for part in [
            "\"flowiq-webhooks\"",
            "UPDATE_COMPLETE",
            "\"WebhookBaseUrl\"",
            "--url",
        ] {
            assert!(message.contains(part), "{part:?} missing: {message}");
        }
        assert_eq!(deployment.stack_read(), Some("flowiq-webhooks"));
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_missing_stack_is_named() {
        // What CloudFormation answers for a stack that does not exist (awsQuery XML).
        let rule = mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .sequence()
            .http_status(
                400,
                Some(
                    "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
                     <Error><Type>Sender</Type><Code>ValidationError</Code>\
                     <Message>Stack with id nope does not exist</Message></Error>\
                     <RequestId>5ccc7dcd-744c-11e5-be70-example</RequestId></ErrorResponse>"
                        .to_owned(),
                ),
            )
            .build();
        let error = describe_stack_outputs(&cloudformation(&rule), "nope")
            .await
            .unwrap_err();
        assert!(
            matches!(&error, DeploymentError::StackNotFound { stack, region } if stack == "nope" && region == "eu-west-1"),
            "{error:?}"
        );
        assert!(error.to_string().contains("--stack-name"), "{error}");
        assert!(!error.is_configuration());
    }
}
