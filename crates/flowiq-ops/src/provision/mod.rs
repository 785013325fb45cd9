//! `flowiq-provision`: what the webhook function needs when it is deployed without SAM (with
//! `cargo lambda deploy`), created from template.yaml in one idempotent run: the events table
//! ([`table`]), the spill queue and its dead-letter queue ([`queues`]) and the function's role
//! ([`role`]), each evaluated from the template by [`template`] (with `flowiq_template`, the
//! template's one reader); [`create_table`] is the table's `CreateTable` request. It prints the
//! values `cargo lambda deploy` needs as shell assignments. User docs: README, "Without SAM".

pub mod create_table;
pub mod queues;
pub mod role;
pub mod table;
pub mod template;

use aws_config::{BehaviorVersion, Region};
use clap::Parser;

use crate::exit_status::{ExitStatus, Tool};

use template::{
    Arns, EVENTS_TABLE, SPILL_DEAD_LETTER_QUEUE, SPILL_DEAD_LETTER_QUEUE_POLICY,
    SPILL_DRAIN_FUNCTION_ROLE, SPILL_QUEUE, SPILL_QUEUE_OPERATOR_ARNS, SPILL_QUEUE_POLICY,
    Template, TemplateError, WEBHOOK_FUNCTION_LOG_GROUP, WEBHOOK_FUNCTION_ROLE,
    WEBHOOK_TOKEN_SECRET,
};

const AFTER_HELP: &str = "\
Creates, from the template.yaml it was built with (every parameter at its default):
  table  <NAME>-events                (EventsTable: keys, indexes, stream, TTL, point-in-time recovery, encryption)
  queues <NAME>-spill, <NAME>-spill-dead-letter   (SpillQueue, SpillDeadLetterQueue, and their
                                       policies: only the role below sends, only --operator-arn
                                       principals and the account's root user consume)
  role   <NAME>-webhook-function      (WebhookFunctionRole: its own log group, writing to the table,
                                       sending to the spill queue; nothing else)
Running it again changes nothing. A table that exists with another shape stops the run (exit 8) and
is never changed; the queues' attributes and policies and the role's policies are set back to the
template's. A queue whose policy was another (or none) and that holds messages gets the template's
policy, then stops the run (exit 8): look at those messages before anything drains them.
IAM roles are global: in another region, use another --name.

Prints shell assignments for `cargo lambda deploy` on stdout (progress on stderr):
  eval \"$(flowiq-provision)\"   # sets TABLE_NAME, SPILL_QUEUE_URL and ROLE_ARN in your shell

";

/// `--help`'s tail: what it creates, its output and the exit codes.
fn after_help() -> String {
    format!(
        "{AFTER_HELP}{}\nDetails: README.md, \"Without SAM: cargo-lambda\"",
        Tool::Provision.exit_codes_help()
    )
}

/// Creates the events table, the spill queues and the webhook function's role as template.yaml
/// defines them, for a deployment with `cargo lambda deploy` instead of SAM.
#[derive(Debug, Parser)]
#[command(name = "flowiq-provision", version, after_help = after_help())]
pub struct Args {
    /// Prefix of every name: table <NAME>-events, queues <NAME>-spill and
    /// <NAME>-spill-dead-letter, role <NAME>-webhook-function
    #[arg(long, value_name = "NAME", default_value = "flowiq-webhooks", value_parser = prefix)]
    pub name: String,

    /// The Lambda function the role is for: it may write to the log group
    /// /aws/lambda/<FUNCTION> only
    #[arg(long, value_name = "FUNCTION", default_value = "flowiq-webhook", value_parser = function_name)]
    pub function_name: String,

    /// An IAM role or user ARN (`*` allowed) that may also use the spill queues: receive and
    /// delete (`flowiq-events drain`), send (moving dead letters back). Repeat for several;
    /// template.yaml's SpillQueueOperatorArns [default: none, only the account's root user]
    #[arg(long = "operator-arn", value_name = "ARN", value_parser = operator_arn)]
    pub operator_arns: Vec<String>,

    /// AWS region [default: from the AWS configuration]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// AWS profile to use [default: AWS_PROFILE, else the default profile]
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
}

/// Letters, digits, `-` and `_`, at most 40: every derived name is then valid for DynamoDB, SQS
/// and IAM.
fn prefix(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 40
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| value.to_owned())
        .ok_or_else(|| "1 to 40 letters, digits, '-' or '_'".to_owned())
}

