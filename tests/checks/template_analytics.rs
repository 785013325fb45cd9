//! The analytics archive in template.yaml (EnableAnalyticsArchive, docs/analytics.md): nothing of
//! it without the parameter; with it, the rule, Firehose, the bucket, the Glue table, the Athena
//! workgroup and one named query per question, as the docs say. The Glue table's columns are the
//! archive's schema: they equal EventDetail's flat fields (src/event_detail.rs), personal data
//! only with AnalyticsPersonalData.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use flowiq_harness::template::{Stack, Template, each, strings, text};
use flowiq_webhooks::event_detail::EventDetail;
use flowiq_webhooks::message_status::Direction;
use flowiq_webhooks::platform::Platform;
use serde_json::{Value, json};

static TEMPLATE: LazyLock<Template> = LazyLock::new(Template::repository);

fn deploy(parameters: &[(&str, &str)]) -> Stack {
    let stack = TEMPLATE.deploy(parameters);
    stack.unwrap_or_else(|e| panic!("{parameters:?}: {e}"))
}

const ON: (&str, &str) = ("EnableAnalyticsArchive", "true");
const PERSONAL: (&str, &str) = ("AnalyticsPersonalData", "true");

/// EventDetail's fields that are not columns: the item's key and the raw body (a JSON blob).
const NOT_ARCHIVED: [&str; 3] = ["pk", "sk", "event"];
/// Personal data: columns only with AnalyticsPersonalData.
const PERSONAL_DATA: [&str; 5] = [
    "whatsapp_id",
    "text",
    "media_url",
    "media_file_name",
    "location",
];
/// Fields that hold sortable UTC times (src/clock.rs): `timestamp` columns.
const TIMES: [&str; 2] = ["occurred_at", "received_at"];

