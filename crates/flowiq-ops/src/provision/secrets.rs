//! The two secrets of a function deployed without SAM, as template.yaml's `WebhookTokenSecret`
//! and `ContactKeySecret` generate them: `<function>-token` (`{"token": <48 letters and digits>}`)
//! and `<function>-contact-key` (64 letters and digits). Created when missing, with a value
//! Secrets Manager generates (`GetRandomPassword`), so that neither value ever passes through a
//! command line, a shell variable or this tool's output. An existing secret is never changed: the
//! token may have been rotated since, and the contact key must never change
//! (docs/security.md#contact-keys).

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;

use super::{ProvisionError, aws_error};

/// What a secret holds, and how it is generated.
#[derive(Debug)]
pub struct SecretKind {
    /// Letters and digits generated.
    length: i64,
    description: &'static str,
    /// The value is `{"token": …}` (the template's `GenerateSecretString`), not the bare string.
    token_json: bool,
}

pub const WEBHOOK_TOKEN: SecretKind = SecretKind {
    length: 48,
    description: "FlowIQ webhook path token, JSON key \"token\" (and \"previous\" during a \
                  rotation); read by the webhook function (flowiq-provision)",
    token_json: true,
};

pub const CONTACT_KEY: SecretKind = SecretKind {
    length: 64,
    description: "FlowIQ contact key: the HMAC-SHA256 key of the by-contact index keys of \
                  WhatsApp numbers. Never change it (flowiq-provision)",
    token_json: false,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub arn: String,
    pub created: bool,
}

/// The secret `name`: its ARN, created with a generated value if missing.
pub async fn ensure(
    client: &Client,
    name: &str,
    kind: &SecretKind,
) -> Result<Secret, ProvisionError> {
    if let Some(arn) = existing(client, name).await? {
        return Ok(Secret {
            arn,
            created: false,
        });
    }
    let generated = (client.get_random_password())
        .password_length(kind.length)
        .exclude_punctuation(true)
        .include_space(false)
        .send()
        .await
        .map_err(|err| aws_error("generate a secret value (GetRandomPassword)", &err))?;
    let value = generated
        .random_password
        .ok_or_else(|| ProvisionError::Aws("GetRandomPassword returned no password".to_owned()))?;
    let value = if kind.token_json {
        serde_json::json!({ "token": value }).to_string()
    } else {
        value
    };
    let created = (client.create_secret().name(name))
        .description(kind.description)
        .secret_string(value)
        .send()
        .await;
    match created {
        Ok(created) => {
            let arn = created.arn.unwrap_or_default();
            Ok(Secret { arn, created: true })
        }
        // Created meanwhile by another run: that one's value stands.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(CreateSecretError::is_resource_exists_exception) =>
        {
            let arn = existing(client, name).await?.unwrap_or_default();
            Ok(Secret {
                arn,
                created: false,
            })
        }
        Err(err) => Err(aws_error(&format!("create secret {name}"), &err)),
    }
}

/// The ARN of the secret `name`, if it exists; one scheduled for deletion is an error.
async fn existing(client: &Client, name: &str) -> Result<Option<String>, ProvisionError> {
    match client.describe_secret().secret_id(name).send().await {
        Ok(found) if found.deleted_date.is_some() => Err(ProvisionError::Differs(format!(
            "secret {name} is scheduled for deletion: restore it \
             (aws secretsmanager restore-secret --secret-id {name}) and run again"
        ))),
        Ok(found) => Ok(Some(found.arn.unwrap_or_default())),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(DescribeSecretError::is_resource_not_found_exception) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws_error(&format!("describe secret {name}"), &err)),
    }
}