/// An IAM principal ARN, as the template's SpillQueueOperatorArns allows (no comma: they are
/// joined with commas).
fn operator_arn(value: &str) -> Result<String, String> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let ok = matches!(parts[..], ["arn", partition, "iam" | "sts", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !resource.is_empty()
            && resource.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=.@/*?-".contains(&b)));
    ok.then(|| value.to_owned()).ok_or_else(|| {
        "an IAM role or user ARN such as arn:aws:iam::123456789012:role/ops (* allowed)".to_owned()
    })
}

impl Args {
    /// The repository's template with the flags' parameter values.
    pub fn template(&self) -> Result<Template, ProvisionError> {
        Ok(Template::repository()
            .with_parameter(SPILL_QUEUE_OPERATOR_ARNS, &self.operator_arns.join(","))?)
    }
}

/// Lambda's rule for a function name.
fn function_name(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| value.to_owned())
        .ok_or_else(|| "1 to 64 letters, digits, '-' or '_'".to_owned())
}

/// The names of what is provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub table: String,
    pub queue: String,
    pub dead_letter_queue: String,
    pub role: String,
    pub function: String,
    /// Not created: the role a drain function deployed without SAM would use; the spill queue's
    /// policy lets it consume.
    pub drain_role: String,
}

impl Names {
    pub fn new(prefix: &str, function: &str) -> Self {
        Names {
            table: format!("{prefix}-events"),
            queue: format!("{prefix}-spill"),
            dead_letter_queue: format!("{prefix}-spill-dead-letter"),
            role: format!("{prefix}-webhook-function"),
            function: function.to_owned(),
            drain_role: format!("{prefix}-spill-drain"),
        }
    }
}

/// What stops a run, by exit code ([`ExitStatus`]).
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{0}")]
    Usage(String),
    /// The table exists with another shape, or a queue that was open holds messages.
    #[error("{0}")]
    Differs(String),
    #[error("{0}")]
    Aws(String),
    /// A template.yaml this version cannot apply.
    #[error(transparent)]
    Template(#[from] TemplateError),
}

impl ProvisionError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            ProvisionError::Template(_) => ExitStatus::Unexpected,
            ProvisionError::Usage(_) => ExitStatus::Usage,
            ProvisionError::Differs(_) => ExitStatus::Differs,
            ProvisionError::Aws(_) => ExitStatus::Aws,
        }
    }
}

/// An AWS call that failed, with the SDK's whole error chain.
pub(crate) fn aws_error<E: std::error::Error + 'static>(doing: &str, err: &E) -> ProvisionError {
    ProvisionError::Aws(format!(
        "cannot {doing}: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(err)
    ))
}

#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub iam: aws_sdk_iam::Client,
}

impl Clients {
    /// The usual AWS configuration, with `--profile` and `--region`; an error without a region.
    pub async fn load(args: &Args) -> Result<Self, ProvisionError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &args.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &args.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(ProvisionError::Usage(
                "no AWS region configured: pass --region, set AWS_REGION, or set a region in \
                 your AWS profile (use the same one for cargo lambda deploy)"
                    .to_owned(),
            ));
        }
        Ok(Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
        })
    }
}

/// What a run leaves in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub table_name: String,
    pub table_arn: String,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub role_arn: String,
    /// The role is new: Lambda may refuse it for a few seconds.
    pub role_created: bool,
    /// `(resource, change)`; empty when the run changed nothing.
    pub changes: Vec<(String, String)>,
}

impl Provisioned {
    /// `NAME='value'` lines for `eval`.
    pub fn shell_assignments(&self) -> String {
        let quote = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
        format!(
            "TABLE_NAME={}\nSPILL_QUEUE_URL={}\nROLE_ARN={}\n",
            quote(&self.table_name),
            quote(&self.queue_url),
            quote(&self.role_arn)
        )
    }
}

/// Creates or checks everything, in dependency order: the table, the dead-letter queue, the
/// spill queue (its redrive policy names the former), then the role (its policies name all three).
pub async fn provision(
    clients: &Clients,
    names: &Names,
    template: &Template,
) -> Result<Provisioned, ProvisionError> {
    let mut changes = Vec::new();
    let mut record = |resource: String, resource_changes: Vec<String>| {
        if resource_changes.is_empty() {
            tracing::info!("{resource}: as template.yaml defines it, unchanged");
        } else {
            tracing::info!("{resource}: {}", resource_changes.join("; "));
        }
        changes.extend(resource_changes.into_iter().map(|c| (resource.clone(), c)));
    };
    let table = table::ensure(&clients.dynamodb, &names.table, &template.table()?).await?;
    record(format!("table {}", names.table), table.changes);

    let mut arns = pseudo_parameters(&table.arn)?;
    let dead_letter_attributes = template.queue(SPILL_DEAD_LETTER_QUEUE, &arns)?;
    let dead_letter = queues::ensure(
        &clients.sqs,
        &names.dead_letter_queue,
        &dead_letter_attributes,
    )
    .await?;
    record(
        format!("queue {}", names.dead_letter_queue),
        dead_letter.changes,
    );
    arns.insert(SPILL_DEAD_LETTER_QUEUE, dead_letter.arn);

    let queue = queues::ensure(
        &clients.sqs,
        &names.queue,
        &template.queue(SPILL_QUEUE, &arns)?,
    )
    .await?;
    record(format!("queue {}", names.queue), queue.changes);
    arns.insert(SPILL_QUEUE, queue.arn);
    arns.insert(EVENTS_TABLE, table.arn.clone());
    arns.insert(
        WEBHOOK_FUNCTION_LOG_GROUP,
        log_group_arn(&table.arn, &names.function)?,
    );
    arns.insert(
        WEBHOOK_TOKEN_SECRET,
        token_secret_arn(&table.arn, &names.function)?,
    );

    let role = role::ensure(&clients.iam, &names.role, &template.role(&arns)?).await?;
    record(format!("role {}", names.role), role.changes);

    // The policies name the roles, so they come last; until then a new queue is empty.
    arns.insert(WEBHOOK_FUNCTION_ROLE, role.arn.clone());
    let role_arn = |name: &str| format!("{}:role/{name}", role_prefix(&role.arn));
    arns.insert(SPILL_DRAIN_FUNCTION_ROLE, role_arn(&names.drain_role));
    for (policy_id, queue_id, name, url) in [
        (
            SPILL_DEAD_LETTER_QUEUE_POLICY,
            SPILL_DEAD_LETTER_QUEUE,
            &names.dead_letter_queue,
            &dead_letter.url,
        ),
        (SPILL_QUEUE_POLICY, SPILL_QUEUE, &names.queue, &queue.url),
    ] {
        let policy = template.queue_policy(policy_id, &arns)?;
        if policy.queue != queue_id {
            let message = format!("{policy_id} is not {queue_id}'s policy any more");
            return Err(TemplateError::new(message).into());
        }
        let changes = queues::ensure_policy(&clients.sqs, name, url, &policy.document).await?;
        record(format!("queue {name}"), changes);
    }
    Ok(Provisioned {
        table_name: names.table.clone(),
        table_arn: table.arn,
        queue_url: queue.url,
        dead_letter_queue_url: dead_letter.url,
        role_arn: role.arn,
        role_created: role.created,
        changes,
    })
}

/// How long a new role is given before the deploy that follows uses it: Lambda refuses a role IAM
/// has not propagated yet ("cannot be assumed by Lambda"), and `cargo lambda deploy` retries that
/// only for a role it created itself.
pub const NEW_ROLE_PROPAGATION: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits [`NEW_ROLE_PROPAGATION`] if the run created the role.
pub async fn wait_for_a_new_role(provisioned: &Provisioned) {
    if provisioned.role_created {
        let seconds = NEW_ROLE_PROPAGATION.as_secs();
        tracing::info!("waiting {seconds} s for the new role to reach Lambda");
        tokio::time::sleep(NEW_ROLE_PROPAGATION).await;
    }
}

/// `AWS::Partition`, `AWS::Region` and `AWS::AccountId`, from the table's ARN.
pub fn pseudo_parameters(table_arn: &str) -> Result<Arns, ProvisionError> {
    match table_arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", partition, "dynamodb", region, account, _] => Ok([
            ("AWS::Partition", partition),
            ("AWS::Region", region),
            ("AWS::AccountId", account),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect()),
        _ => Err(ProvisionError::Aws(format!(
            "the table ARN {table_arn:?} is not a DynamoDB table ARN"
        ))),
    }
}

/// `arn:<partition>:iam::<account>` of a role ARN.
fn role_prefix(role_arn: &str) -> &str {
    role_arn
        .split_once(":role/")
        .map_or(role_arn, |(prefix, _)| prefix)
}

/// Lambda's default log group of `function`, in the table's partition, region and account, as
/// `!GetAtt <LogGroup>.Arn` gives it (with `:*`: its log streams).
/// The secret a function deployed without SAM may read its token from, `<function>-token`
/// (docs/security.md#the-token): `-??????` is the random suffix Secrets Manager appends to a
/// secret's name in its ARN.
pub fn token_secret_arn(table_arn: &str, function: &str) -> Result<String, ProvisionError> {
    match table_arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", partition, "dynamodb", region, account, _] => Ok(format!(
            "arn:{partition}:secretsmanager:{region}:{account}:secret:{function}-token-??????"
        )),
        _ => Err(ProvisionError::Aws(format!(
            "the table ARN {table_arn:?} is not a DynamoDB table ARN"
        ))),
    }
}

pub fn log_group_arn(table_arn: &str, function: &str) -> Result<String, ProvisionError> {
    match table_arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", partition, "dynamodb", region, account, _] => Ok(format!(
            "arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{function}:*"
        )),
        _ => Err(ProvisionError::Aws(format!(
            "the table ARN {table_arn:?} is not a DynamoDB table ARN"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_is_well_formed_and_names_are_checked() {
        Args::command().debug_assert();
        let parse = |flags: &[&str]| {
            Args::try_parse_from(["flowiq-provision"].iter().chain(flags))
                .map_err(|e| e.to_string())
        };
        let args = parse(&[]).unwrap();
        assert_eq!(
            Names::new(&args.name, &args.function_name),
            Names {
                table: "flowiq-webhooks-events".into(),
                queue: "flowiq-webhooks-spill".into(),
                dead_letter_queue: "flowiq-webhooks-spill-dead-letter".into(),
                role: "flowiq-webhooks-webhook-function".into(),
                function: "flowiq-webhook".into(),
                drain_role: "flowiq-webhooks-spill-drain".into(),
            }
        );
        for flags in [
            &["--name", "a b"][..],
            &["--name", ""],
            &["--function-name", "x:1"],
        ] {
            assert!(
                parse(flags).unwrap_err().contains("letters, digits"),
                "{flags:?}"
            );
        }
        let operators = parse(&[
            "--operator-arn",
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*",
            "--operator-arn",
            "arn:aws:iam::123456789012:user/ops",
        ])
        .unwrap();
        assert_eq!(operators.operator_arns.len(), 2);
        operators.template().unwrap();
        for flags in [
            &["--operator-arn", "arn:aws:iam::123456789012:role/a,b"][..],
            &["--operator-arn", "123456789012"],
            &["--operator-arn", "arn:aws:s3:::bucket"],
        ] {
            assert!(
                parse(flags).unwrap_err().contains("IAM role or user ARN"),
                "{flags:?}"
            );
        }
        for flags in [&["--name", "a b"][..], &["--name", ""]] {
            assert!(
                parse(flags).unwrap_err().contains("letters, digits"),
                "{flags:?}"
            );
        }
    }

    #[test]
    fn the_log_group_arn_follows_the_table_arn() {
        assert_eq!(
            log_group_arn("arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t", "f").unwrap(),
            "arn:aws-cn:logs:cn-north-1:123456789012:log-group:/aws/lambda/f:*"
        );
        assert!(log_group_arn("nonsense", "f").is_err());
    }

    #[test]
    fn the_assignments_are_quoted_for_the_shell() {
        let provisioned = Provisioned {
            table_name: "t".into(),
            table_arn: String::new(),
            queue_url: "https://q/1".into(),
            dead_letter_queue_url: String::new(),
            role_arn: "it's".into(),
            role_created: false,
            changes: vec![],
        };
        assert_eq!(
            provisioned.shell_assignments(),
            "TABLE_NAME='t'\nSPILL_QUEUE_URL='https://q/1'\nROLE_ARN='it'\\''s'\n"
        );
    }
}
