//! The deployment without SAM (README, "Without SAM: cargo-lambda") against a moto server (IAM,
//! DynamoDB, SQS, Lambda and function URLs without Docker) and a fake FlowIQ (wiremock):
//! `flowiq-provision` creates what template.yaml defines and a re-run changes nothing;
//! `flowiq-bootstrap --function-name` registers the function's URL once; and the README's
//! commands themselves, `cargo lambda deploy` included, run against moto.
//!
//! moto rather than DynamoDB Local for the table: it describes what this tool sets and DynamoDB
//! Local ignores (encryption at rest, point-in-time recovery), and one server then answers every
//! service the commands call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use flowiq_harness::moto_server::MotoServer;
use flowiq_ops::exit_status::ExitStatus;
use flowiq_ops::provision::template::Template;
use flowiq_ops::provision::{Clients, Names, ProvisionError, Provisioned, provision};
use flowiq_template::Attributes;
use flowiq_template::events_table::KeyElement;
use serde_json::{Value, json};
use wiremock::matchers::{any, body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REGION: &str = "eu-west-1";
/// moto's account.
const ACCOUNT: &str = "123456789012";
const KEY: &str = "fiq_without_sam_0123456789abcdef";
const TOKEN: &str = "FunctionToken0123456789abcdefghijklmnopqrstuv";

/// One moto server for the whole file (stopped when the test process ends); each test uses its
/// own names.
fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<MotoServer> = OnceLock::new();
    MOTO.get_or_init(MotoServer::start)
}

async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(moto().endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

async fn clients() -> Clients {
    let config = sdk_config().await;
    Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        sqs: aws_sdk_sqs::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        secrets_manager: aws_sdk_secretsmanager::Client::new(&config),
    }
}

/// A secret's current string.
async fn secret_string(clients: &Clients, arn: &str) -> String {
    let value = clients.secrets_manager.get_secret_value().secret_id(arn);
    value.send().await.unwrap().secret_string.unwrap()
}

/// A resource's `Properties` in template.yaml at the parameters' defaults, evaluated by the
/// template's one reader with exactly the values this test names: each `!GetAtt X.Arn` and
/// `!Ref X` of a resource is `arns[X]` (the test's own mapping, to hold the tool's against;
/// anything else the template refers to is an error).
fn properties(logical_id: &str, arns: &BTreeMap<&str, String>) -> Value {
    let mut known: BTreeMap<String, String> = arns
        .iter()
        .map(|(name, arn)| (format!("{name}.Arn"), arn.clone()))
        .collect();
    // A secret's `!Ref` is its ARN.
    known.extend(
        arns.iter()
            .map(|(name, arn)| ((*name).to_owned(), arn.clone())),
    );
    let template = flowiq_template::Template::repository();
    let scope = template.scope(&[], Attributes::Known(known)).unwrap();
    scope.properties(logical_id).unwrap()
}

mod provisioning {
    use super::*;

