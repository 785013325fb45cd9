//! The DynamoDB `CreateTable` request for template.yaml's `EventsTable`, built in this one place:
//! `flowiq-provision` sends it to AWS ([`super::table`]), and the harness (dev-only, which
//! depends on this crate for it) to DynamoDB Local for `create-local-table` and the tests' tables.
//! The properties come typed from `flowiq_template`, which has no AWS SDK; TTL and point-in-time
//! recovery are not part of a `CreateTable` request and are set by each caller afterwards.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder;
use aws_sdk_dynamodb::types::{
    self as ddb, BillingMode, KeyType, ProjectionType, ScalarAttributeType, StreamViewType,
};
use flowiq_template::events_table::{KeyElement, TableProperties};

/// `CreateTable` for a table `name` with `spec`'s capacity mode, keys, indexes, stream and
/// encryption, ready to send.
pub fn request(
    client: &Client,
    name: &str,
    spec: &TableProperties,
) -> Result<CreateTableFluentBuilder, BuildError> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(spec.billing_mode.as_str()))
        .set_key_schema(Some(key_schema(&spec.key_schema)?));
    for attribute in &spec.attribute_definitions {
        request = request.attribute_definitions(
            ddb::AttributeDefinition::builder()
                .attribute_name(&attribute.attribute_name)
                .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
                .build()?,
        );
    }
    for index in &spec.global_secondary_indexes {
        let projection = ddb::Projection::builder()
            .projection_type(ProjectionType::from(
                index.projection.projection_type.as_str(),
            ))
            .set_non_key_attributes(
                (!index.projection.non_key_attributes.is_empty())
                    .then(|| index.projection.non_key_attributes.clone()),
            )
            .build();
        request = request.global_secondary_indexes(
            ddb::GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(projection)
                .build()?,
        );
    }
    if let Some(stream) = &spec.stream_specification {
        request = request.stream_specification(
            ddb::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                .build()?,
        );
    }
    if let Some(sse) = &spec.sse_specification {
        request = request.sse_specification(
            ddb::SseSpecification::builder()
                .enabled(sse.sse_enabled)
                .build(),
        );
    }
    Ok(request)
}

fn key_schema(elements: &[KeyElement]) -> Result<Vec<ddb::KeySchemaElement>, BuildError> {
    elements
        .iter()
        .map(|k| {
            ddb::KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
        })
        .collect()
}
