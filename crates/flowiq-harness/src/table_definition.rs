//! The table's keys and indexes as template.yaml defines them: the single source of truth that
//! local set-up (DynamoDB Local) creates tables from, and that tests hold the code to.

use std::path::Path;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use serde::Deserialize;

/// The table's logical id in template.yaml.
pub const TABLE_LOGICAL_ID: &str = "EventsTable";

#[derive(Debug, thiserror::Error)]
pub enum TableDefinitionError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("template.yaml has no usable {TABLE_LOGICAL_ID} table definition: {0}")]
    Template(String),
    #[error("creating table {table} failed: {message}")]
    Create { table: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyElement {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeType {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexProjection {
    pub projection_type: String,
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDefinition {
    pub index_name: String,
    pub key_schema: Vec<KeyElement>,
    pub projection: IndexProjection,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDefinition {
    pub stream_view_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtlDefinition {
    pub attribute_name: String,
    pub enabled: bool,
}

/// `Resources.EventsTable.Properties`, the parts that shape data.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeType>,
    pub key_schema: Vec<KeyElement>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexDefinition>,
    pub stream_specification: Option<StreamDefinition>,
    pub time_to_live_specification: Option<TtlDefinition>,
}

impl TableDefinition {
    /// Reads the table from template.yaml's text. CloudFormation tags (`!Ref`, `!Sub`, ...) elsewhere
    /// in the template are fine; the table's key properties must be literal, the stream's view
    /// type literal or a parameter's `!Ref` (its default).
    pub fn from_template(yaml: &str) -> Result<Self, TableDefinitionError> {
        let template: serde_norway::Value = serde_norway::from_str(yaml)
            .map_err(|e| TableDefinitionError::Template(e.to_string()))?;
        let properties = template
            .get("Resources")
            .and_then(|r| r.get(TABLE_LOGICAL_ID))
            .and_then(|t| t.get("Properties"))
            .ok_or_else(|| {
                TableDefinitionError::Template(format!(
                    "no Resources.{TABLE_LOGICAL_ID}.Properties"
                ))
            })?;
        let mut properties = properties.clone();
        // The stream's view type is a parameter (StreamViewType): its default, as a stack
        // deployed with the defaults has it.
        let view = properties
            .get_mut("StreamSpecification")
            .and_then(|s| s.get_mut("StreamViewType"));
        if let Some(view) = view
            && let serde_norway::Value::Tagged(tagged) = view.clone()
            && tagged.tag == "Ref"
        {
            let name = tagged.value.as_str().unwrap_or_default();
            let default = template["Parameters"][name]["Default"].clone();
            if default.is_null() {
                return Err(TableDefinitionError::Template(format!(
                    "StreamViewType: !Ref {name} is not a parameter with a Default"
                )));
            }
            *view = default;
        }
        serde_norway::from_value(properties)
            .map_err(|e| TableDefinitionError::Template(e.to_string()))
    }

    pub fn from_template_file(path: &Path) -> Result<Self, TableDefinitionError> {
        let yaml = std::fs::read_to_string(path).map_err(|source| TableDefinitionError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_template(&yaml)
    }

    /// The repository's own template.yaml, compiled in.
    pub fn from_repository_template() -> Result<Self, TableDefinitionError> {
        Self::from_template(include_str!("../../../template.yaml"))
    }

    /// Creates the table (on-demand, with the template's stream and TTL) — for DynamoDB Local.
    /// Returns `false` when it already existed.
    pub async fn create(
        &self,
        client: &Client,
        table_name: &str,
    ) -> Result<bool, TableDefinitionError> {
        let failed = |message: String| TableDefinitionError::Create {
            table: table_name.to_owned(),
            message,
        };
        let mut request = client
            .create_table()
            .table_name(table_name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(
                self.attribute_definitions
                    .iter()
                    .map(|a| {
                        AttributeDefinition::builder()
                            .attribute_name(&a.attribute_name)
                            .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                            .build()
                            .map_err(|e| failed(e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ))
            .set_key_schema(Some(key_schema(&self.key_schema).map_err(&failed)?));
        for index in &self.global_secondary_indexes {
            let projection = Projection::builder()
                .projection_type(ProjectionType::from(
                    index.projection.projection_type.as_str(),
                ))
                .set_non_key_attributes(
                    (!index.projection.non_key_attributes.is_empty())
                        .then(|| index.projection.non_key_attributes.clone()),
                )
                .build();
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&index.index_name)
                    .set_key_schema(Some(key_schema(&index.key_schema).map_err(&failed)?))
                    .projection(projection)
                    .build()
                    .map_err(|e| failed(e.to_string()))?,
            );
        }
        if let Some(stream) = &self.stream_specification {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                    .build()
                    .map_err(|e| failed(e.to_string()))?,
            );
        }
        match request.send().await {
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
        if let Some(ttl) = self
            .time_to_live_specification
            .as_ref()
            .filter(|t| t.enabled)
        {
            client
                .update_time_to_live()
                .table_name(table_name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&ttl.attribute_name)
                        .enabled(true)
                        .build()
                        .map_err(|e| failed(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|err| failed(DisplayErrorContext(&err).to_string()))?;
        }
        Ok(true)
    }
}

fn key_schema(elements: &[KeyElement]) -> Result<Vec<KeySchemaElement>, String> {
    elements
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let table = TableDefinition::from_repository_template().unwrap();
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
                table.attribute_definitions.contains(&AttributeType {
                    attribute_name: attribute.into(),
                    attribute_type: "S".into()
                }),
                "{attribute} is a string key attribute"
            );
        }
        assert_eq!(
            table.time_to_live_specification,
            Some(TtlDefinition {
                attribute_name: keys::TTL_ATTRIBUTE.into(),
                enabled: true
            })
        );
        assert_eq!(
            table.stream_specification.unwrap().stream_view_type,
            "NEW_IMAGE"
        );
    }

    #[test]
    fn a_template_without_the_table_is_an_error_that_says_so() {
        let err =
            TableDefinition::from_template("Resources:\n  Other:\n    Type: X\n").unwrap_err();
        assert!(
            err.to_string().contains("Resources.EventsTable.Properties"),
            "{err}"
        );
    }
}
