//! The events table as template.yaml defines it (`flowiq_template`), created on DynamoDB Local
//! with flowiq-provision's `CreateTable` request (`flowiq_ops::provision::create_table`), then
//! its TTL: for `create-local-table` and the tests' tables.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::TimeToLiveSpecification;
use flowiq_ops::provision::create_table;
use flowiq_template::{Template, TemplateError};

#[derive(Debug, thiserror::Error)]
pub enum CreateTableError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("creating table {table} failed: {message}")]
    Create { table: String, message: String },
}

/// Creates the repository template's events table as `table_name` (point-in-time recovery
/// aside: DynamoDB Local has no backups). Returns `false` when it already existed.
pub async fn create(client: &Client, table_name: &str) -> Result<bool, CreateTableError> {
    let spec = Template::repository().events_table()?;
    let failed = |message: String| CreateTableError::Create {
        table: table_name.to_owned(),
        message,
    };
    let request = create_table::request(client, table_name, &spec);
    match request.map_err(|e| failed(e.to_string()))?.send().await {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Ok(false);
        }
        Err(err) => return Err(failed(DisplayErrorContext(&err).to_string())),
    }
    if let Some(ttl) = spec.time_to_live_specification.filter(|t| t.enabled) {
        let specification = TimeToLiveSpecification::builder()
            .attribute_name(ttl.attribute_name)
            .enabled(true)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(specification)
            .send()
            .await
            .map_err(|err| failed(DisplayErrorContext(&err).to_string()))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use flowiq_template::Template;
    use flowiq_template::events_table::{AttributeDefinition, KeyElement};
    use flowiq_webhooks::keys;

    fn key(name: &str, key_type: &str) -> KeyElement {
        KeyElement {
            attribute_name: name.into(),
            key_type: key_type.into(),
        }
    }

    /// The code's key names and the template's table must agree.
    #[test]
    fn template_defines_the_keys_and_indexes_the_code_writes() {
        let table = Template::repository().events_table().unwrap();
        assert_eq!(
            table.key_schema,
            vec![key(keys::PK, "HASH"), key(keys::SK, "RANGE")]
        );
        let index = |name: &str| {
            table
                .global_secondary_indexes
                .iter()
                .find(|i| i.index_name == name)
                .unwrap()
        };
        assert_eq!(
            index(keys::BY_CONTACT_INDEX).key_schema,
            vec![
                key(keys::CONTACT_PK, "HASH"),
                key(keys::CONTACT_SK, "RANGE")
            ]
        );
        assert_eq!(
            index(keys::BY_ORGANIZATION_INDEX).key_schema,
            vec![key(keys::ORG_PK, "HASH"), key(keys::ORG_SK, "RANGE")]
        );
        assert_eq!(
            index(keys::BY_REJECTION_INDEX).key_schema,
            vec![
                key(keys::REJECTION_PK, "HASH"),
                key(keys::REJECTION_SK, "RANGE")
            ]
        );
        assert_eq!(table.global_secondary_indexes.len(), 3);
        for attribute in [
            keys::PK,
            keys::SK,
            keys::CONTACT_PK,
            keys::CONTACT_SK,
            keys::ORG_PK,
            keys::ORG_SK,
            keys::REJECTION_PK,
            keys::REJECTION_SK,
        ] {
            assert!(
                table.attribute_definitions.contains(&AttributeDefinition {
                    attribute_name: attribute.into(),
                    attribute_type: "S".into()
                }),
                "{attribute} is a string key attribute"
            );
        }
        assert_eq!(
            table.time_to_live_specification.unwrap().attribute_name,
            keys::TTL_ATTRIBUTE
        );
    }
}