    /// The table as DescribeTable and friends report it, held against the template's
    /// `EventsTable` (as the harness's tables read it).
    async fn assert_table_is_the_templates(clients: &Clients, table: &str) {
        let dynamodb = &clients.dynamodb;
        let described = dynamodb.describe_table().table_name(table).send().await;
        let described = described.unwrap().table.unwrap();
        let template = flowiq_template::Template::repository()
            .events_table()
            .unwrap();
        let keys = |elements: &[KeySchemaElement]| -> Vec<(String, String)> {
            elements
                .iter()
                .map(|k| {
                    (
                        k.attribute_name().to_owned(),
                        k.key_type().as_str().to_owned(),
                    )
                })
                .collect()
        };
        let template_keys = |elements: &[KeyElement]| {
            elements
                .iter()
                .map(|k| (k.attribute_name.clone(), k.key_type.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(described.key_schema()),
            template_keys(&template.key_schema)
        );
        let mut indexes: Vec<_> = described
            .global_secondary_indexes()
            .iter()
            .map(|i| {
                let projection = i.projection().unwrap();
                let mut non_key = projection.non_key_attributes().to_vec();
                non_key.sort();
                let projection_type = projection.projection_type().unwrap().as_str().to_owned();
                (
                    i.index_name().unwrap().to_owned(),
                    keys(i.key_schema()),
                    projection_type,
                    non_key,
                )
            })
            .collect();
        let mut expected: Vec<_> = template
            .global_secondary_indexes
            .iter()
            .map(|i| {
                let mut non_key = i.projection.non_key_attributes.clone();
                non_key.sort();
                let projection_type = i.projection.projection_type.clone();
                (
                    i.index_name.clone(),
                    template_keys(&i.key_schema),
                    projection_type,
                    non_key,
                )
            })
            .collect();
        indexes.sort();
        expected.sort();
        assert_eq!(indexes, expected);
        let stream = described.stream_specification().unwrap();
        assert!(stream.stream_enabled());
        assert_eq!(
            stream.stream_view_type().unwrap().as_str(),
            template.stream_specification.unwrap().stream_view_type
        );
        assert_eq!(
            described.billing_mode_summary().unwrap().billing_mode(),
            Some(&BillingMode::PayPerRequest)
        );
        assert_eq!(
            described
                .sse_description()
                .unwrap()
                .status()
                .unwrap()
                .as_str(),
            "ENABLED"
        );
        let ttl = dynamodb
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let ttl = ttl.time_to_live_description().unwrap();
        assert_eq!(ttl.time_to_live_status().unwrap().as_str(), "ENABLED");
        assert_eq!(
            ttl.attribute_name(),
            Some(
                template
                    .time_to_live_specification
                    .unwrap()
                    .attribute_name
                    .as_str()
            )
        );
        let backups = dynamodb
            .describe_continuous_backups()
            .table_name(table)
            .send()
            .await;
        let status = backups
            .unwrap()
            .continuous_backups_description
            .unwrap()
            .point_in_time_recovery_description
            .unwrap()
            .point_in_time_recovery_status
            .unwrap();
        assert_eq!(status.as_str(), "ENABLED");
    }

    /// The queues' attributes are the template's properties; the role's trust and inline
    /// policies are the template's, with the ARNs of what was provisioned, and nothing else.
    async fn assert_queues_and_role_are_the_templates(
        clients: &Clients,
        names: &Names,
        provisioned: &Provisioned,
    ) {
        let attributes = |url: String| async move {
            let sqs = &clients.sqs;
            let found = sqs.get_queue_attributes().queue_url(url);
            let found = found.attribute_names(QueueAttributeName::All).send().await;
            found.unwrap().attributes.unwrap()
        };
        let dead_letter = attributes(provisioned.dead_letter_queue_url.clone()).await;
        let queue = attributes(provisioned.queue_url.clone()).await;
        let dead_letter_arn = dead_letter[&QueueAttributeName::QueueArn].clone();
        let arns: BTreeMap<&str, String> = [
            ("EventsTable", provisioned.table_arn.clone()),
            ("SpillDeadLetterQueue", dead_letter_arn.clone()),
            ("SpillQueue", queue[&QueueAttributeName::QueueArn].clone()),
            (
                "WebhookFunctionLogGroup",
                format!(
                    "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{}:*",
                    names.function
                ),
            ),
            ("WebhookTokenSecret", provisioned.token_secret_arn.clone()),
            (
                "ContactKeySecret",
                provisioned.contact_key_secret_arn.clone(),
            ),
        ]
        .into_iter()
        .collect();
        for (logical_id, found) in [
            ("SpillDeadLetterQueue", &dead_letter),
            ("SpillQueue", &queue),
        ] {
            let expected = properties(logical_id, &arns);
            for (property, value) in expected.as_object().unwrap() {
                let attribute = &found[&QueueAttributeName::from(property.as_str())];
                match value {
                    Value::Object(_) => {
                        // RedrivePolicy: its ARN, and the count at the parameter's default.
                        let found: Value = serde_json::from_str(attribute).unwrap();
                        assert_eq!(found["deadLetterTargetArn"], json!(dead_letter_arn));
                        let template = flowiq_template::Template::repository();
                        let defaults = template.scope(&[], Attributes::Placeholders).unwrap();
                        let count = defaults.parameters()["SpillMaxReceiveCount"].clone();
                        let found_count = &found["maxReceiveCount"];
                        assert_eq!(
                            found_count
                                .as_str()
                                .map_or_else(|| found_count.to_string(), str::to_owned),
                            count
                        );
                    }
                    Value::String(s) => assert_eq!(attribute, s, "{logical_id}.{property}"),
                    other => assert_eq!(attribute, &other.to_string(), "{logical_id}.{property}"),
                }
            }
        }

        let iam = &clients.iam;
        let role = iam
            .get_role()
            .role_name(&names.role)
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        assert_eq!(role.arn, provisioned.role_arn);
        let expected = properties("WebhookFunctionRole", &arns);
        assert_eq!(
            decoded(role.assume_role_policy_document().unwrap()),
            expected["AssumeRolePolicyDocument"]
        );
        let listed = iam
            .list_role_policies()
            .role_name(&names.role)
            .send()
            .await
            .unwrap();
        let mut found = BTreeMap::new();
        for name in listed.policy_names {
            let policy = iam
                .get_role_policy()
                .role_name(&names.role)
                .policy_name(&name);
            let document = policy.send().await.unwrap().policy_document;
            found.insert(name, decoded(&document));
        }
        let expected: BTreeMap<String, Value> = expected["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["PolicyName"].as_str().unwrap().to_owned(),
                    p["PolicyDocument"].clone(),
                )
            })
            .collect();
        assert_eq!(found, expected);
        let attached = iam
            .list_attached_role_policies()
            .role_name(&names.role)
            .send()
            .await;
        assert!(attached.unwrap().attached_policies().is_empty());
    }

    /// IAM's documents may come URL-encoded.
    fn decoded(document: &str) -> Value {
        serde_json::from_str(document).unwrap_or_else(|_| {
            let mut bytes = Vec::new();
            let mut rest = document.as_bytes();
            while let Some((&first, tail)) = rest.split_first() {
                if first == b'%' {
                    bytes.push(
                        u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap(),
                    );
                    rest = &tail[2..];
                } else {
                    bytes.push(first);
                    rest = tail;
                }
            }
            serde_json::from_slice(&bytes).unwrap()
        })
    }

