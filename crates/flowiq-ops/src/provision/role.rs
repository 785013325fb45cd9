//! The webhook function's role as template.yaml's `WebhookFunctionRole` defines it: its trust
//! policy and inline policies, nothing else. Created when missing; an existing role is brought
//! back to the template (a policy that differs is replaced, one the template lacks is deleted, a
//! managed policy is detached), so it may only do what the template's role may do.

use aws_sdk_iam::Client;
use serde_json::Value as Json;

use super::template::RoleProperties;
use super::{ProvisionError, aws_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub arn: String,
    pub created: bool,
    pub changes: Vec<String>,
}

const DESCRIPTION: &str = "The FlowIQ webhook function's role: template.yaml's \
                           WebhookFunctionRole, created by flowiq-provision";

pub async fn ensure(
    client: &Client,
    name: &str,
    spec: &RoleProperties,
) -> Result<Role, ProvisionError> {
    let mut changes = Vec::new();
    let trust = spec.assume_role_policy_document.to_string();
    let existing = match client.get_role().role_name(name).send().await {
        Ok(found) => found.role,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            None
        }
        Err(e) => return Err(aws_error(&format!("read role {name}"), &e)),
    };
    let (arn, created) = match existing {
        Some(role) => {
            let document = role.assume_role_policy_document().map(policy_json);
            if document.as_ref() != Some(&spec.assume_role_policy_document) {
                (client.update_assume_role_policy().role_name(name))
                    .policy_document(&trust)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("set the trust policy of role {name}"), &e))?;
                changes.push("trust policy replaced".to_owned());
            }
            (role.arn, false)
        }
        None => {
            let created = (client.create_role().role_name(name))
                .assume_role_policy_document(&trust)
                .description(DESCRIPTION)
                .send()
                .await
                .map_err(|e| aws_error(&format!("create role {name}"), &e))?;
            changes.push("created".to_owned());
            (created.role.map(|r| r.arn).unwrap_or_default(), true)
        }
    };
    ensure_inline_policies(client, name, spec, created, &mut changes).await?;
    detach_managed_policies(client, name, &mut changes).await?;
    Ok(Role {
        arn,
        created,
        changes,
    })
}

/// Each of the template's inline policies put where it differs; any other deleted.
async fn ensure_inline_policies(
    client: &Client,
    name: &str,
    spec: &RoleProperties,
    created: bool,
    changes: &mut Vec<String>,
) -> Result<(), ProvisionError> {
    let mut names = Vec::new();
    let mut pages = client
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error(&format!("list the policies of role {name}"), &e))?;
        names.extend(page.policy_names);
    }
    for policy in &spec.policies {
        let policy_name = &policy.policy_name;
        let mut current = None;
        if names.contains(policy_name) {
            let found = (client.get_role_policy().role_name(name))
                .policy_name(policy_name)
                .send()
                .await
                .map_err(|e| aws_error(&format!("read policy {policy_name} of role {name}"), &e))?;
            current = Some(policy_json(&found.policy_document));
        }
        if current.as_ref() == Some(&policy.policy_document) {
            continue;
        }
        (client.put_role_policy().role_name(name))
            .policy_name(policy_name)
            .policy_document(policy.policy_document.to_string())
            .send()
            .await
            .map_err(|e| aws_error(&format!("put policy {policy_name} on role {name}"), &e))?;
        if !created {
            let what = if current.is_some() {
                "replaced"
            } else {
                "added"
            };
            changes.push(format!("policy {policy_name} {what}"));
        }
    }
    for extra in names
        .iter()
        .filter(|n| !spec.policies.iter().any(|p| &p.policy_name == *n))
    {
        (client.delete_role_policy().role_name(name))
            .policy_name(extra)
            .send()
            .await
            .map_err(|e| aws_error(&format!("delete policy {extra} of role {name}"), &e))?;
        changes.push(format!("policy {extra} deleted (not in template.yaml)"));
    }
    Ok(())
}

/// Every managed policy detached: the template's role has none.
async fn detach_managed_policies(
    client: &Client,
    name: &str,
    changes: &mut Vec<String>,
) -> Result<(), ProvisionError> {
    let mut pages = client
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let listing = format!("list the managed policies of role {name}");
        let page = page.map_err(|e| aws_error(&listing, &e))?;
        for policy_arn in page
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
        {
            (client.detach_role_policy().role_name(name))
                .policy_arn(policy_arn)
                .send()
                .await
                .map_err(|e| aws_error(&format!("detach {policy_arn} from role {name}"), &e))?;
            changes.push(format!(
                "managed policy {policy_arn} detached (not in template.yaml)"
            ));
        }
    }
    Ok(())
}

/// IAM returns policy documents URL-encoded (RFC 3986); `Json::Null` if it is not JSON.
fn policy_json(document: &str) -> Json {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(document).collect();
    serde_json::from_slice(&decoded).unwrap_or(Json::Null)
}

#[cfg(test)]
mod tests {
    use super::policy_json;
    use serde_json::json;

    #[test]
    fn policy_documents_are_read_encoded_or_not() {
        let expected =
            json!({"Version": "2012-10-17", "Statement": [{"Action": "sts:AssumeRole"}]});
        for document in [
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Action%22%3A%20%22sts%3AAssumeRole%22%7D%5D%7D",
            r#"{"Version":"2012-10-17","Statement":[{"Action":"sts:AssumeRole"}]}"#,
        ] {
            assert_eq!(policy_json(document), expected, "{document}");
        }
        assert_eq!(policy_json("%7Bnot json"), serde_json::Value::Null);
    }
}
