//! The events table as template.yaml's `EventsTable` defines it: created when missing; an
//! existing table must have the same shape (keys, indexes, stream, capacity mode, encryption),
//! else the run stops naming each difference and changes nothing. TTL and point-in-time recovery
//! are set after creation, so a run interrupted in between is completed by the next one.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::types::{
    self as ddb, BillingMode, PointInTimeRecoveryStatus, ProjectionType, SseStatus, SseType,
    StreamViewType, TableDescription, TimeToLiveStatus,
};
use backon::{ConstantBuilder, Retryable as _};

use super::ProvisionError::{self, Differs};
use super::aws_error;
use super::template::{KeyElement, TableProperties};

/// What [`ensure`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub arn: String,
    /// What this run changed (empty: nothing).
    pub changes: Vec<String>,
}

pub async fn ensure(
    client: &Client,
    name: &str,
    spec: &TableProperties,
) -> Result<Table, ProvisionError> {
    let mut changes = Vec::new();
    let description = existing_or_created(client, name, spec, &mut changes).await?;
    if description.table_status() != Some(&ddb::TableStatus::Active) {
        tracing::info!("waiting for table {name} to become active");
        (client.wait_until_table_exists().table_name(name))
            .wait(Duration::from_secs(300))
            .await
            .map_err(|e| aws_error(&format!("wait for table {name} to become active"), &e))?;
    }
    let ttl = spec.time_to_live_specification.as_ref();
    if let Some(ttl) = ttl.filter(|t| t.enabled) {
        changes.extend(ensure_ttl(client, name, &ttl.attribute_name).await?);
    }
    let pitr = spec.point_in_time_recovery_specification.as_ref();
    if pitr.is_some_and(|p| p.point_in_time_recovery_enabled) {
        changes.extend(ensure_pitr(client, name).await?);
    }
    let arn = description
        .table_arn
        .ok_or_else(|| ProvisionError::Aws(format!("DynamoDB gave no ARN for table {name}")))?;
    Ok(Table { arn, changes })
}

/// The table as DynamoDB describes it: created when missing; an existing one that differs from
/// `spec` is an error naming each difference.
async fn existing_or_created(
    client: &Client,
    name: &str,
    spec: &TableProperties,
    changes: &mut Vec<String>,
) -> Result<TableDescription, ProvisionError> {
    let found = match client.describe_table().table_name(name).send().await {
        Ok(output) => output.table,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(e) => return Err(aws_error(&format!("describe table {name}"), &e)),
    };
    Ok(match found {
        Some(existing) => {
            let differences = differences(spec, &existing);
            if !differences.is_empty() {
                return Err(Differs(format!(
                    "table {name} exists but differs from template.yaml's EventsTable:\n  - {}\n\
                     Nothing was changed. Provision under another --name, or move the table \
                     out of the way yourself (it may hold events)",
                    differences.join("\n  - ")
                )));
            }
            existing
        }
        None => {
            let request = super::create_table::request(client, name, spec);
            let request = request.map_err(|e| ProvisionError::Aws(e.to_string()))?;
            tracing::info!("creating table {name} (it takes a moment to become active)");
            let created = request.send().await;
            let created = created.map_err(|e| aws_error(&format!("create table {name}"), &e))?;
            changes.push("created".to_owned());
            created
                .table_description
                .unwrap_or_else(|| TableDescription::builder().build())
        }
    })
}

/// TTL on `attribute`: enabled when off (the change made); on another attribute, an error.
async fn ensure_ttl(
    client: &Client,
    name: &str,
    attribute: &str,
) -> Result<Option<String>, ProvisionError> {
    let found = client.describe_time_to_live().table_name(name).send().await;
    let found = found.map_err(|e| aws_error(&format!("describe the TTL of table {name}"), &e))?;
    let found = found.time_to_live_description();
    let found_attribute = found.and_then(|d| d.attribute_name());
    if let Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) =
        found.and_then(|d| d.time_to_live_status())
    {
        if found_attribute != Some(attribute) {
            return Err(Differs(format!(
                "table {name} exists but differs from template.yaml's EventsTable:\n  - \
                 TTL: on {attribute} expected, found on {}\nNothing else was changed",
                found_attribute.unwrap_or("?")
            )));
        }
        return Ok(None);
    }
    let specification = ddb::TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .expect("both fields set");
    (client.update_time_to_live().table_name(name))
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|e| aws_error(&format!("enable TTL on table {name}"), &e))?;
    Ok(Some(format!("TTL enabled on {attribute}")))
}