    #[tokio::test]
    async fn creates_what_the_template_defines_and_a_rerun_changes_nothing() {
        let clients = clients().await;
        let names = Names::new("provision-twice", "provision-twice-fn");
        let template = Template::repository();
        let first = provision(&clients, &names, &template).await.unwrap();
        assert!(first.role_created);
        let resources: Vec<&str> = first.changes.iter().map(|(r, _)| r.as_str()).collect();
        for resource in [
            "table provision-twice-events",
            "queue provision-twice-spill-dead-letter",
            "queue provision-twice-spill",
            "secret provision-twice-fn-token",
            "secret provision-twice-fn-contact-key",
            "role provision-twice-webhook-function",
        ] {
            assert!(
                resources.contains(&resource),
                "{resource}: {:?}",
                first.changes
            );
        }
        assert_table_is_the_templates(&clients, &names.table).await;
        assert_queues_and_role_are_the_templates(&clients, &names, &first).await;
        // The secrets: generated values of the template's form, named after the function; only
        // their ARNs are printed.
        let prefix =
            format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:provision-twice-fn-");
        assert!(
            first
                .token_secret_arn
                .starts_with(&format!("{prefix}token-"))
        );
        assert!(
            first
                .contact_key_secret_arn
                .starts_with(&format!("{prefix}contact-key-"))
        );
        let token_secret = secret_string(&clients, &first.token_secret_arn).await;
        let token: Value = serde_json::from_str(&token_secret).unwrap();
        let token = token["token"].as_str().unwrap().to_owned();
        let contact_key = secret_string(&clients, &first.contact_key_secret_arn).await;
        for (value, length) in [(&token, 48), (&contact_key, 64)] {
            assert_eq!(value.len(), length);
            assert!(value.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(!first.shell_assignments().contains(value.as_str()));
        }
        assert!(flowiq_webhooks::contact_key::ContactKey::new(&contact_key).is_ok());
        let assignments = first.shell_assignments();
        for line in [
            format!("WEBHOOK_TOKEN_SECRET='{}'", first.token_secret_arn),
            format!("CONTACT_KEY_SECRET='{}'", first.contact_key_secret_arn),
        ] {
            assert!(assignments.contains(&line), "{assignments}");
        }

        let second = provision(&clients, &names, &template).await.unwrap();
        // An existing secret is never changed (the token may have been rotated since; the contact
        // key must never change).
        assert_eq!(
            secret_string(&clients, &first.token_secret_arn).await,
            token_secret
        );
        assert_eq!(
            secret_string(&clients, &first.contact_key_secret_arn).await,
            contact_key
        );
        assert_eq!(second.changes, vec![]);
        assert!(!second.role_created);
        assert_eq!(
            (&second.table_arn, &second.queue_url, &second.role_arn),
            (&first.table_arn, &first.queue_url, &first.role_arn)
        );
        assert_eq!(second.shell_assignments(), first.shell_assignments());
        assert!(
            first
                .shell_assignments()
                .starts_with("TABLE_NAME='provision-twice-events'\n"),
            "{}",
            first.shell_assignments()
        );
    }

    /// What drifted is set back; what a run interrupted before TTL and point-in-time recovery
    /// left undone is completed.
    #[tokio::test]
    async fn drift_is_set_back_to_the_template() {
        let clients = clients().await;
        let names = Names::new("provision-drift", "provision-drift-fn");
        let template = Template::repository();
        let first = provision(&clients, &names, &template).await.unwrap();

        let dynamodb = &clients.dynamodb;
        let ttl = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
            .attribute_name("expires_at")
            .enabled(false)
            .build()
            .unwrap();
        (dynamodb.update_time_to_live().table_name(&names.table))
            .time_to_live_specification(ttl)
            .send()
            .await
            .unwrap();
        let pitr = aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(false)
            .build()
            .unwrap();
        (dynamodb
            .update_continuous_backups()
            .table_name(&names.table))
        .point_in_time_recovery_specification(pitr)
        .send()
        .await
        .unwrap();
        (clients
            .sqs
            .set_queue_attributes()
            .queue_url(&first.queue_url))
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .send()
        .await
        .unwrap();
        let iam = &clients.iam;
        let everything = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#;
        for policy in ["write-events-table", "added-by-hand"] {
            (iam.put_role_policy().role_name(&names.role))
                .policy_name(policy)
                .policy_document(everything)
                .send()
                .await
                .unwrap();
        }

        let fixed = provision(&clients, &names, &template).await.unwrap();
        // moto drops a queue's Policy on every SetQueueAttributes that does not name it (SQS
        // keeps it), so there the policy is set again after VisibilityTimeout.
        let moto_only = "queue provision-drift-spill: policy set (it had no policy)";
        let changes: Vec<String> = fixed
            .changes
            .iter()
            .map(|(r, c)| format!("{r}: {c}"))
            .filter(|change| change != moto_only)
            .collect();
        assert_eq!(
            changes,
            [
                "table provision-drift-events: TTL enabled on expires_at",
                "table provision-drift-events: point-in-time recovery enabled",
                "queue provision-drift-spill: set VisibilityTimeout",
                "role provision-drift-webhook-function: policy write-events-table replaced",
                "role provision-drift-webhook-function: policy added-by-hand deleted (not in template.yaml)",
            ]
        );
        assert_table_is_the_templates(&clients, &names.table).await;
        assert_queues_and_role_are_the_templates(&clients, &names, &fixed).await;
        let again = provision(&clients, &names, &template).await.unwrap();
        assert_eq!(again.changes, vec![]);
    }

    #[tokio::test]
    async fn a_table_of_another_shape_is_refused_naming_each_difference() {
        let clients = clients().await;
        let names = Names::new("provision-other-shape", "f");
        (clients.dynamodb.create_table().table_name(&names.table))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let error = provision(&clients, &names, &Template::repository())
            .await
            .unwrap_err();
        assert!(matches!(error, ProvisionError::Differs(_)), "{error:?}");
        assert_eq!(error.exit_status(), ExitStatus::Differs);
        let message = error.to_string();
        for part in [
            "table provision-other-shape-events exists but differs from template.yaml's EventsTable",
            "key schema: pk HASH, sk RANGE expected, found pk HASH",
            "index by-contact: present expected, found none",
            "stream: NEW_IMAGE expected, found disabled",
            "encryption at rest: KMS key expected, found AWS owned key",
            "Nothing was changed",
        ] {
            assert!(message.contains(part), "{part:?} missing: {message}");
        }
        // Nothing after the table was created.
        let queue = clients
            .sqs
            .get_queue_url()
            .queue_name(&names.queue)
            .send()
            .await;
        assert!(queue.is_err());
        assert!(
            clients
                .iam
                .get_role()
                .role_name(&names.role)
                .send()
                .await
                .is_err()
        );
    }
}

mod queue_policies {
    use super::*;