/// Every field set: a field added to EventDetail fails to compile here until it is placed.
fn every_field() -> EventDetail {
    let some = |s: &str| Some(s.to_owned());
    EventDetail {
        event_id: "e".into(),
        event_type: "sent_message".into(),
        platform: Platform::Whatsapp,
        organization_id: some("org"),
        whatsapp_message_id: some("wamid.1"),
        occurred_at: some("2026-03-07T09:15:02.123Z"),
        received_at: "2026-03-07T09:15:03.000Z".into(),
        pk: "MSG#wamid.1".into(),
        sk: "EVENT#x".into(),
        contact_id: some("c"),
        whatsapp_id: some("27830000001"),
        direction: Some(Direction::Outbound),
        status: some("sent"),
        message_type: some("text"),
        sender_type: some("broadcast"),
        broadcast_id: some("b"),
        text: some("hi"),
        media_url: some("https://example.com/a.jpg"),
        media_file_name: some("a.jpg"),
        location: some(r#"{"latitude":1}"#),
        event: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
    }
}

/// The Glue table's columns as `name type`, in order.
fn columns(stack: &Stack) -> Vec<(String, String)> {
    let columns = each(
        stack.properties("AnalyticsEventsTable"),
        "TableInput.StorageDescriptor.Columns.*",
    );
    let field = |c: &Value, k: &str| text(&c[k]).unwrap_or_else(|| panic!("{c}"));
    columns
        .into_iter()
        .map(|c| (field(c, "Name"), field(c, "Type")))
        .collect()
}

#[test]
fn nothing_of_the_archive_exists_when_it_is_off() {
    let stack = deploy(&[]);
    let archive: Vec<&String> = stack
        .resources
        .keys()
        .filter(|name| name.starts_with("Analytics"))
        .collect();
    assert!(archive.is_empty(), "{archive:?}");
    let outputs = stack.outputs.as_object().unwrap();
    assert!(!outputs.keys().any(|k| k.starts_with("Analytics")));
    assert!(!stack.has("EventsPipe"), "the Pipe stays optional");
    // Personal data without the archive is refused, not ignored.
    assert_eq!(
        deploy(&[PERSONAL]).failed_rules,
        ["AnalyticsPersonalDataNeedsArchive"]
    );
}

#[test]
fn the_archive_brings_the_pipe_and_its_outputs() {
    for parameters in [vec![ON], vec![ON, PERSONAL, ("RetentionDays", "30")]] {
        let stack = deploy(&parameters);
        assert!(stack.failed_rules.is_empty(), "{:?}", stack.failed_rules);
        assert!(
            stack.has("EventsPipe"),
            "the archive reads the Pipe's events"
        );
        for output in [
            "AnalyticsBucketName",
            "AnalyticsGlueDatabase",
            "AnalyticsWorkGroupName",
        ] {
            assert!(stack.output(output).is_some(), "{output}");
        }
    }
}

#[test]
fn the_columns_are_event_details_flat_fields_and_personal_data_only_when_allowed() {
    let detail: Value = serde_json::from_str(&every_field().to_json()).unwrap();
    let mut expected = BTreeMap::new();
    for (name, value) in detail.as_object().unwrap() {
        if NOT_ARCHIVED.contains(&name.as_str()) {
            continue;
        }
        assert!(value.is_string(), "{name} is a flat string field: {value}");
        let kind = if TIMES.contains(&name.as_str()) {
            "timestamp"
        } else {
            "string"
        };
        expected.insert(name.clone(), kind.to_owned());
    }
    let with_personal: BTreeMap<_, _> = columns(&deploy(&[ON, PERSONAL])).into_iter().collect();
    assert_eq!(with_personal, expected);

    let without: BTreeMap<_, _> = columns(&deploy(&[ON])).into_iter().collect();
    expected.retain(|name, _| !PERSONAL_DATA.contains(&name.as_str()));
    assert_eq!(without, expected, "no personal data column by default");
    // Hive's JSON reader matches fields to columns case-insensitively: lower case, one each.
    assert!(without.keys().all(|name| name == &name.to_lowercase()));
}

/// A Joda pattern as a regular language: each letter is a digit, quoted text is literal.
fn matches_joda(pattern: &str, value: &str) -> bool {
    let mut expected = String::new();
    let mut quoted = false;
    for c in pattern.chars() {
        match c {
            '\'' => quoted = !quoted,
            c if !quoted && c.is_ascii_alphabetic() => expected.push('9'),
            c => expected.push(c),
        }
    }
    let shape: String = value
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    shape == expected
}

#[test]
fn firehose_converts_event_details_to_parquet_by_arrival_day() {
    let stack = deploy(&[ON]);
    let destination =
        &stack.properties("AnalyticsDeliveryStream")["ExtendedS3DestinationConfiguration"];
    assert_eq!(destination["BucketARN"], "AnalyticsBucket.Arn");
    assert_eq!(destination["Prefix"], "events/dt=!{timestamp:yyyy-MM-dd}/");
    let errors = text(&destination["ErrorOutputPrefix"]).unwrap();
    assert!(errors.starts_with("errors/!{firehose:error-output-type}/"));
    // Buffering: the delay before an event is queryable (docs/analytics.md); 64 MB is
    // Firehose's least with format conversion.
    assert_eq!(destination["BufferingHints"]["IntervalInSeconds"], "300");
    let slower = deploy(&[ON, ("AnalyticsBufferSeconds", "900")]);
    let interval = "ExtendedS3DestinationConfiguration.BufferingHints.IntervalInSeconds";
    assert_eq!(
        each(slower.properties("AnalyticsDeliveryStream"), interval),
        [&json!("900")]
    );
    assert!(number(&destination["BufferingHints"]["SizeInMBs"]) >= 64.0);
    assert_eq!(destination["CompressionFormat"], "UNCOMPRESSED");

    let conversion = &destination["DataFormatConversionConfiguration"];
    assert_eq!(conversion["Enabled"], true);
    assert_eq!(
        conversion["OutputFormatConfiguration"]["Serializer"]["ParquetSerDe"]["Compression"],
        "SNAPPY"
    );
    let schema = &conversion["SchemaConfiguration"];
    assert_eq!(schema["DatabaseName"], "AnalyticsDatabase");
    assert_eq!(schema["TableName"], "AnalyticsEventsTable");
    // The times Firehose parses are the ones EventDetail writes.
    let formats = strings(
        &conversion["InputFormatConfiguration"]["Deserializer"]["HiveJsonSerDe"]["TimestampFormats"],
    );
    let detail = every_field();
    for time in [detail.occurred_at.as_deref().unwrap(), &detail.received_at] {
        assert!(
            formats.iter().any(|f| matches_joda(f, time)),
            "{time} matches none of {formats:?}"
        );
    }
    let now = flowiq_webhooks::clock::now_sortable();
    assert!(formats.iter().any(|f| matches_joda(f, &now)), "{now}");
}

fn number(value: &Value) -> f64 {
    text(value)
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

#[test]
fn the_rule_sends_every_stored_events_detail_to_firehose() {
    let stack = deploy(&[ON, ("EventBusName", "flowiq")]);
    let rule = stack.properties("AnalyticsRule");
    assert_eq!(rule["EventBusName"], "flowiq");
    assert_eq!(
        rule["EventPattern"],
        json!({"source": [flowiq_webhooks::event_detail::EVENT_SOURCE]})
    );
    let targets = each(rule, "Targets.*");
    assert_eq!(targets.len(), 1);
    let target = targets[0];
    assert_eq!(target["Arn"], "AnalyticsDeliveryStream.Arn");
    assert_eq!(target["InputPath"], "$.detail", "the row is the detail");
    assert_eq!(
        target["DeadLetterConfig"]["Arn"],
        "AnalyticsRuleFailureQueue.Arn"
    );
    // The Pipe puts the events on the very bus the rule listens to.
    assert!(
        text(&stack.properties("EventsPipe")["Target"])
            .unwrap()
            .ends_with(":event-bus/flowiq")
    );
    // Only this rule may use the failure queue.
    let statement =
        &stack.properties("AnalyticsRuleFailureQueuePolicy")["PolicyDocument"]["Statement"][0];
    assert_eq!(
        statement["Condition"]["ArnEquals"]["aws:SourceArn"],
        "AnalyticsRule.Arn"
    );
}

#[test]
fn the_roles_reach_only_the_archive() {
    let stack = deploy(&[ON]);
    let mut grants = Vec::new();
    for role in ["AnalyticsDeliveryRole", "AnalyticsRuleRole"] {
        let properties = stack.properties(role);
        assert!(properties["ManagedPolicyArns"].is_null());
        for statement in each(properties, "Policies.*.PolicyDocument.Statement.*") {
            assert_eq!(statement["Effect"], "Allow");
            for action in strings(&statement["Action"]) {
                for resource in strings(&statement["Resource"]) {
                    assert!(!action.contains('*') && resource != "*", "{statement}");
                    grants.push(format!("{role} {action} {resource}"));
                }
            }
        }
    }
    let writes: Vec<&String> = grants
        .iter()
        .filter(|g| g.contains("s3:PutObject"))
        .collect();
    assert_eq!(
        writes,
        [
            "AnalyticsDeliveryRole s3:PutObject AnalyticsBucket.Arn/events/*",
            "AnalyticsDeliveryRole s3:PutObject AnalyticsBucket.Arn/errors/*",
        ],
        "Firehose writes its prefixes, never the Athena results"
    );
    assert!(grants.contains(
        &"AnalyticsRuleRole firehose:PutRecordBatch AnalyticsDeliveryStream.Arn".to_owned()
    ));
    let glue = grants.iter().filter(|g| g.contains(" glue:")).count();
    assert_eq!(
        glue, 9,
        "three table reads on the catalog, the database and the table"
    );
}

#[test]
fn the_bucket_is_private_encrypted_tls_only_retained_and_expires_with_the_table() {
    let stack = deploy(&[ON]);
    let bucket = &stack.resources["AnalyticsBucket"];
    assert_eq!(bucket["DeletionPolicy"], "Retain");
    assert_eq!(bucket["UpdateReplacePolicy"], "Retain");
    let properties = &bucket["Properties"];
    let block = &properties["PublicAccessBlockConfiguration"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[setting], true, "{setting}");
    }
    let encryption = each(
        properties,
        "BucketEncryption.ServerSideEncryptionConfiguration.*.ServerSideEncryptionByDefault.SSEAlgorithm",
    );
    assert!(!encryption.is_empty() && encryption.iter().all(|a| !a.is_null()));

    let statement = &stack.properties("AnalyticsBucketPolicy")["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(
        statement["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
    assert_eq!(
        strings(&statement["Resource"]),
        ["AnalyticsBucket.Arn", "AnalyticsBucket.Arn/*"]
    );

    let expiry = |stack: &Stack| -> BTreeMap<String, String> {
        each(
            stack.properties("AnalyticsBucket"),
            "LifecycleConfiguration.Rules.*",
        )
        .into_iter()
        .filter(|rule| !rule["ExpirationInDays"].is_null())
        .map(|rule| {
            (
                text(&rule["Prefix"]).unwrap(),
                text(&rule["ExpirationInDays"]).unwrap(),
            )
        })
        .collect()
    };
    let forever = expiry(&stack);
    assert_eq!(
        forever.get("events/"),
        None,
        "RetentionDays 0 keeps events forever"
    );
    assert_eq!(forever["athena-results/"], "7");
    let kept = expiry(&deploy(&[ON, ("RetentionDays", "90")]));
    assert_eq!(kept["events/"], "90", "no longer than the table");
    assert_eq!(kept["errors/"], "90");
}

#[test]
fn the_table_is_partitioned_by_arrival_day_with_projection_where_firehose_writes() {
    let stack = deploy(&[ON]);
    let input = &stack.properties("AnalyticsEventsTable")["TableInput"];
    assert_eq!(input["Name"], "events", "the named queries read `events`");
    assert_eq!(
        each(input, "PartitionKeys.*.Name"),
        [&json!("dt")],
        "one partition: the day"
    );
    let parameters = &input["Parameters"];
    assert_eq!(parameters["projection.enabled"], "true");
    assert_eq!(parameters["projection.dt.type"], "date");
    assert_eq!(parameters["projection.dt.format"], "yyyy-MM-dd");
    assert_eq!(parameters["projection.dt.interval.unit"], "DAYS");
    // Firehose's prefix, with its day where the projection puts `dt`.
    let firehose = text(
        &stack.properties("AnalyticsDeliveryStream")["ExtendedS3DestinationConfiguration"]["Prefix"],
    )
    .unwrap();
    let template = text(&parameters["storage.location.template"]).unwrap();
    assert_eq!(
        template,
        format!(
            "s3://AnalyticsBucket/{}",
            firehose.replace("!{timestamp:yyyy-MM-dd}", "${dt}")
        )
    );
    let storage = &input["StorageDescriptor"];
    assert_eq!(
        storage["SerdeInfo"]["SerializationLibrary"],
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    );
    assert_eq!(storage["Location"], "s3://AnalyticsBucket/events/");
}

#[test]
fn the_workgroup_enforces_its_results_location_and_its_bytes_limit() {
    let stack = deploy(&[ON, ("AnalyticsBytesScannedCutoff", "1073741824")]);
    let configuration = &stack.properties("AnalyticsWorkGroup")["WorkGroupConfiguration"];
    assert_eq!(configuration["EnforceWorkGroupConfiguration"], true);
    assert_eq!(
        text(&configuration["BytesScannedCutoffPerQuery"]).unwrap(),
        "1073741824"
    );
    let results = text(&configuration["ResultConfiguration"]["OutputLocation"]).unwrap();
    assert_eq!(results, "s3://AnalyticsBucket/athena-results/");
    // Its results expire (the bucket's lifecycle rule on that prefix).
    let rules = each(
        stack.properties("AnalyticsBucket"),
        "LifecycleConfiguration.Rules.*",
    );
    assert!(
        rules
            .iter()
            .any(|r| r["Prefix"] == "athena-results/" && !r["ExpirationInDays"].is_null())
    );
}

/// Athena's positional parameters: `?` outside string literals.
pub fn parameter_count(sql: &str) -> usize {
    let mut quoted = false;
    sql.chars()
        .filter(|&c| {
            if c == '\'' {
                quoted = !quoted;
            }
            c == '?' && !quoted
        })
        .count()
}

#[test]
fn one_named_query_per_question_each_with_its_day_range() {
    let stack = deploy(&[ON]);
    let queries: BTreeMap<String, &Value> = stack
        .of_type("AWS::Athena::NamedQuery")
        .map(|(_, body)| {
            (
                text(&body["Properties"]["Name"]).unwrap(),
                &body["Properties"],
            )
        })
        .collect();
    assert_eq!(
        queries.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "broadcast-funnel",
            "daily-delivery",
            "failures-by-kind",
            "first-response-time",
            "inbound-volume",
            "lost-receipts",
        ]
    );
    for (name, query) in queries {
        assert_eq!(query["WorkGroup"], "AnalyticsWorkGroup", "{name}");
        assert_eq!(query["Database"], "AnalyticsDatabase", "{name}");
        let sql = text(&query["QueryString"]).unwrap();
        assert_eq!(parameter_count(&sql), 2, "{name}: from_day, to_day");
        assert!(
            sql.contains("dt BETWEEN ? AND ?"),
            "{name} reads only its days"
        );
        let description = text(&query["Description"]).unwrap();
        assert!(
            description.ends_with("Parameters: from_day to_day."),
            "{name}: {description}"
        );
        // No personal data column: every query runs whatever AnalyticsPersonalData says.
        for column in PERSONAL_DATA {
            assert!(!sql.contains(column), "{name} reads {column}");
        }
    }
}