/// Point-in-time recovery enabled when off (the change made), once the table's backups are
/// available.
async fn ensure_pitr(client: &Client, name: &str) -> Result<Option<String>, ProvisionError> {
    let found = client
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await;
    let found =
        found.map_err(|e| aws_error(&format!("describe the backups of table {name}"), &e))?;
    let status = (found.continuous_backups_description())
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|d| d.point_in_time_recovery_status());
    if status == Some(&PointInTimeRecoveryStatus::Enabled) {
        return Ok(None);
    }
    let specification = ddb::PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .build()
        .expect("the flag is set");
    let update = || {
        (client.update_continuous_backups().table_name(name))
            .point_in_time_recovery_specification(specification.clone())
            .send()
    };
    // A new table's backups take a while to become available: DynamoDB answers
    // ContinuousBackupsUnavailableException until then. Tried every 5 s for up to 3 minutes.
    let backups_wait = ConstantBuilder::default()
        .with_delay(Duration::from_secs(5))
        .with_max_times(36);
    let mut waiting = false;
    let enabling = format!("enable point-in-time recovery on table {name}");
    update
        .retry(backups_wait)
        .when(|e| {
            e.as_service_error()
                .is_some_and(|e| e.is_continuous_backups_unavailable_exception())
        })
        .notify(|_, _| {
            if !std::mem::replace(&mut waiting, true) {
                tracing::info!("waiting for the backups of table {name} to be available");
            }
        })
        .await
        .map_err(|e| aws_error(&enabling, &e))?;
    Ok(Some("point-in-time recovery enabled".to_owned()))
}

/// `pk HASH, sk RANGE`
fn show_keys<'a>(keys: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let keys: Vec<String> = keys.map(|(n, t)| format!("{n} {t}")).collect();
    keys.join(", ")
}

fn found_keys(keys: &[ddb::KeySchemaElement]) -> String {
    show_keys(
        keys.iter()
            .map(|k| (k.attribute_name(), k.key_type().as_str())),
    )
}

fn expected_keys(keys: &[KeyElement]) -> String {
    show_keys(
        keys.iter()
            .map(|k| (k.attribute_name.as_str(), k.key_type.as_str())),
    )
}

/// Each way `found` differs from `spec`, in words (TTL and point-in-time recovery aside).
pub fn differences(spec: &TableProperties, found: &TableDescription) -> Vec<String> {
    let mut out = Vec::new();
    let mut differ = |what: &str, expected: &str, found: &str| {
        if expected != found {
            out.push(format!("{what}: {expected} expected, found {found}"));
        }
    };
    // A table that never switched modes may lack the summary: then it is provisioned.
    let billing = (found.billing_mode_summary())
        .and_then(|b| b.billing_mode())
        .map_or("PROVISIONED", BillingMode::as_str);
    differ("capacity mode", &spec.billing_mode, billing);
    differ(
        "key schema",
        &expected_keys(&spec.key_schema),
        &found_keys(found.key_schema()),
    );
    let expected_attributes = (spec.attribute_definitions.iter())
        .map(|a| format!("{} {}", a.attribute_name, a.attribute_type));
    let found_attributes = (found.attribute_definitions().iter())
        .map(|a| format!("{} {}", a.attribute_name(), a.attribute_type().as_str()));
    let (expected_attributes, found_attributes) =
        (sorted(expected_attributes), sorted(found_attributes));
    differ("key attributes", &expected_attributes, &found_attributes);
    index_differences(spec, found.global_secondary_indexes(), &mut differ);
    let stream = (found.stream_specification())
        .filter(|s| s.stream_enabled())
        .and_then(|s| s.stream_view_type())
        .map_or("disabled", StreamViewType::as_str);
    let expected_stream = spec.stream_specification.as_ref();
    differ(
        "stream",
        expected_stream.map_or("disabled", |s| &s.stream_view_type),
        stream,
    );
    // SSEEnabled: a KMS key (AWS managed unless named); otherwise an AWS owned key (no
    // SSEDescription, or DISABLED).
    let kms = found.sse_description().is_some_and(|d| {
        matches!(
            d.status(),
            Some(SseStatus::Enabled | SseStatus::Enabling | SseStatus::Updating)
        ) && d.sse_type().is_none_or(|t| *t == SseType::Kms)
    });
    let expected_kms = (spec.sse_specification.as_ref()).is_some_and(|s| s.sse_enabled);
    let encryption = |kms: bool| if kms { "KMS key" } else { "AWS owned key" };
    differ(
        "encryption at rest",
        encryption(expected_kms),
        encryption(kms),
    );
    out
}