    async fn policy(clients: &Clients, url: &str) -> Value {
        let found = (clients.sqs.get_queue_attributes().queue_url(url))
            .attribute_names(QueueAttributeName::Policy)
            .send()
            .await
            .unwrap();
        let policy = &found.attributes.unwrap()[&QueueAttributeName::Policy];
        serde_json::from_str(policy).unwrap()
    }

    /// The principals each statement spares (its `ArnNotEquals` on `aws:PrincipalArn`).
    fn spared(policy: &Value) -> Vec<(String, Vec<String>)> {
        let statements = policy["Statement"].as_array().unwrap();
        statements
            .iter()
            .map(|s| {
                assert_eq!(s["Effect"], "Deny");
                assert_eq!(s["Condition"]["Null"]["aws:PrincipalArn"], "false");
                let arns = &s["Condition"]["ArnNotEquals"]["aws:PrincipalArn"];
                let arns = match arns {
                    Value::String(one) => vec![one.clone()],
                    many => many
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned())
                        .collect(),
                };
                (s["Sid"].as_str().unwrap().to_owned(), arns)
            })
            .collect()
    }

    const OPEN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}]}"#;

    /// A queue of the same name that anyone could send to: its policy is replaced at once, and
    /// while it holds messages from before, the run stops (exit 8) without printing them; once
    /// they are dealt with, the next run goes on and changes nothing more.
    #[tokio::test]
    async fn a_too_open_queue_is_closed_and_its_messages_are_looked_at_before_anything_drains_them()
    {
        let clients = clients().await;
        let names = Names::new("provision-open", "provision-open-fn");
        let created = (clients.sqs.create_queue().queue_name(&names.queue))
            .attributes(QueueAttributeName::Policy, OPEN)
            .send()
            .await
            .unwrap();
        let url = created.queue_url.unwrap();
        (clients.sqs.send_message().queue_url(&url))
            .message_body(r#"{"forged":"message_failed for any message"}"#)
            .send()
            .await
            .unwrap();

        let error = provision(&clients, &names, &Template::repository())
            .await
            .unwrap_err();
        assert_eq!(error.exit_status(), ExitStatus::Differs, "{error}");
        let message = error.to_string();
        // "had another policy" on SQS; moto drops the Policy when the run sets the queue's other
        // attributes first, so it says "had no policy" there.
        for part in [
            "queue provision-open-spill had ",
            "so principals other than the webhook function may have sent to it",
            "holds 1 message(s)",
            "run flowiq-provision again",
        ] {
            assert!(message.contains(part), "{part:?} missing: {message}");
        }
        assert!(!message.contains("forged"), "{message}");
        let role = format!("arn:aws:iam::{ACCOUNT}:role/provision-open-webhook-function");
        let drain = format!("arn:aws:iam::{ACCOUNT}:role/provision-open-spill-drain");
        let root = format!("arn:aws:iam::{ACCOUNT}:root");
        assert_eq!(
            spared(&policy(&clients, &url).await),
            [
                (
                    "OnlyTheWebhookFunctionSends".to_owned(),
                    vec![role, root.clone()]
                ),
                ("OnlyTheDrainConsumes".to_owned(), vec![drain, root.clone()]),
                ("OnlyOperatorsPurge".to_owned(), vec![root.clone()]),
            ]
        );

        (clients.sqs.purge_queue().queue_url(&url))
            .send()
            .await
            .unwrap();
        let again = provision(&clients, &names, &Template::repository())
            .await
            .unwrap();
        assert_eq!(again.changes, vec![]);
        let dead_letter = policy(&clients, &again.dead_letter_queue_url).await;
        assert_eq!(
            spared(&dead_letter),
            [("OnlyOperatorsUseIt".to_owned(), vec![root])]
        );

        // Opened again while empty: closed again, said so, and the run goes on.
        (clients.sqs.set_queue_attributes().queue_url(&url))
            .attributes(QueueAttributeName::Policy, OPEN)
            .send()
            .await
            .unwrap();
        let closed = provision(&clients, &names, &Template::repository())
            .await
            .unwrap();
        assert_eq!(
            closed.changes,
            [(
                "queue provision-open-spill".to_owned(),
                "policy set (it had another policy)".to_owned()
            )]
        );
    }

    /// `--operator-arn`: the operators' principals are spared by every statement.
    #[tokio::test]
    async fn operators_named_on_the_command_line_may_use_both_queues() {
        let clients = clients().await;
        let names = Names::new("provision-operators", "f");
        let operator = format!("arn:aws:iam::{ACCOUNT}:role/ops-*");
        let template = Template::repository()
            .with_parameter("SpillQueueOperatorArns", &operator)
            .unwrap();
        let provisioned = provision(&clients, &names, &template).await.unwrap();
        for url in [&provisioned.queue_url, &provisioned.dead_letter_queue_url] {
            let policy = policy(&clients, url).await;
            for statement in policy["Statement"].as_array().unwrap() {
                let likes = &statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"];
                assert!(
                    *likes == json!(operator) || *likes == json!([operator]),
                    "{statement}"
                );
            }
        }
    }
}

