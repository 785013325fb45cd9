//! `EventsTable`'s properties, typed once: what `flowiq-provision` creates and checks in AWS,
//! and what the harness creates on DynamoDB Local. Every property the template sets at the
//! parameters read is a field: an unknown one is an error, so a template change never goes
//! unapplied unnoticed.

use serde::Deserialize;

use crate::{Attributes, Template, TemplateError};

/// The table's logical id in template.yaml.
pub const EVENTS_TABLE: &str = "EventsTable";

impl Template {
    /// `EventsTable`'s properties with every parameter at its default (as `sam deploy` and
    /// `flowiq-provision` create it): they refer to nothing a deployed stack alone knows.
    pub fn events_table(&self) -> Result<TableProperties, TemplateError> {
        let scope = self.scope(&[], Attributes::Known(Default::default()))?;
        scope.typed(EVENTS_TABLE)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_table_evaluates_at_the_defaults() {
        let table = Template::repository().events_table().unwrap();
        assert_eq!(table.billing_mode, "PAY_PER_REQUEST");
        assert_eq!(table.global_secondary_indexes.len(), 3);
        assert_eq!(
            table.stream_specification.unwrap().stream_view_type,
            "NEW_IMAGE"
        );
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
    }

    #[test]
    fn a_property_the_readers_do_not_apply_or_a_missing_table_is_an_error() {
        let unknown = Template::parse(
            "Resources:\n  EventsTable:\n    Properties:\n      BillingMode: X\n      TableClass: STANDARD\n",
        )
        .unwrap()
        .events_table()
        .unwrap_err()
        .to_string();
        assert!(unknown.contains("unknown field `TableClass`"), "{unknown}");
        let missing = Template::parse("Resources:\n  Other:\n    Type: X\n")
            .unwrap()
            .events_table()
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("Resources.EventsTable.Properties: no such resource"),
            "{missing}"
        );
    }
}