/// `a S, b S`: sorted, each once.
fn sorted(items: impl Iterator<Item = String>) -> String {
    Vec::from_iter(BTreeSet::from_iter(items)).join(", ")
}

/// The global secondary indexes' differences: each index present on one side only, and each
/// shared one's keys and projection.
fn index_differences(
    spec: &TableProperties,
    found_indexes: &[ddb::GlobalSecondaryIndexDescription],
    differ: &mut impl FnMut(&str, &str, &str),
) {
    let attributes = |names: &[String]| format!("{:?}", BTreeSet::from_iter(names));
    for index in &spec.global_secondary_indexes {
        let name = &index.index_name;
        let Some(existing) = found_indexes.iter().find(|i| i.index_name() == Some(name)) else {
            differ(&format!("index {name}"), "present", "none");
            continue;
        };
        let (expected, found) = (
            expected_keys(&index.key_schema),
            found_keys(existing.key_schema()),
        );
        differ(&format!("index {name} keys"), &expected, &found);
        let projection = existing.projection();
        let found_type = projection.and_then(|p| p.projection_type());
        let found_type = found_type.map_or("?", ProjectionType::as_str);
        let found_attributes = projection.map_or(&[][..], |p| p.non_key_attributes());
        let expected = &index.projection;
        differ(
            &format!("index {name} projection"),
            &format!(
                "{} {}",
                expected.projection_type,
                attributes(&expected.non_key_attributes)
            ),
            &format!("{found_type} {}", attributes(found_attributes)),
        );
    }
    for existing in found_indexes {
        let name = existing.index_name().unwrap_or("?");
        if !(spec.global_secondary_indexes.iter()).any(|i| i.index_name == name) {
            differ(&format!("index {name}"), "none", "present");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::template::Template;
    use aws_sdk_dynamodb::types::{KeyType, ScalarAttributeType};

    fn key(name: &str, key_type: KeyType) -> ddb::KeySchemaElement {
        ddb::KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .unwrap()
    }

    #[test]
    fn each_difference_is_named() {
        let spec = Template::parse(
            "Resources:
  EventsTable:
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: org_pk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: by-contact
          KeySchema: [{AttributeName: org_pk, KeyType: HASH}]
          Projection: {ProjectionType: KEYS_ONLY}
        - IndexName: by-organization
          KeySchema: [{AttributeName: org_pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [platform, event_id]}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      SSESpecification: {SSEEnabled: true}
",
        )
        .unwrap()
        .table()
        .unwrap();
        let found = TableDescription::builder()
            .key_schema(key("id", KeyType::Hash))
            .attribute_definitions(
                ddb::AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .global_secondary_indexes(
                ddb::GlobalSecondaryIndexDescription::builder()
                    .index_name("by-organization")
                    .key_schema(key("org_pk", KeyType::Hash))
                    .key_schema(key("org_sk", KeyType::Range))
                    .projection(
                        ddb::Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let differences = differences(&spec, &found);
        let expected = [
            "capacity mode: PAY_PER_REQUEST expected, found PROVISIONED",
            "key schema: pk HASH, sk RANGE expected, found id HASH",
            "key attributes: org_pk S, pk S, sk S expected, found id S",
            "index by-contact: present expected, found none",
            "index by-organization keys: org_pk HASH, sk RANGE expected, found org_pk HASH, org_sk RANGE",
            "index by-organization projection: INCLUDE {\"event_id\", \"platform\"} expected, found ALL {}",
            "stream: NEW_AND_OLD_IMAGES expected, found disabled",
            "encryption at rest: KMS key expected, found AWS owned key",
        ];
        assert_eq!(differences, expected);
    }
}