/// The fake FlowIQ: Create Webhook for `url` (type all, whatsapp) answered once as documented;
/// any other request fails the test.
async fn fake_flowiq(url: &str, id: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418))
        .with_priority(u8::MAX)
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/set-webhooks"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_json(
            json!({"url": url, "type": "all", "platform": "whatsapp"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "message": "Webhook created successfully",
            "webhook": {"id": id, "url": url, "type": "all", "platform": "whatsapp",
                        "created_at": "2026-03-08T00:00:00.000+02:00"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// The environment of a CLI run against moto: no AWS configuration files, no instance metadata.
fn against_moto(command: &mut Command) -> &mut Command {
    command
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        // The AWS CLI v1 reads the region from this one.
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/flowiq-without-sam")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/flowiq-without-sam",
        )
        .env("AWS_ENDPOINT_URL", moto().endpoint())
}

/// Exit code, stdout, stderr; no output holds the API key or the token.
fn output(command: &mut Command, token: &str) -> (i32, String, String) {
    let output = command.output().expect("the binary runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    for secret in [KEY, token] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{stdout}\n{stderr}"
        );
    }
    (output.status.code().expect("an exit code"), stdout, stderr)
}

mod bootstrap_function_name {
    use super::*;
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{Environment, FunctionCode, FunctionUrlAuthType, Runtime};

    /// An empty zip archive: moto takes any.
    const ZIP: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

    async fn create_function(
        name: &str,
        role: &str,
        variables: &[(&str, &str)],
        url: bool,
    ) -> Option<String> {
        let lambda = aws_sdk_lambda::Client::new(&sdk_config().await);
        let mut environment = Environment::builder();
        for (k, v) in variables {
            environment = environment.variables(*k, *v);
        }
        (lambda.create_function().function_name(name))
            .role(role)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .code(FunctionCode::builder().zip_file(Blob::new(ZIP)).build())
            .environment(environment.build())
            .send()
            .await
            .unwrap();
        if !url {
            return None;
        }
        let created = (lambda.create_function_url_config().function_name(name))
            .auth_type(FunctionUrlAuthType::None)
            .send()
            .await
            .unwrap();
        Some(created.function_url)
    }

    fn bootstrap(api_base: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_flowiq-bootstrap"));
        against_moto(&mut command)
            .current_dir(std::env::temp_dir())
            .env_remove("TABLE_NAME")
            .env_remove("WEBHOOK_TOKEN")
            .env("FLOWIQ_API_KEY", KEY)
            .args(["--api-base", api_base, "--allow-http"]);
        command
    }

    /// URL, token and table from the function; one registration, then none; `--json` names the
    /// function.
    #[tokio::test]
    async fn registers_the_functions_url_once() {
        let names = Names::new("bootstrap-function", "bootstrap-function-fn");
        let provisioned = provision(&clients().await, &names, &Template::repository())
            .await
            .unwrap();
        // During a rotation the current token comes first.
        let tokens = format!(" {TOKEN} ,OldToken0123456789abcdefghijklmnopqrstuvw");
        let variables = [
            ("TABLE_NAME", names.table.as_str()),
            ("WEBHOOK_TOKENS", tokens.as_str()),
        ];
        let url = create_function(&names.function, &provisioned.role_arn, &variables, true)
            .await
            .unwrap();
        // Lambda's function URLs end in "/"; moto's may not.
        let base = url.trim_end_matches('/');
        let server = fake_flowiq(&format!("{base}/webhooks/whatsapp/{TOKEN}"), "wh-fn").await;

        let run = |extra: &[&str]| {
            let mut command = bootstrap(&server.uri());
            command
                .args(["--function-name", &names.function])
                .args(extra);
            output(&mut command, TOKEN)
        };
        let (code, stdout, stderr) = run(&[]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(
            stdout,
            format!(
                "Webhook URL: {base}/webhooks/whatsapp/Func…  (function {})\nall (whatsapp): \
                 registered, webhook id wh-fn, created_at 2026-03-08T00:00:00.000+02:00\n",
                names.function
            )
        );
        assert!(
            stderr.contains("reading the configuration of Lambda function"),
            "{stderr}"
        );
        let (code, stdout, stderr) = run(&[]);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.contains("all (whatsapp): already registered (id wh-fn"),
            "{stdout}"
        );
        let (code, stdout, stderr) = run(&["--json"]);
        assert_eq!(code, 0, "{stderr}");
        let json: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(
            (&json["function"], &json["stack"], &json["table"]),
            (&json!(names.function), &Value::Null, &json!(names.table))
        );
        assert_eq!(json["registrations"][0]["status"], "already_registered");
        // The record is in the function's table.
        let scan = clients()
            .await
            .dynamodb
            .scan()
            .table_name(&names.table)
            .send()
            .await;
        assert_eq!(scan.unwrap().count, 1);
    }

    /// A function configured as template.yaml configures it: the token comes from the secret
    /// its WEBHOOK_TOKEN_SECRET names, never from its configuration.
    #[tokio::test]
    async fn the_token_comes_from_the_secret_the_function_names() {
        let names = Names::new("bootstrap-secret", "bootstrap-secret-fn");
        let provisioned = provision(&clients().await, &names, &Template::repository())
            .await
            .unwrap();
        // The secret provision created, with a token this test knows (as after a rotation).
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
        let arn = provisioned.token_secret_arn.clone();
        (secrets.put_secret_value().secret_id(&arn))
            .secret_string(format!(r#"{{"token":"{TOKEN}"}}"#))
            .send()
            .await
            .unwrap();
        let variables = [
            ("TABLE_NAME", names.table.as_str()),
            ("WEBHOOK_TOKEN_SECRET", arn.as_str()),
        ];
        let url = create_function(&names.function, &provisioned.role_arn, &variables, true)
            .await
            .unwrap();
        let base = url.trim_end_matches('/');
        let server = fake_flowiq(&format!("{base}/webhooks/whatsapp/{TOKEN}"), "wh-sec").await;
        let mut command = bootstrap(&server.uri());
        command.args(["--function-name", &names.function]);
        let (code, stdout, stderr) = output(&mut command, TOKEN);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("registered, webhook id wh-sec"), "{stdout}");
        assert!(
            stderr.contains("reading the webhook token from secret"),
            "{stderr}"
        );
    }

    #[tokio::test]
    async fn a_missing_function_or_url_exits_6_and_flowiq_is_never_called() {
        let names = Names::new("bootstrap-no-url", "bootstrap-no-url-fn");
        let provisioned = provision(&clients().await, &names, &Template::repository())
            .await
            .unwrap();
        let variables = [
            ("TABLE_NAME", names.table.as_str()),
            ("WEBHOOK_TOKENS", TOKEN),
        ];
        create_function(&names.function, &provisioned.role_arn, &variables, false).await;
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(418))
            .expect(0)
            .mount(&server)
            .await;
        for (function, extra, code, expected) in [
            (
                "flowiq-no-such-function",
                &[][..],
                6,
                "Lambda function \"flowiq-no-such-function\" does not exist in region eu-west-1",
            ),
            (
                names.function.as_str(),
                &[],
                6,
                "has no function URL: deploy it with `cargo lambda deploy --enable-function-url`",
            ),
            (
                names.function.as_str(),
                &["--stack-name", "s"],
                2,
                "cannot be used with",
            ),
        ] {
            let mut command = bootstrap(&server.uri());
            command.args(["--function-name", function]).args(extra);
            let (exit, stdout, stderr) = output(&mut command, TOKEN);
            assert_eq!(exit, code, "{function}: {stderr}");
            assert!(stderr.contains(expected), "{expected:?} missing: {stderr}");
            assert!(!stdout.contains("registered"), "{stdout}");
        }
    }
}

/// The README's commands, run as written: `flowiq-provision`, `cargo lambda deploy` (to moto)
/// and `flowiq-bootstrap --function-name`, then the later deploy, which keeps the token.
mod readme {
    use super::*;

    /// The ```sh blocks of the README's "Without SAM: cargo-lambda" section.
    fn section_blocks() -> Vec<String> {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(readme).unwrap();
        let start = readme
            .find("### Without SAM: cargo-lambda")
            .expect("README has the section");
        let section = &readme[start..];
        let section = &section[..section[4..].find("\n##").map_or(section.len(), |e| e + 4)];
        section
            .split("```sh\n")
            .skip(1)
            .map(|block| block[..block.find("```").unwrap()].to_owned())
            .collect()
    }

    /// `CARGO_LAMBDA`, else the project's own install (scripts/lib.sh), else `cargo-lambda` on
    /// PATH; a test that needs it fails with how to install it.
    fn cargo_lambda() -> PathBuf {
        let local =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.local/venv/bin/cargo-lambda");
        let candidate = std::env::var_os("CARGO_LAMBDA")
            .map(PathBuf::from)
            .or_else(|| local.exists().then_some(local))
            .unwrap_or_else(|| PathBuf::from("cargo-lambda"));
        match Command::new(&candidate)
            .args(["lambda", "--version"])
            .stdout(Stdio::null())
            .status()
        {
            Ok(status) if status.success() => candidate,
            outcome => panic!(
                "cannot run {} ({outcome:?}): install cargo-lambda with `pip install cargo-lambda` \
                 (scripts/smoke-local installs it under .local/venv), or set CARGO_LAMBDA to its path",
                candidate.display()
            ),
        }
    }

    /// A 64-byte ELF header for aarch64: what cargo lambda deploy zips as the function (moto never
    /// runs it), and from which it takes the architecture.
    fn arm64_elf() -> Vec<u8> {
        let mut header = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
        header.extend(2u16.to_le_bytes()); // executable
        header.extend(183u16.to_le_bytes()); // EM_AARCH64
        header.extend(1u32.to_le_bytes());
        header.extend([0u8; 24]); // entry, program and section header offsets
        header.extend(0u32.to_le_bytes());
        for half in [64u16, 0x38, 0, 0x40, 0, 0] {
            header.extend(half.to_le_bytes());
        }
        header
    }

    /// A directory laid out like the project for the README's commands: the operator tools this
    /// test built at target/release/ (flowiq-bootstrap with --allow-http, FlowIQ being local),
    /// and on PATH a `cargo` that builds nothing (`cargo lambda build` leaves the ELF header
    /// where cargo-lambda looks), runs the real cargo-lambda for `cargo lambda deploy` and the
    /// real cargo for the rest (cargo-lambda's `cargo metadata`).
    fn project_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("flowiq-without-sam-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in [
            "src",
            "target/release",
            "target/lambda/flowiq-webhook",
            "bin",
        ] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"flowiq-webhook\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();
        std::fs::write(dir.join("arm64-elf"), arm64_elf()).unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_flowiq-provision"),
            dir.join("target/release/flowiq-provision"),
        )
        .unwrap();
        let executable = |path: PathBuf, text: String| {
            std::fs::write(&path, text).unwrap();
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        executable(
            dir.join("target/release/flowiq-bootstrap"),
            format!(
                "#!/bin/sh\nexec '{}' --allow-http \"$@\"\n",
                env!("CARGO_BIN_EXE_flowiq-bootstrap")
            ),
        );
        let cargo = env!("CARGO");
        executable(
            dir.join("bin/cargo"),
            format!(
                "#!/bin/sh\ncase \"$1 $2\" in\n\
                 'lambda build') cp '{elf}' target/lambda/flowiq-webhook/bootstrap ;;\n\
                 'lambda deploy') shift; exec '{lambda}' lambda \"$@\" ;;\n\
                 'build '*) ;;\n\
                 *) exec '{cargo}' \"$@\" ;;\n\
                 esac\n",
                elf = dir.join("arm64-elf").display(),
                lambda = cargo_lambda().display(),
            ),
        );
        dir
    }

    fn run_block(dir: &Path, block: &str, api_base: &str) -> (i32, String, String) {
        let path = format!(
            "{}:{}",
            dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("bash");
        against_moto(&mut command)
            .args(["-euo", "pipefail", "-c", block])
            .current_dir(dir)
            .env("PATH", path)
            .env("FLOWIQ_API_BASE", api_base)
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("FLOWIQ_API_KEY")
            .env_remove("TABLE_NAME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("bash runs");
        // `read -rs FLOWIQ_API_KEY`: the key, as pasted.
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{KEY}\n").as_bytes()).unwrap();
        drop(stdin);
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stdout.contains(KEY) && !stderr.contains(KEY));
        (output.status.code().unwrap_or(-1), stdout, stderr)
    }

    #[tokio::test]
    async fn the_readme_commands_deploy_and_register_the_function() {
        let blocks = section_blocks();
        assert_eq!(
            blocks.len(),
            2,
            "the first deploy and a later one: {blocks:#?}"
        );
        for command in [
            "eval \"$(target/release/flowiq-provision)\"",
            "cargo lambda deploy flowiq-webhook",
            "--iam-role \"$ROLE_ARN\"",
            "--enable-function-url",
            "aws lambda put-function-concurrency --function-name flowiq-webhook",
            "target/release/flowiq-bootstrap --function-name flowiq-webhook",
        ] {
            assert!(
                blocks[0].contains(command),
                "{command:?} missing: {}",
                blocks[0]
            );
        }
        let aws_cli = Command::new("aws").arg("--version").output();
        assert!(
            aws_cli.is_ok_and(|o| o.status.success()),
            "the README's commands use the AWS CLI (reserved concurrency): install it \
             (pip install awscli, or AWS's installer) and put `aws` on PATH"
        );
        let dir = project_dir();
        let lambda = aws_sdk_lambda::Client::new(&sdk_config().await);
        // The fake FlowIQ needs the URL, known only after the deploy: the first run registers
        // against one that answers whatever URL comes, checked afterwards.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/set-webhooks"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .respond_with(|request: &wiremock::Request| {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                ResponseTemplate::new(200).set_body_json(json!({
                    "success": true, "message": "Webhook created successfully",
                    "webhook": {"id": "wh-readme", "url": body["url"], "type": body["type"],
                                "platform": body["platform"], "created_at": "2026-03-08T00:00:00.000+02:00"}
                }))
            })
            .expect(1)
            .mount(&server)
            .await;

        let (code, stdout, stderr) = run_block(&dir, &blocks[0], &server.uri());
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let configuration = lambda
            .get_function_configuration()
            .function_name("flowiq-webhook")
            .send()
            .await
            .unwrap();
        let variables = configuration
            .environment()
            .unwrap()
            .variables()
            .unwrap()
            .clone();
        // Only the secrets' ARNs in the configuration: the token and the contact key are in
        // the secrets provision generated, and never on a command line of the block.
        assert!(!variables.contains_key("WEBHOOK_TOKENS"), "{variables:?}");
        assert!(!blocks[0].contains("WEBHOOK_TOKENS") && !blocks[0].contains("CONTACT_KEY="));
        let clients = clients().await;
        let token_secret = secret_string(&clients, &variables["WEBHOOK_TOKEN_SECRET"]).await;
        let token: Value = serde_json::from_str(&token_secret).unwrap();
        let token = token["token"].as_str().unwrap().to_owned();
        assert!(
            token.len() == 48 && token.bytes().all(|b| b.is_ascii_alphanumeric()),
            "a generated 48-character token"
        );
        let contact_key = secret_string(&clients, &variables["CONTACT_KEY_SECRET"]).await;
        assert_eq!(contact_key.len(), 64);
        assert_eq!(variables["TABLE_NAME"], "flowiq-webhooks-events");
        assert!(
            variables["SPILL_QUEUE_URL"].ends_with("/flowiq-webhooks-spill"),
            "{variables:?}"
        );
        assert_eq!(
            (configuration.memory_size(), configuration.timeout()),
            (Some(128), Some(10))
        );
        assert_eq!(
            configuration.role(),
            Some(format!("arn:aws:iam::{ACCOUNT}:role/flowiq-webhooks-webhook-function").as_str())
        );
        assert_eq!(configuration.architectures()[0].as_str(), "arm64");
        // A function URL's only throttle.
        let concurrency = (lambda.get_function_concurrency())
            .function_name("flowiq-webhook")
            .send()
            .await
            .unwrap();
        assert_eq!(concurrency.reserved_concurrent_executions(), Some(100));
        // The public URL needs both statements (function URLs created since October 2025).
        let policy = lambda
            .get_policy()
            .function_name("flowiq-webhook")
            .send()
            .await
            .unwrap();
        let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        let actions: Vec<&Value> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["Action"])
            .collect();
        assert!(
            actions.contains(&&json!("lambda:InvokeFunctionUrl")),
            "{policy}"
        );
        assert!(
            actions.contains(&&json!("lambda:InvokeFunction")),
            "{policy}"
        );
        let url = lambda
            .get_function_url_config()
            .function_name("flowiq-webhook")
            .send()
            .await
            .unwrap()
            .function_url;
        let registered = format!("{}/webhooks/whatsapp/{token}", url.trim_end_matches('/'));
        let requests = server.received_requests().await.unwrap();
        let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
        assert_eq!(
            body,
            json!({"url": registered, "type": "all", "platform": "whatsapp"})
        );
        assert!(
            stdout.contains("all (whatsapp): registered, webhook id wh-readme"),
            "{stdout}"
        );
        for secret in [&token, &contact_key] {
            assert!(!stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()));
        }

        // A later deploy of new code: the configuration, token included, stays; running the
        // first block's provisioning and registration again changes and registers nothing.
        let (code, stdout, stderr) = run_block(&dir, &blocks[1], &server.uri());
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let after = lambda
            .get_function_configuration()
            .function_name("flowiq-webhook")
            .send()
            .await
            .unwrap();
        assert_eq!(
            after.environment().unwrap().variables().unwrap(),
            &variables
        );
        let again: String = blocks[0]
            .lines()
            .filter(|l| l.contains("target/release/flowiq-") || l.starts_with("read "))
            .collect::<Vec<_>>()
            .join("\n");
        let (code, stdout, stderr) = run_block(&dir, &again, &server.uri());
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(
            stdout.contains("already registered (id wh-readme"),
            "{stdout}"
        );
        assert!(
            !stderr.contains("created"),
            "a re-run creates nothing: {stderr}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
