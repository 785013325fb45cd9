//! template.yaml against the code and against AWS: the functions build binaries that exist, the
//! route is the one the handler serves, IAM grants only what the code calls (never `*`), every
//! charted or alarmed metric is one that is published, and each parameter ("lever") changes the
//! stack the way docs/deployment.md says. Each stack is the template evaluated for some parameter
//! values as CloudFormation would ([`flowiq_harness::template`]): a reference to a resource the
//! stack does not have fails its evaluation.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use flowiq_harness::template::{Stack, Template, each, strings, text};
use flowiq_webhooks::{keys, metrics};
use serde_json::{Value, json};

static TEMPLATE: LazyLock<Template> = LazyLock::new(Template::repository);

/// Parameter values are written `Name=value ...` (`-`: the defaults); `@name` is one of these.
const PRESETS: &str = "
@url Endpoint=FunctionUrl ReservedConcurrency=100
@domain CustomDomainName=hooks.example.com CertificateArn=arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d
@projection DeployMessageProjection=true
@streams DeployStreamConsumer=true EnableEventBridgePipe=true
@warm WarmWriteUnitsPerSecond=20000 WarmIndexWriteUnitsPerSecond=8000
@provisioned BillingMode=PROVISIONED ProvisionedTargetUtilization=60 ProvisionedMinWriteUnits=25 ProvisionedMaxWriteUnits=3000 ProvisionedMinReadUnits=2 ProvisionedMaxReadUnits=50
@all @domain CustomDomainBasePath=flowiq @streams @projection @provisioned EnableMetrics=false SystemLogLevel=WARN ReservedConcurrency=300 AlarmTopicArn=arn:aws:sns:eu-west-1:123456789012:ops
@all-url @url AccessLogs=false @streams @projection WarmWriteUnitsPerSecond=12000 WarmIndexWriteUnitsPerSecond=6000 LogLevel=warn";

/// Every lever alone, and everything at once.
const SCENARIOS: [&str; 20] = [
    "-",
    "Endpoint=FunctionUrl",
    "KeepUnprefixedUrl=true",
    "@domain CustomDomainBasePath=flowiq KeepUnprefixedUrl=true",
    "ReservedConcurrency=200",
    "@warm",
    "@streams",
    "@projection",
    "AlarmTopicArn=arn:aws:sns:eu-west-1:123456789012:ops",
    "@domain",
    "@domain CustomDomainBasePath=flowiq",
    "@url",
    "@provisioned",
    "AccessLogs=false",
    "LogLevel=debug SystemLogLevel=WARN DeployStreamConsumer=true",
    "EnableMetrics=false",
    "MetricsNamespace=Acme/FlowIQ",
    "SpillMaxReceiveCount=240 SpillDrainMaximumConcurrency=20",
    "@all",
    "@all-url",
];

fn deploy(parameters: &str) -> Stack {
    fn expand<'a>(parameters: &'a str, out: &mut Vec<(&'a str, &'a str)>) {
        for word in parameters.split_whitespace().filter(|w| *w != "-") {
            let preset = PRESETS
                .lines()
                .find_map(|l| l.strip_prefix(word)?.strip_prefix(' '));
            match preset {
                Some(preset) => expand(preset, out),
                None => out.push(word.split_once('=').expect("Name=value")),
            }
        }
    }
    let mut overrides = Vec::new();
    expand(parameters, &mut overrides);
    let stack = TEMPLATE.deploy(&overrides);
    stack.unwrap_or_else(|e| panic!("{parameters}: {e}"))
}

fn number(value: &Value) -> f64 {
    let number = text(value).and_then(|t| t.parse().ok());
    number.unwrap_or_else(|| panic!("not a number: {value}"))
}

#[test]
fn every_scenario_deploys_and_its_outputs_are_strings_without_the_token() {
    for parameters in SCENARIOS {
        let stack = deploy(parameters);
        assert!(stack.failed_rules.is_empty(), "{parameters}: {stack:?}");
        for (name, value) in stack.outputs.as_object().unwrap() {
            let value = value.as_str().unwrap_or_else(|| panic!("{name}: {value}"));
            assert!(!value.contains("resolve:secretsmanager"), "{name}");
        }
    }
}

#[test]
fn rules_refuse_what_cannot_work() {
    let refused = "
        CustomDomainName=x.example.com | CustomDomainNeedsCertificate
        CustomDomainBasePath=flowiq | CustomDomainBasePathNeedsDomain
        @url @domain | CustomDomainNeedsHttpApi
        BillingMode=PROVISIONED WarmWriteUnitsPerSecond=8000 | WarmThroughputIsForOnDemand
        BillingMode=PROVISIONED WarmIndexWriteUnitsPerSecond=8000 | WarmThroughputIsForOnDemand";
    for (parameters, rule) in refused
        .trim()
        .lines()
        .map(|l| l.trim().split_once(" | ").unwrap())
    {
        assert_eq!(deploy(parameters).failed_rules, [rule], "{parameters}");
    }
}

/// What each stack has: `parameter sets | path | value`. The sets are separated by `;`; the path
/// is read by `Stack::each` (a logical id, a resource type or `Outputs`, then keys; `*` for every
/// element); the value is `~` (absent), `+` (present), `""`, `#N` (N values), `<=N` or `>=N`, or
/// the value as text.
const STACKS: &str = r#"
# Functions: this crate's binaries for Lambda (arm64, 128 MB): the webhook, the drain, the stream consumer, the
# projection and the Pipe's enrichment. The webhook function answers within
# ~5 s (DynamoDB ~2.5 s, then the spill ~2 s), under API Gateway's 30 s.
@all | AWS::Serverless::Function | #6
@all | AWS::Serverless::Function.Metadata.BuildMethod | rust-cargolambda
@all | AWS::Serverless::Function.Properties.Runtime | provided.al2023
@all | AWS::Serverless::Function.Properties.Handler | bootstrap
@all | AWS::Serverless::Function.Properties.Architectures.* | arm64
@all | AWS::Serverless::Function.Properties.MemorySize | 128
@all | AWS::Serverless::Function.Properties.Timeout | <=60
- | WebhookFunction.Properties.Timeout | >=10
- | WebhookFunction.Properties.Timeout | <=29
# Log levels: RUST_LOG and Lambda's application level for every function (Lambda filters by level
# only with JSON logs), and Lambda's system level.
@all ; @all-url | AWS::Serverless::Function.Properties.LoggingConfig.LogFormat | JSON
@streams @projection | AWS::Serverless::Function.Properties.Environment.Variables.RUST_LOG | info
@streams @projection | AWS::Serverless::Function.Properties.LoggingConfig.ApplicationLogLevel | INFO
@streams @projection | AWS::Serverless::Function.Properties.LoggingConfig.SystemLogLevel | INFO
LogLevel=debug SystemLogLevel=DEBUG @streams @projection | AWS::Serverless::Function.Properties.Environment.Variables.RUST_LOG | debug
LogLevel=debug SystemLogLevel=DEBUG @streams @projection | AWS::Serverless::Function.Properties.LoggingConfig.ApplicationLogLevel | DEBUG
LogLevel=debug SystemLogLevel=DEBUG @streams @projection | AWS::Serverless::Function.Properties.LoggingConfig.SystemLogLevel | DEBUG
LogLevel=warn SystemLogLevel=WARN @streams @projection | AWS::Serverless::Function.Properties.Environment.Variables.RUST_LOG | warn
LogLevel=warn SystemLogLevel=WARN @streams @projection | AWS::Serverless::Function.Properties.LoggingConfig.ApplicationLogLevel | WARN
LogLevel=warn SystemLogLevel=WARN @streams @projection | AWS::Serverless::Function.Properties.LoggingConfig.SystemLogLevel | WARN
LogLevel=error @streams @projection | AWS::Serverless::Function.Properties.Environment.Variables.RUST_LOG | error
LogLevel=error @streams @projection | AWS::Serverless::Function.Properties.LoggingConfig.ApplicationLogLevel | ERROR
# Reserved concurrency: the unreserved pool unless asked; the function URL's cap.
- | WebhookFunction.Properties.ReservedConcurrentExecutions | ~
ReservedConcurrency=200 | WebhookFunction.Properties.ReservedConcurrentExecutions | 200
Endpoint=FunctionUrl | WebhookFunction.Properties.ReservedConcurrentExecutions | 100
@url | WebhookFunction.Properties.ReservedConcurrentExecutions | 100
# Pre-warmed writes for the table and each index, on demand only (the receiver does not read).
- | EventsTable.Properties.WarmThroughput | ~
- | EventsTable.Properties.GlobalSecondaryIndexes.*.WarmThroughput | ~
@warm | EventsTable.Properties.WarmThroughput.WriteUnitsPerSecond | 20000
@warm | EventsTable.Properties.WarmThroughput.ReadUnitsPerSecond | ~
@warm | EventsTable.Properties.GlobalSecondaryIndexes.*.WarmThroughput.WriteUnitsPerSecond | 8000
BillingMode=PROVISIONED WarmWriteUnitsPerSecond=8000 | EventsTable.Properties.WarmThroughput | ~
BillingMode=PROVISIONED WarmIndexWriteUnitsPerSecond=8000 | EventsTable.Properties.GlobalSecondaryIndexes.*.WarmThroughput | ~
# Billing mode: on demand without capacity or auto scaling; provisioned with both, read and write
# for the table and each index (one target-tracking policy per scalable target).
- | EventsTable.Properties.BillingMode | PAY_PER_REQUEST
- | EventsTable.Properties.ProvisionedThroughput | ~
- | EventsTable.Properties.GlobalSecondaryIndexes.*.ProvisionedThroughput | ~
- | AWS::ApplicationAutoScaling::ScalableTarget | #0
- | AWS::ApplicationAutoScaling::ScalingPolicy | #0
@provisioned | EventsTable.Properties.BillingMode | PROVISIONED
@provisioned | EventsTable.Properties.ProvisionedThroughput.ReadCapacityUnits | 2
@provisioned | EventsTable.Properties.ProvisionedThroughput.WriteCapacityUnits | 25
@provisioned | EventsTable.Properties.GlobalSecondaryIndexes.*.ProvisionedThroughput.ReadCapacityUnits | 2
@provisioned | EventsTable.Properties.GlobalSecondaryIndexes.*.ProvisionedThroughput.WriteCapacityUnits | 25
@provisioned | AWS::ApplicationAutoScaling::ScalableTarget.Properties.ServiceNamespace | dynamodb
@provisioned | AWS::ApplicationAutoScaling::ScalableTarget.Properties.RoleARN | ~
@provisioned | AWS::ApplicationAutoScaling::ScalingPolicy.Properties.PolicyType | TargetTrackingScaling
@provisioned | AWS::ApplicationAutoScaling::ScalingPolicy.Properties.TargetTrackingScalingPolicyConfiguration.TargetValue | 60
# The HTTP API: one stage at the root, redeploying on every change, always throttled (the
# parameters cannot be 0); API Gateway may invoke the function for its POST route only.
- | WebhookApiStage.Properties.ApiId | WebhookApi
- | WebhookApiStage.Properties.StageName | 51af3dc0-d3a5-11f0-8de9-0242ac120002
- | WebhookApiStage.Properties.AutoDeploy | true
- ; @all ; AccessLogs=false | WebhookApiStage.Properties.DefaultRouteSettings.* | >=1
# The old URL (the $default stage) only while KeepUnprefixedUrl switches a stack, throttled alike.
- ; @all ; @domain | WebhookApiApiGatewayDefaultStage | ~
- ; @all | Outputs.UnprefixedWebhookBaseUrl | ~
KeepUnprefixedUrl=true | WebhookApiApiGatewayDefaultStage.Properties.StageName | $default
KeepUnprefixedUrl=true ; KeepUnprefixedUrl=true AccessLogs=false | WebhookApiApiGatewayDefaultStage.Properties.DefaultRouteSettings.* | >=1
KeepUnprefixedUrl=true | Outputs.UnprefixedWebhookBaseUrl | https://WebhookApi.execute-api.eu-west-1.amazonaws.com
KeepUnprefixedUrl=true @url | WebhookApiApiGatewayDefaultStage | ~
- | WebhookApi.Properties.Body.paths.*.post.x-amazon-apigateway-integration.type | aws_proxy
- | WebhookApi.Properties.Body.paths.*.post.x-amazon-apigateway-integration.payloadFormatVersion | 2.0
- | WebhookApi.Properties.Body.paths.*.post.x-amazon-apigateway-integration.uri | arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/WebhookFunctionAliaslive/invocations
- | AWS::Lambda::Permission | #1
- | WebhookFunctionWebhookPermission.Properties.Principal | apigateway.amazonaws.com
- | WebhookFunctionWebhookPermission.Properties.Action | lambda:InvokeFunction
- | WebhookFunctionWebhookPermission.Properties.SourceArn | arn:aws:execute-api:eu-west-1:123456789012:WebhookApi/*/POST/webhooks/*/*
- | Outputs.WebhookBaseUrl | https://WebhookApi.execute-api.eu-west-1.amazonaws.com/51af3dc0-d3a5-11f0-8de9-0242ac120002
# Without access logs: no log, no 429 metric or alarm; still alarmed on 5xx.
AccessLogs=false | WebhookApiStage.Properties.AccessLogSettings | ~
AccessLogs=false | WebhookApiAccessLogGroup | ~
AccessLogs=false | ThrottledDeliveriesMetricFilter | ~
AccessLogs=false | ThrottledDeliveriesAlarm | ~
AccessLogs=false | WebhookApi5xxAlarm | +
# The function URL replaces the API; the token in the path authenticates. Since October 2025 a
# URL needs both statements: InvokeFunctionUrl for its auth type, InvokeFunction only through a
# URL. No trailing slash in the base URL: the bootstrap appends /webhooks/...
@url | AWS::ApiGatewayV2::Api | #0
@url | AWS::ApiGatewayV2::Stage | #0
@url | WebhookApiAccessLogGroup | ~
@url | ThrottledDeliveriesMetricFilter | ~
@url | ThrottledDeliveriesAlarm | ~
@url | WebhookApi5xxAlarm | ~
@url | WebhookFunctionUrl.Properties.AuthType | NONE
@url | WebhookFunctionUrl.Properties.TargetFunctionArn | WebhookFunction.Arn
@url | WebhookFunctionUrl.Properties.Qualifier | live
@url | AWS::Lambda::Permission | #2
@url | AWS::Lambda::Permission.Properties.FunctionName | WebhookFunctionAliaslive
@url | AWS::Lambda::Permission.Properties.Principal | *
@url | AWS::Lambda::Permission.Properties.SourceArn | ~
@url | WebhookFunctionUrlPublicPermission.Properties.Action | lambda:InvokeFunctionUrl
@url | WebhookFunctionUrlPublicPermission.Properties.FunctionUrlAuthType | NONE
@url | WebhookFunctionUrlInvokePermission.Properties.Action | lambda:InvokeFunction
@url | WebhookFunctionUrlInvokePermission.Properties.InvokedViaFunctionUrl | true
@url | Outputs.WebhookBaseUrl | https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws
@url | WebhookFunctionUrl5xxAlarm.Properties.Namespace | AWS/Lambda
@url | WebhookFunctionUrl5xxAlarm.Properties.MetricName | Url5xxCount
@url | WebhookFunctionUrl5xxAlarm.Properties.Dimensions.0.Value | WebhookFunction
- | WebhookFunctionUrl5xxAlarm | ~
# A custom domain maps the API, at its root or a base path, and outputs its URL and DNS target.
- | AWS::ApiGatewayV2::DomainName | #0
- | AWS::ApiGatewayV2::ApiMapping | #0
- | Outputs.CustomDomainWebhookBaseUrl | ~
- | Outputs.CustomDomainTarget | ~
@domain | WebhookDomainName.Properties.DomainName | hooks.example.com
@domain | WebhookDomainName.Properties.DomainNameConfigurations.*.CertificateArn | arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d
@domain | WebhookDomainName.Properties.DomainNameConfigurations.*.EndpointType | REGIONAL
@domain | WebhookDomainName.Properties.DomainNameConfigurations.*.SecurityPolicy | TLS_1_2
@domain | AWS::ApiGatewayV2::ApiMapping | #1
@domain | WebhookApiPrefixedMapping.Properties.DomainName | WebhookDomainName
@domain | WebhookApiPrefixedMapping.Properties.ApiId | WebhookApi
@domain | WebhookApiPrefixedMapping.Properties.Stage | 51af3dc0-d3a5-11f0-8de9-0242ac120002
@domain | WebhookApiPrefixedMapping.Properties.ApiMappingKey | 51af3dc0-d3a5-11f0-8de9-0242ac120002
@domain KeepUnprefixedUrl=true | AWS::ApiGatewayV2::ApiMapping | #2
@domain KeepUnprefixedUrl=true | WebhookApiMapping.Properties.Stage | $default
@domain KeepUnprefixedUrl=true | WebhookApiMapping.Properties.ApiMappingKey | ~
@domain | Outputs.CustomDomainWebhookBaseUrl | https://hooks.example.com/51af3dc0-d3a5-11f0-8de9-0242ac120002
@domain | Outputs.CustomDomainTarget | d-abcde12345.execute-api.eu-west-1.amazonaws.com
@domain | Outputs.CustomDomainHostedZoneId | +
@domain CustomDomainBasePath=flowiq | WebhookApiPrefixedMapping.Properties.ApiMappingKey | flowiq/51af3dc0-d3a5-11f0-8de9-0242ac120002
@domain CustomDomainBasePath=flowiq KeepUnprefixedUrl=true | WebhookApiMapping.Properties.ApiMappingKey | flowiq
@domain CustomDomainBasePath=flowiq | Outputs.CustomDomainWebhookBaseUrl | https://hooks.example.com/flowiq/51af3dc0-d3a5-11f0-8de9-0242ac120002
# The spill, on every endpoint: two queues kept like the table (deliveries answered 200 but not
# stored yet), the URL for the function, the drain's SQS mapping without tokens (queued
# deliveries were authenticated), the redrive, and alarms on anything queued, waiting 15 minutes,
# dead-lettered, or the drain's errors.
- ; @url ; @all | SpillQueue.Properties.MessageRetentionPeriod | 1209600
- ; @url ; @all | SpillDeadLetterQueue.Properties.MessageRetentionPeriod | 1209600
- ; @url ; @all | SpillQueue.Properties.SqsManagedSseEnabled | true
- ; @url ; @all | SpillDeadLetterQueue.Properties.SqsManagedSseEnabled | true
- ; @url ; @all | SpillQueue.DeletionPolicy | Retain
- ; @url ; @all | SpillQueue.UpdateReplacePolicy | Retain
- ; @url ; @all | SpillDeadLetterQueue.DeletionPolicy | Retain
- ; @url ; @all | SpillDeadLetterQueue.UpdateReplacePolicy | Retain
- ; @url ; @all | WebhookFunction.Properties.Environment.Variables.SPILL_QUEUE_URL | SpillQueue
- ; @url ; @all | Outputs.SpillQueueUrl | SpillQueue
- ; @url ; @all | Outputs.SpillDeadLetterQueueUrl | SpillDeadLetterQueue
- | SpillDrainFunction.Properties.Environment.Variables.* | #5
- | SpillDrainFunction.Properties.Environment.Variables.TABLE_NAME | EventsTable
- | SpillDrainFunction.Properties.Environment.Variables.RETENTION_DAYS | +
- | SpillDrainFunction.Properties.LoggingConfig.LogFormat | JSON
- | SpillDrainFunction.Properties.LoggingConfig.LogGroup | SpillDrainFunctionLogGroup
- | SpillDrainFunction.Properties.Events.* | #1
- | SpillDrainFunction.Properties.Events.*.Type | SQS
- | SpillDrainFunction.Properties.Events.*.Properties.Queue | SpillQueue.Arn
- | SpillDrainFunction.Properties.Events.*.Properties.BatchSize | 10
- | SpillDrainFunction.Properties.Events.*.Properties.FunctionResponseTypes.* | ReportBatchItemFailures
- | SpillDrainFunction.Properties.Events.*.Properties.ScalingConfig.MaximumConcurrency | 2
SpillDrainMaximumConcurrency=20 | SpillDrainFunction.Properties.Events.*.Properties.ScalingConfig.MaximumConcurrency | 20
- | SpillQueue.Properties.RedrivePolicy.deadLetterTargetArn | SpillDeadLetterQueue.Arn
- | SpillQueue.Properties.RedrivePolicy.maxReceiveCount | 10
SpillMaxReceiveCount=240 | SpillQueue.Properties.RedrivePolicy.maxReceiveCount | 240
- | SpillDeadLetterQueue.Properties.RedrivePolicy | ~
- | SpilledDeliveriesAlarm.Properties.MetricName | NumberOfMessagesSent
- | SpilledDeliveriesAlarm.Properties.Dimensions.0.Value | SpillQueue.QueueName
- | SpillQueueAgeAlarm.Properties.MetricName | ApproximateAgeOfOldestMessage
- | SpillQueueAgeAlarm.Properties.Dimensions.0.Value | SpillQueue.QueueName
- | SpillQueueAgeAlarm.Properties.Threshold | <=900
- | SpillDeadLetterQueueAlarm.Properties.MetricName | ApproximateNumberOfMessagesVisible
- | SpillDeadLetterQueueAlarm.Properties.Dimensions.0.Value | SpillDeadLetterQueue.QueueName
- | SpillDeadLetterQueueAlarm.Properties.Threshold | 1
- | SpillDeadLetterQueueAlarm.Properties.ComparisonOperator | GreaterThanOrEqualToThreshold
- | SpillDrainFunctionErrorsAlarm.Properties.MetricName | Errors
- | SpillDrainFunctionErrorsAlarm.Properties.Dimensions.0.Value | SpillDrainFunction
# The message projection, only when asked: a stream-fed function with its failure queue, within
# the stream's 24 hours.
- | MessageProjectionFunction | ~
- | MessageProjectionFailureQueueAlarm | ~
- | EventsTableUpdateItemThrottlesAlarm | ~
- | Outputs.MessageProjectionFunctionName | ~
@projection | Outputs.MessageProjectionFunctionName | MessageProjectionFunction
@projection | MessageProjectionFunction.Metadata.BuildProperties.Binary | flowiq-message-projection
@projection | MessageProjectionFunction.Properties.Environment.Variables.* | #3
@projection | MessageProjectionFunction.Properties.Environment.Variables.TABLE_NAME | EventsTable
@projection | MessageProjectionFunction.Properties.Environment.Variables.RETENTION_DAYS | +
@projection | MessageProjectionFunction.Properties.Role | MessageProjectionFunctionRole.Arn
@projection | MessageProjectionFunction.Properties.LoggingConfig.LogGroup | MessageProjectionFunctionLogGroup
@projection | MessageProjectionFunction.Properties.Events.* | #1
@projection | MessageProjectionFunction.Properties.Events.*.Type | DynamoDB
@projection | MessageProjectionFunction.Properties.Events.*.Properties.Stream | EventsTable.StreamArn
@projection | MessageProjectionFunction.Properties.Events.*.Properties.StartingPosition | TRIM_HORIZON
@projection | MessageProjectionFunction.Properties.Events.*.Properties.BatchSize | 100
@projection | MessageProjectionFunction.Properties.Events.*.Properties.BisectBatchOnFunctionError | true
@projection | MessageProjectionFunction.Properties.Events.*.Properties.FunctionResponseTypes.* | ReportBatchItemFailures
@projection | MessageProjectionFunction.Properties.Events.*.Properties.MaximumRetryAttempts | >=1
@projection | MessageProjectionFunction.Properties.Events.*.Properties.MaximumRecordAgeInSeconds | <=86400
@projection | MessageProjectionFunction.Properties.Events.*.Properties.DestinationConfig.OnFailure.Destination | MessageProjectionFailureQueue.Arn
@projection | MessageProjectionFailureQueue.Properties.SqsManagedSseEnabled | true
@projection | MessageProjectionFailureQueueAlarm.Properties.MetricName | ApproximateNumberOfMessagesVisible
@projection | MessageProjectionFailureQueueAlarm.Properties.Dimensions.0.Value | MessageProjectionFailureQueue.QueueName
@projection | EventsTableUpdateItemThrottlesAlarm | +
# Alarms: one occurrence in 5 minutes (FlowIQ does not retry: any failure may be a lost event),
# to the topic when there is one; the function's own throttling keeps its alarm. The rollback
# alarm of a deploy in 1 minute, inside the canary's 5 (template_deploy.rs).
@all ; @all-url | AWS::CloudWatch::Alarm.Properties.Period | >=60
@all ; @all-url | AWS::CloudWatch::Alarm.Properties.Period | <=300
@all ; @all-url | AWS::CloudWatch::Alarm.Properties.EvaluationPeriods | 1
@all ; @all-url | AWS::CloudWatch::Alarm.Properties.TreatMissingData | notBreaching
@all | AWS::CloudWatch::Alarm.Properties.AlarmActions.0 | arn:aws:sns:eu-west-1:123456789012:ops
@all | AWS::CloudWatch::Alarm.Properties.AlarmActions.1 | ~
- | AWS::CloudWatch::Alarm.Properties.AlarmActions | ~
- | WebhookFunctionThrottlesAlarm | +
# Metrics: API Gateway's 429s counted from the access log (once each) in the stack's namespace,
# and alarmed; the function's namespace (empty: metrics off). Both follow the lever.
- | ThrottledDeliveriesMetricFilter.Properties.MetricTransformations.* | #1
- | ThrottledDeliveriesMetricFilter.Properties.MetricTransformations.*.MetricName | ThrottledDeliveries
- | ThrottledDeliveriesMetricFilter.Properties.MetricTransformations.*.MetricNamespace | FlowIQWebhooks
- | ThrottledDeliveriesMetricFilter.Properties.MetricTransformations.*.MetricValue | 1
- | ThrottledDeliveriesAlarm.Properties.MetricName | ThrottledDeliveries
- | ThrottledDeliveriesAlarm.Properties.Namespace | FlowIQWebhooks
- | ThrottledDeliveriesAlarm.Properties.Dimensions | ~
- | ThrottledDeliveriesAlarm.Properties.Statistic | Sum
- | ThrottledDeliveriesAlarm.Properties.Threshold | 1
- | ThrottledDeliveriesAlarm.Properties.ComparisonOperator | GreaterThanOrEqualToThreshold
- | WebhookFunction.Properties.Environment.Variables.METRICS_NAMESPACE | FlowIQWebhooks
EnableMetrics=false | WebhookFunction.Properties.Environment.Variables.METRICS_NAMESPACE | ""
MetricsNamespace=Acme/FlowIQ | WebhookFunction.Properties.Environment.Variables.METRICS_NAMESPACE | Acme/FlowIQ
MetricsNamespace=Acme/FlowIQ | ThrottledDeliveriesMetricFilter.Properties.MetricTransformations.*.MetricNamespace | Acme/FlowIQ
MetricsNamespace=Acme/FlowIQ | ThrottledDeliveriesAlarm.Properties.Namespace | Acme/FlowIQ
# The token: the function names its secret (docs/security.md#the-token), never the token.
- ; @url ; @all | WebhookFunction.Properties.Environment.Variables.WEBHOOK_TOKEN_SECRET | WebhookTokenSecret
- ; @url ; @all | WebhookFunction.Properties.Environment.Variables.WEBHOOK_TOKENS | ~
# The contact key: both functions that write contact keys name its secret, which is retained
# (docs/security.md#contact-keys); the CLI finds it in the stack's outputs.
- ; @url ; @all | WebhookFunction.Properties.Environment.Variables.CONTACT_KEY_SECRET | ContactKeySecret
- ; @url ; @all | SpillDrainFunction.Properties.Environment.Variables.CONTACT_KEY_SECRET | ContactKeySecret
- ; @url ; @all | WebhookFunction.Properties.Environment.Variables.CONTACT_KEY | ~
- ; @url ; @all | ContactKeySecret.DeletionPolicy | Retain
- ; @url ; @all | ContactKeySecret.UpdateReplacePolicy | Retain
- ; @url ; @all | ContactKeySecret.Properties.GenerateSecretString.PasswordLength | 64
- ; @url ; @all | Outputs.ContactKeySecretArn | ContactKeySecret
# Rejected bodies have a retention of their own (docs/security.md#storage-abuse), the same in the
# function and the drain (both write rejected items); its default is the code's
# (DEFAULT_REJECTED_RETENTION_DAYS).
- | WebhookFunction.Properties.Environment.Variables.REJECTED_RETENTION_DAYS | 30
- | SpillDrainFunction.Properties.Environment.Variables.REJECTED_RETENTION_DAYS | 30
RejectedRetentionDays=7 | WebhookFunction.Properties.Environment.Variables.REJECTED_RETENTION_DAYS | 7
RejectedRetentionDays=7 | SpillDrainFunction.Properties.Environment.Variables.REJECTED_RETENTION_DAYS | 7
# Unusual write volume: the table's own write units over 5 minutes, 100 a second by default.
- | WriteVolumeAlarm.Properties.Namespace | AWS/DynamoDB
- | WriteVolumeAlarm.Properties.MetricName | ConsumedWriteCapacityUnits
- | WriteVolumeAlarm.Properties.Dimensions.0.Value | EventsTable
- | WriteVolumeAlarm.Properties.Dimensions.1 | ~
- | WriteVolumeAlarm.Properties.Statistic | Sum
- | WriteVolumeAlarm.Properties.Threshold | 30000
WriteUnitsAlarmThreshold=90000 | WriteVolumeAlarm.Properties.Threshold | 90000
WriteUnitsAlarmThreshold=0 | WriteVolumeAlarm | ~
# Dashboard names are global to the account: the Region keeps stacks apart.
- | WebhookDashboard.Properties.DashboardName | flowiq-webhooks-eu-west-1
- | Outputs.DashboardUrl | https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=WebhookDashboard
"#;

#[test]
fn each_stack_has_what_its_parameters_say() {
    for row in STACKS
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if let Err(problem) = check_row(row) {
            panic!("{row}: {problem}");
        }
    }
}

/// One row of [`STACKS`].
fn check_row(row: &str) -> Result<(), String> {
    let [sets, path, expected] = row.split(" | ").collect::<Vec<_>>()[..] else {
        return Err("not `parameters | path | value`".into());
    };
    for parameters in sets.split(';') {
        let stack = deploy(parameters);
        let values = stack.each(path);
        if let Some(count) = expected.strip_prefix('#') {
            match values.len().to_string() == count {
                true => continue,
                false => return Err(format!("{} values with {parameters}", values.len())),
            }
        }
        // A misspelt name is absent too: the template has the resource or output, and for a
        // property the stack has its resource.
        let mut names = path.split('.');
        let known = match (names.next().unwrap(), names.next()) {
            ("Outputs", Some(output)) => !TEMPLATE.yaml["Outputs"][output].is_null(),
            (kind, _) if kind.contains("::") => true,
            (id, None) => !TEMPLATE.yaml["Resources"][id].is_null(),
            (id, Some(_)) => stack.has(id),
        };
        if values.is_empty() || !known {
            return Err(format!("nothing there with {parameters}"));
        }
        for value in values {
            let bound = |prefix| expected.strip_prefix(prefix)?.parse::<f64>().ok();
            let holds = match expected {
                "~" => value.is_null(),
                "+" => !value.is_null(),
                r#""""# => value == "",
                _ if expected.starts_with("<=") => bound("<=").is_some_and(|b| number(value) <= b),
                _ if expected.starts_with(">=") => bound(">=").is_some_and(|b| number(value) >= b),
                _ => text(value).as_deref() == Some(expected),
            };
            if !holds {
                return Err(format!("{value} with {parameters}"));
            }
        }
    }
    Ok(())
}

/// Every grant of the roles whose functions this crate builds, `role action resource`: what the
/// code calls and nothing else. Webhook function: storage contract v2's one conditional PutItem
/// per delivery (and the init warm-up, a PutItem that never applies), the spill's SendMessage,
/// its token secret and the contact key. Spill drain: the same PutItem, what the SQS mapping
/// does with the function's role plus the drain's own visibility changes, the contact key. Message projection: the merge into the `message` item, the
/// stream, its failure queue. Pipe enrichment: its logs only (the stream record holds the item).
/// The Pipe: the stream, invoking the enrichment's alias (and no other function), the bus, its
/// failure queue. The pre-traffic hook: invoking the webhook function's versions (the one to check
/// changes with every deploy) and reporting to this deployment group only.
const GRANTS: &str = "\
WebhookFunctionRole logs:CreateLogStream WebhookFunctionLogGroup.Arn
WebhookFunctionRole logs:PutLogEvents WebhookFunctionLogGroup.Arn
WebhookFunctionRole dynamodb:PutItem EventsTable.Arn
WebhookFunctionRole sqs:SendMessage SpillQueue.Arn
WebhookFunctionRole secretsmanager:GetSecretValue WebhookTokenSecret
WebhookFunctionRole secretsmanager:GetSecretValue ContactKeySecret
SpillDrainFunctionRole logs:CreateLogStream SpillDrainFunctionLogGroup.Arn
SpillDrainFunctionRole logs:PutLogEvents SpillDrainFunctionLogGroup.Arn
SpillDrainFunctionRole dynamodb:PutItem EventsTable.Arn
SpillDrainFunctionRole sqs:ReceiveMessage SpillQueue.Arn
SpillDrainFunctionRole sqs:DeleteMessage SpillQueue.Arn
SpillDrainFunctionRole sqs:GetQueueAttributes SpillQueue.Arn
SpillDrainFunctionRole sqs:ChangeMessageVisibility SpillQueue.Arn
SpillDrainFunctionRole secretsmanager:GetSecretValue ContactKeySecret
MessageProjectionFunctionRole logs:CreateLogStream MessageProjectionFunctionLogGroup.Arn
MessageProjectionFunctionRole logs:PutLogEvents MessageProjectionFunctionLogGroup.Arn
MessageProjectionFunctionRole dynamodb:UpdateItem EventsTable.Arn
MessageProjectionFunctionRole dynamodb:DescribeStream EventsTable.StreamArn
MessageProjectionFunctionRole dynamodb:GetRecords EventsTable.StreamArn
MessageProjectionFunctionRole dynamodb:GetShardIterator EventsTable.StreamArn
MessageProjectionFunctionRole dynamodb:ListStreams EventsTable.Arn/stream/*
MessageProjectionFunctionRole sqs:SendMessage MessageProjectionFailureQueue.Arn
PipeEnrichmentFunctionRole logs:CreateLogStream PipeEnrichmentFunctionLogGroup.Arn
PipeEnrichmentFunctionRole logs:PutLogEvents PipeEnrichmentFunctionLogGroup.Arn
EventsPipeRole dynamodb:DescribeStream EventsTable.StreamArn
EventsPipeRole dynamodb:GetRecords EventsTable.StreamArn
EventsPipeRole dynamodb:GetShardIterator EventsTable.StreamArn
EventsPipeRole dynamodb:ListStreams EventsTable.Arn/stream/*
EventsPipeRole lambda:InvokeFunction PipeEnrichmentFunctionAliaslive
EventsPipeRole events:PutEvents arn:aws:events:eu-west-1:123456789012:event-bus/default
EventsPipeRole sqs:SendMessage PipeFailureQueue.Arn
WebhookPreTrafficHookFunctionRole logs:CreateLogStream WebhookPreTrafficHookFunctionLogGroup.Arn
WebhookPreTrafficHookFunctionRole logs:PutLogEvents WebhookPreTrafficHookFunctionLogGroup.Arn
WebhookPreTrafficHookFunctionRole lambda:InvokeFunction WebhookFunction.Arn:*
WebhookPreTrafficHookFunctionRole codedeploy:PutLifecycleEventHookExecutionStatus arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:ServerlessDeploymentApplication/WebhookFunctionDeploymentGroup";

#[test]
fn roles_grant_only_what_the_code_calls_and_never_a_wildcard() {
    let mut grants = BTreeSet::new();
    for stack in [deploy("@all"), deploy("@all-url")] {
        for (role, body) in stack.of_type("AWS::IAM::Role") {
            let properties = &body["Properties"];
            assert!(properties["ManagedPolicyArns"].is_null(), "{role}: `*`s");
            for statement in each(properties, "Policies.*.PolicyDocument.Statement.*") {
                let resources = strings(&statement["Resource"]);
                assert!(statement["Effect"] == "Allow" && !resources.is_empty());
                for action in strings(&statement["Action"]) {
                    for resource in &resources {
                        assert!(!action.contains('*') && resource != "*", "{statement}");
                        grants.insert(format!("{role} {action} {resource}"));
                    }
                }
            }
        }
        // SAM's policies would add managed `*` statements: each function has its own role.
        for function in stack.each("AWS::Serverless::Function.Properties") {
            assert!(function["Policies"].is_null() && !function["Role"].is_null());
        }
    }
    let role = |grant: &str| grant.split(' ').next().unwrap().to_owned();
    let roles: BTreeSet<String> = GRANTS.lines().map(role).collect();
    grants.retain(|grant| roles.contains(&role(grant)));
    assert_eq!(grants, GRANTS.lines().map(str::to_owned).collect());
    assert!(roles.len() < deploy("@all").of_type("AWS::IAM::Role").count());
}

/// `sam build` runs cargo-lambda in each function's `CodeUri` (this crate, or the hook's crate of
/// the workspace) for its `Binary`.
#[test]
fn functions_build_binaries_of_this_workspace() {
    let stack = deploy("@all");
    for (name, function) in stack.of_type("AWS::Serverless::Function") {
        let binary = text(&function["Metadata"]["BuildProperties"]["Binary"]).unwrap();
        let code_uri = text(&function["Properties"]["CodeUri"]).unwrap();
        let source = format!(
            "{}/{code_uri}/src/bin/{binary}.rs",
            env!("CARGO_MANIFEST_DIR")
        );
        assert!(
            std::path::Path::new(&source).is_file(),
            "{name}: no {source}"
        );
    }
}

// ----------------------------------------------------------------------------------- the API

const STAGE: &str = "WebhookApiStage";

/// WhatsApp Cloud API's default tier: 80 messages/s per business number, each outbound message
/// ~4 FlowIQ events, sized at 3 x outgoing in status events plus inbound (Meta's advice): ~320
/// events/s per number.
const EVENTS_PER_SECOND_PER_NUMBER_DEFAULT_TIER: f64 = 320.0;

#[test]
fn the_api_routes_only_the_handlers_path_and_is_always_throttled() {
    let stack = deploy("-");
    // One route, the one `http_handler::route` serves.
    let paths = &stack.properties("WebhookApi")["Body"]["paths"];
    let routes: Vec<String> = paths.as_object().unwrap().keys().cloned().collect();
    assert_eq!(routes, ["/webhooks/{platform}/{token}"]);
    assert_eq!(paths[&routes[0]].as_object().unwrap().len(), 1, "POST only");
    // The default throttle takes a broadcast at the default tier, with headroom, and a bucket
    // that the start of a broadcast fits.
    let settings = &stack.properties(STAGE)["DefaultRouteSettings"];
    let rate = number(&settings["ThrottlingRateLimit"]);
    let burst = number(&settings["ThrottlingBurstLimit"]);
    assert!(
        rate >= EVENTS_PER_SECOND_PER_NUMBER_DEFAULT_TIER.max(500.0),
        "{rate}/s"
    );
    assert!(burst >= 1000.0_f64.max(2.0 * rate), "{burst}");
    // Against a leaked URL: the limits cannot be 0, and without the API (a function URL has no
    // throttling) reserved concurrency caps the function.
    for name in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
        let parameter = &TEMPLATE.yaml["Parameters"][name];
        assert!(parameter["Type"] == "Number" && parameter["MinValue"].as_f64() >= Some(1.0));
    }
    for parameters in SCENARIOS {
        let stack = deploy(parameters);
        let reserved = stack.each("WebhookFunction.Properties.ReservedConcurrentExecutions");
        assert!(
            stack.has(STAGE) || number(reserved[0]) >= 1.0,
            "{parameters}"
        );
    }
}

/// One access-log line as API Gateway would write it from the stage's format, with `values` for
/// its `$context` variables (`x` for the others).
fn access_log_line(stack: &Stack, values: &[(&str, &str)]) -> String {
    let format = &stack.properties(STAGE)["AccessLogSettings"]["Format"];
    let mut line = values
        .iter()
        .fold(text(format).unwrap(), |line, (name, value)| {
            line.replace(&format!("$context.{name}"), value)
        });
    while let Some(start) = line.find("$context.") {
        let length = line[start..].find(|c: char| !(c.is_alphanumeric() || ".$".contains(c)));
        line.replace_range(start..length.map_or(line.len(), |n| start + n), "x");
    }
    line
}

#[test]
fn the_access_log_is_small_json_without_the_token_and_its_429s_are_counted() {
    let stack = deploy("-");
    let format = text(&stack.properties(STAGE)["AccessLogSettings"]["Format"]).unwrap();
    for leaks_the_token in [
        "$context.path",
        "$context.resourcePath",
        "$context.requestOverride",
    ] {
        assert!(!format.contains(leaks_the_token), "{format}");
    }
    let line: Value = serde_json::from_str(&access_log_line(&stack, &[])).unwrap();
    let fields: BTreeSet<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // sourceIp tells FlowIQ's senders from someone using a leaked URL; no path (the token).
    let expected = "integrationLatency requestId requestTime responseLength sourceIp status";
    assert_eq!(fields, expected.split(' ').collect());
    // A realistic line (the values docs/deployment.md shows) is the 164 bytes it states.
    let sample = access_log_line(
        &stack,
        &[
            ("requestId", "Kq1mXhXsIAMEb7w="),
            ("status", "200"),
            ("responseLength", "65"),
            ("integrationLatency", "14"),
            ("requestTime", "27/Nov/2026:17:26:03 +0000"),
            ("identity.sourceIp", "203.0.113.45"),
        ],
    );
    assert_eq!(sample.len(), 164, "{sample}");

    // The metric filter reads this log and counts exactly its 429 lines: `{ $.status = "429" }`.
    let filter = stack.properties("ThrottledDeliveriesMetricFilter");
    let destination = &stack.properties(STAGE)["AccessLogSettings"]["DestinationArn"];
    assert_eq!(
        text(destination).unwrap(),
        format!("{}.Arn", text(&filter["LogGroupName"]).unwrap())
    );
    let pattern = filter["FilterPattern"].as_str().unwrap();
    let selector = pattern
        .strip_prefix("{ $.")
        .and_then(|p| p.strip_suffix(" }"));
    let (field, value) = selector.and_then(|p| p.split_once(" = ")).expect(pattern);
    for status in ["200", "400", "401", "404", "413", "429", "500", "503"] {
        let line: Value =
            serde_json::from_str(&access_log_line(&stack, &[("status", status)])).unwrap();
        assert_eq!(
            line[field] == value.trim_matches('"'),
            status == "429",
            "{status}"
        );
    }
}

// --------------------------------------------------------------------------- table, streams

/// The index's keys are checked with the table's (`flowiq_harness::events_table`).
#[test]
fn the_rejection_index_projects_what_the_listing_prints_but_not_the_body() {
    let stack = deploy("-");
    let indexes = stack.each("EventsTable.Properties.GlobalSecondaryIndexes.*");
    let index = indexes
        .into_iter()
        .find(|i| i["IndexName"] == keys::BY_REJECTION_INDEX);
    let projection = &index.expect("a by-rejection index")["Projection"];
    assert_eq!(projection["ProjectionType"], "INCLUDE");
    let projected = strings(&projection["NonKeyAttributes"]);
    // `flowiq-events rejected` prints received_at, status_code, platform, body_size,
    // reprocess_outcome and reason, and with --json the entry itself; reprocess-rejected sets
    // reprocessed_at, reprocess_outcome, event_id or a new reason. The body stays in the table.
    let listed = "item_type platform reason status_code received_at request_id body_size \
        body_sha256 reprocessed_at reprocess_outcome event_id";
    for attribute in listed.split(' ') {
        assert!(projected.iter().any(|p| p == attribute), "{attribute}");
    }
    assert!(!projected.iter().any(|p| p == "body" || p == "body_bytes"));
}

#[test]
fn provisioned_capacity_scales_the_table_and_each_index_between_the_levers_bounds() {
    // Each scalable target: resource, dimension, bounds, and the metric of its one policy.
    let stack = deploy("@provisioned");
    let policies = stack.each("AWS::ApplicationAutoScaling::ScalingPolicy.Properties");
    let mut scaled = BTreeSet::new();
    for (id, target) in stack.of_type("AWS::ApplicationAutoScaling::ScalableTarget") {
        let target = &target["Properties"];
        let of_target = policies.iter().filter(|p| p["ScalingTargetId"] == id);
        let metric = "TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification";
        let metrics: Vec<_> = of_target.flat_map(|p| each(p, metric)).collect();
        let [resource, dimension, min, max] = [
            "ResourceId",
            "ScalableDimension",
            "MinCapacity",
            "MaxCapacity",
        ]
        .map(|k| text(&target[k]).unwrap());
        scaled.insert(format!(
            "{resource} {dimension} {min}-{max} {}",
            json!(metrics)
        ));
    }
    let mut expected = BTreeSet::new();
    let indexes = stack.each("EventsTable.Properties.GlobalSecondaryIndexes.*.IndexName");
    let resources = indexes.iter().map(|i| {
        (
            "index",
            format!("table/EventsTable/index/{}", text(i).unwrap()),
        )
    });
    for (kind, resource) in resources.chain([("table", "table/EventsTable".to_owned())]) {
        for (units, bounds) in [("Read", "2-50"), ("Write", "25-3000")] {
            let metric =
                json!([{"PredefinedMetricType": format!("DynamoDB{units}CapacityUtilization")}]);
            expected.insert(format!(
                "{resource} dynamodb:{kind}:{units}CapacityUnits {bounds} {metric}"
            ));
        }
    }
    assert_eq!(scaled, expected);
    assert_eq!(policies.len(), expected.len());
}

#[test]
fn the_spill_queue_outlasts_the_drains_attempts_and_its_bounds_are_the_services() {
    let stack = deploy("-");
    // AWS: the queue's visibility timeout at least 6 x the function's timeout.
    let visibility = number(&stack.properties("SpillQueue")["VisibilityTimeout"]);
    assert!(visibility >= 6.0 * number(&stack.properties("SpillDrainFunction")["Timeout"]));
    // Lambda's range for an SQS mapping's maximum concurrency; SQS's for maxReceiveCount.
    let parameters = &TEMPLATE.yaml["Parameters"];
    for (name, range) in [
        ("SpillDrainMaximumConcurrency", 2.0),
        ("SpillMaxReceiveCount", 1.0),
    ] {
        let bound = |key: &str| parameters[name][key].as_f64().unwrap();
        assert_eq!(
            [bound("MinValue"), bound("MaxValue")],
            [range, 1000.0],
            "{name}"
        );
    }
}

/// A Lambda event filter pattern (the subset the template uses: nested objects, lists of
/// allowed values, `{"exists": true}` on a leaf) against a stream record.
fn pattern_matches(pattern: &Value, record: &Value) -> bool {
    let rules = pattern.as_object().unwrap().iter();
    rules.into_iter().all(|(key, rule)| match rule {
        Value::Array(allowed) => allowed.iter().any(|a| match a {
            Value::Object(op) => op["exists"] == !record[key].is_null(),
            value => *value == record[key],
        }),
        nested => record[key].is_object() && pattern_matches(nested, &record[key]),
    })
}

#[test]
fn the_message_projection_reads_only_new_events_of_a_message() {
    let stack = deploy("@projection");
    let mapping = "MessageProjectionFunction.Properties.Events.*.Properties";
    let filters = stack.each(&format!("{mapping}.FilterCriteria.Filters.*.Pattern"));
    assert_eq!(filters.len(), 1);
    let pattern: Value = serde_json::from_str(filters[0].as_str().unwrap()).unwrap();
    let record = |name: &str, item_type: &str, wamid: Option<&str>| {
        let mut image = json!({"item_type": {"S": item_type}, "pk": {"S": "MSG#x"}});
        if let Some(wamid) = wamid {
            image["whatsapp_message_id"] = json!({"S": wamid});
        }
        json!({"eventName": name, "dynamodb": {"NewImage": image}})
    };
    assert!(pattern_matches(
        &pattern,
        &record("INSERT", "event", Some("w"))
    ));
    // Not events without a message, not the projection's own `message` items (its first update
    // of a message is an INSERT), not rejected deliveries, not TTL deletions.
    for ignored in [
        record("INSERT", "event", None),
        record("INSERT", "message", Some("w")),
        record("MODIFY", "message", Some("w")),
        record("INSERT", "rejected", None),
        json!({"eventName": "REMOVE", "dynamodb": {}}),
    ] {
        assert!(!pattern_matches(&pattern, &ignored), "{ignored}");
    }
}

// ------------------------------------------------------------------------- metrics, dashboard

/// The function's own metrics (what `flowiq_webhooks::metrics` writes in its one line per
/// delivery, and the access log's metric filter): `metric | dimension sets`, `;` between sets.
const OWN_METRICS: &str = "\
Deliveries | Outcome; EventType
StoreLatency |
ThrottledDeliveries |";

/// What AWS publishes, as each service documents it (HTTP API metrics, Lambda function and
/// function URL metrics, DynamoDB's metrics-dimensions, SQS): `namespace | metrics | dimension
/// sets`. Only what a dashboard or alarm here may use: a name not listed fails the tests.
const AWS_METRICS: &str = "\
AWS/ApiGateway | Count 4xx 5xx Latency IntegrationLatency DataProcessed | ApiId; ApiId Stage; ApiId Method Resource Stage
AWS/Lambda | Invocations Errors Throttles Duration ConcurrentExecutions IteratorAge UrlRequestCount Url4xxCount Url5xxCount UrlRequestLatency | FunctionName; FunctionName Resource; FunctionName Resource ExecutedVersion
AWS/DynamoDB | ConsumedWriteCapacityUnits ConsumedReadCapacityUnits ProvisionedWriteCapacityUnits ProvisionedReadCapacityUnits | TableName; TableName GlobalSecondaryIndexName
AWS/DynamoDB | ThrottledRequests SystemErrors | TableName Operation
AWS/DynamoDB | ConditionalCheckFailedRequests | TableName
AWS/SQS | ApproximateNumberOfMessagesVisible ApproximateAgeOfOldestMessage NumberOfMessagesSent | QueueName";

/// A metric as a dashboard row or an alarm uses it: `[namespace, metric, statistic]` and its
/// `(dimension, value)`s.
type MetricUse = ([String; 3], Vec<(String, String)>);

fn widgets(stack: &Stack, kind: &str) -> Vec<Value> {
    let body = text(&stack.properties("WebhookDashboard")["DashboardBody"]).unwrap();
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let widgets = body["widgets"].as_array().unwrap().iter();
    widgets.filter(|w| w["type"] == kind).cloned().collect()
}

/// Every metric row of the dashboard: explicit metrics only (namespace, name, dimension pairs,
/// then options).
fn dashboard(stack: &Stack) -> Vec<MetricUse> {
    let mut uses = Vec::new();
    for widget in widgets(stack, "metric") {
        let properties = &widget["properties"];
        assert_eq!(properties["region"], "eu-west-1", "{widget}");
        for row in properties["metrics"].as_array().unwrap() {
            let names = strings(row);
            assert!(names.len() >= 2 && names.len().is_multiple_of(2), "{row}");
            let options = row.as_array().unwrap().last().unwrap();
            let stat = options["stat"].as_str().or(properties["stat"].as_str());
            let use_ = [&names[0], &names[1], stat.unwrap_or("Average")].map(str::to_owned);
            uses.push((
                use_,
                names[2..]
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect(),
            ));
        }
    }
    uses
}

fn alarms(stack: &Stack) -> Vec<MetricUse> {
    let alarms = stack.each("AWS::CloudWatch::Alarm.Properties").into_iter();
    let name = |value: &Value, key: &str| text(&value[key]).unwrap();
    let alarmed = alarms.map(|alarm| {
        let dimensions = each(alarm, "Dimensions.*").into_iter();
        let dimensions = dimensions.map(|d| (name(d, "Name"), name(d, "Value")));
        let use_ = ["Namespace", "MetricName", "Statistic"].map(|k| name(alarm, k));
        (use_, dimensions.collect())
    });
    alarmed.collect()
}

/// What a stack's dashboard charts, as `namespace metric dimension-values` lines.
fn charted(stack: &Stack) -> BTreeSet<String> {
    let uses = dashboard(stack)
        .into_iter()
        .map(|([namespace, metric, _], dimensions)| {
            let values = dimensions.into_iter().map(|(_, value)| format!(" {value}"));
            format!("{namespace} {metric}{}", values.collect::<String>())
        });
    uses.collect()
}

/// `Err` says why `used` is not a metric the function or AWS publishes, or does not point at this
/// stack's resource.
fn check_metric(
    stack: &Stack,
    ([namespace, metric, stat], dimensions): &MetricUse,
) -> Result<(), String> {
    let percentile = stat.strip_prefix('p').and_then(|p| p.parse::<f64>().ok());
    let statistics = ["Sum", "Average", "Maximum", "Minimum", "SampleCount"];
    if !statistics.contains(&stat.as_str()) && !percentile.is_some_and(|p| p > 0.0 && p < 100.0) {
        return Err(format!("statistic {stat}"));
    }
    let own = *namespace == stack.parameters["MetricsNamespace"];
    let table = if own { OWN_METRICS } else { AWS_METRICS };
    let mut rows = table
        .lines()
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>());
    let row = rows.find(|row| match own {
        true => row[0] == metric,
        false => row[0] == namespace && row[1].split(' ').any(|m| m == metric),
    });
    let row = row.ok_or_else(|| format!("{namespace} does not publish {metric}"))?;
    let names: BTreeSet<&str> = dimensions.iter().map(|(n, _)| n.as_str()).collect();
    let mut sets = row[row.len() - 1]
        .split(';')
        .map(|set| set.split_whitespace().collect());
    if !sets.any(|set: BTreeSet<&str>| set == names) {
        return Err(format!("{metric} has no dimension set {names:?}"));
    }
    let indexes = stack.each("EventsTable.Properties.GlobalSecondaryIndexes.*.IndexName");
    for (name, value) in dimensions {
        let kind = |id: &str| {
            stack
                .resources
                .get(id)
                .map_or(Value::Null, |r| r["Type"].clone())
        };
        let ok = match name.as_str() {
            "Outcome" => metrics::OUTCOMES.contains(&value.as_str()),
            "EventType" => metrics::EVENT_TYPES.contains(&value.as_str()),
            "ApiId" => kind(value) == "AWS::ApiGatewayV2::Api",
            "FunctionName" => kind(value) == "AWS::Serverless::Function",
            // An alias (`function:alias`) and the version that ran, of a published function.
            "Resource" => value.split_once(':').is_some_and(|(function, alias)| {
                stack
                    .generated
                    .contains_key(&format!("{function}Alias{alias}"))
            }),
            "ExecutedVersion" => value
                .strip_suffix(".Version")
                .is_some_and(|version| stack.generated.contains_key(version)),
            "TableName" => kind(value) == "AWS::DynamoDB::Table",
            "GlobalSecondaryIndexName" => indexes.iter().any(|i| *i == value),
            // The receiver's one write; UpdateItem only from the message projection.
            "Operation" => {
                value == "PutItem"
                    || stack.has("MessageProjectionFunction") && value == "UpdateItem"
            }
            "QueueName" => value
                .strip_suffix(".QueueName")
                .is_some_and(|q| kind(q) == "AWS::SQS::Queue"),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "{name}={value} is not in the contract or this stack"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_charted_and_alarmed_metric_is_one_that_is_published() {
    for parameters in SCENARIOS {
        let stack = deploy(parameters);
        let uses = [dashboard(&stack), alarms(&stack)].concat();
        assert!(uses.len() > 20);
        for used in uses {
            if let Err(why) = check_metric(&stack, &used) {
                panic!("{parameters}: {used:?}: {why}");
            }
        }
    }
    // And the check refuses a misspelt metric, dimension, value or statistic.
    let stack = deploy("-");
    let uses = dashboard(&stack);
    let good = uses
        .iter()
        .find(|u| u.0[1] == "ConsumedWriteCapacityUnits")
        .unwrap();
    let own = |metric: &str, dimensions: &[(&str, &str)]| -> MetricUse {
        let dimensions = dimensions
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()));
        (
            ["FlowIQWebhooks", metric, "Sum"].map(str::to_owned),
            dimensions.collect(),
        )
    };
    check_metric(&stack, good).unwrap();
    check_metric(&stack, &own("Deliveries", &[("Outcome", "stored")])).unwrap();
    let mut wrong = vec![good.clone(), good.clone(), good.clone(), good.clone()];
    wrong[0].0[1].pop();
    wrong[1].0[2].pop();
    wrong[2].1[0].0.pop();
    wrong[3].1[0].1.pop();
    wrong.extend([
        own("Delivery", &[("Outcome", "stored")]),
        own("Deliveries", &[("Outcome", "saved")]),
        own("Deliveries", &[("Status", "stored")]),
        own(
            "Deliveries",
            &[("Outcome", "stored"), ("EventType", "call")],
        ),
        own("StoreLatency", &[("Outcome", "stored")]),
    ]);
    for used in wrong {
        assert!(check_metric(&stack, &used).is_err(), "{used:?}");
    }
}

#[test]
fn the_dashboard_charts_every_outcome_and_event_type_and_follows_the_stack() {
    let uses = dashboard(&deploy("-"));
    let values = |name: &str| -> BTreeSet<&str> {
        let dimensions = uses.iter().flat_map(|(_, dimensions)| dimensions);
        dimensions
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(values("Outcome"), metrics::OUTCOMES.into_iter().collect());
    assert_eq!(
        values("EventType"),
        metrics::EVENT_TYPES.into_iter().collect()
    );
    let latency = uses
        .iter()
        .filter(|u| u.0[1] == "StoreLatency")
        .map(|u| u.0[2].as_str());
    assert_eq!(latency.collect::<Vec<_>>(), ["p50", "p99"]);
    let without_metrics = charted(&deploy("EnableMetrics=false"));
    let own = without_metrics
        .iter()
        .filter(|c| c.starts_with("FlowIQWebhooks "));
    assert!(
        own.eq(["FlowIQWebhooks ThrottledDeliveries"].iter()),
        "only the access log's"
    );

    // `+` charted, `-` not: `namespace metric dimension-values` as `charted` writes them, with
    // `_` for spaces.
    let expected = "
        - | +AWS/ApiGateway_Count_WebhookApi +AWS/ApiGateway_4xx_WebhookApi +AWS/ApiGateway_5xx_WebhookApi +AWS/ApiGateway_Latency_WebhookApi -AWS/Lambda_UrlRequestCount_WebhookFunction
        - | +AWS/Lambda_Duration_WebhookFunction +AWS/Lambda_Errors_WebhookFunction +AWS/Lambda_Throttles_WebhookFunction +AWS/Lambda_ConcurrentExecutions_WebhookFunction
        - | +AWS/DynamoDB_ConsumedWriteCapacityUnits_EventsTable +AWS/DynamoDB_ThrottledRequests_EventsTable_PutItem +AWS/DynamoDB_ConditionalCheckFailedRequests_EventsTable
        - | +AWS/SQS_NumberOfMessagesSent_SpillQueue.QueueName +AWS/SQS_ApproximateNumberOfMessagesVisible_SpillQueue.QueueName +AWS/SQS_ApproximateAgeOfOldestMessage_SpillQueue.QueueName
        - | +AWS/SQS_ApproximateNumberOfMessagesVisible_SpillDeadLetterQueue.QueueName +AWS/Lambda_Errors_SpillDrainFunction +AWS/Lambda_Duration_SpillDrainFunction
        - | +FlowIQWebhooks_ThrottledDeliveries -AWS/Lambda_IteratorAge_MessageProjectionFunction -AWS/SQS_ApproximateNumberOfMessagesVisible_StreamConsumerFailureQueue.QueueName
        @url | -AWS/ApiGateway_Count_WebhookApi +AWS/Lambda_UrlRequestCount_WebhookFunction +AWS/Lambda_Url4xxCount_WebhookFunction +AWS/Lambda_Url5xxCount_WebhookFunction
        @url | +AWS/Lambda_UrlRequestLatency_WebhookFunction -FlowIQWebhooks_ThrottledDeliveries
        @streams | +AWS/Lambda_IteratorAge_StreamConsumerFunction +AWS/SQS_ApproximateNumberOfMessagesVisible_StreamConsumerFailureQueue.QueueName
        @streams | +AWS/SQS_ApproximateNumberOfMessagesVisible_PipeFailureQueue.QueueName
        @projection | +AWS/Lambda_IteratorAge_MessageProjectionFunction +AWS/DynamoDB_ThrottledRequests_EventsTable_UpdateItem
        AccessLogs=false | -FlowIQWebhooks_ThrottledDeliveries
        MetricsNamespace=Acme/FlowIQ | +Acme/FlowIQ_Deliveries_stored +Acme/FlowIQ_ThrottledDeliveries -FlowIQWebhooks_Deliveries_stored";
    for row in expected.trim().lines() {
        let (parameters, charts) = row.trim().split_once(" | ").unwrap();
        let charted = charted(&deploy(parameters));
        for chart in charts.split(' ') {
            let line = chart[1..].replace('_', " ");
            assert_eq!(
                charted.contains(&line),
                chart.starts_with('+'),
                "{parameters}: {line}"
            );
        }
    }
}

#[test]
fn the_dashboard_reads_cold_starts_from_platform_reports_when_lambda_writes_them() {
    let logs = widgets(&deploy("-"), "log");
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["properties"]["region"], "eu-west-1");
    let query = logs[0]["properties"]["query"].as_str().unwrap();
    assert!(
        query.starts_with("SOURCE 'WebhookFunctionLogGroup' |"),
        "{query}"
    );
    // JSON logs: platform.report is a record with these fields.
    for part in [
        r#"type = "platform.report""#,
        "record.metrics.initDurationMs",
    ] {
        assert!(query.contains(part), "{query}");
    }
    // SystemLogLevel=WARN drops platform.report: no empty widget.
    assert!(widgets(&deploy("SystemLogLevel=WARN"), "log").is_empty());
}

#[test]
fn rejected_bodies_default_retention_is_the_codes() {
    let stack = deploy("-");
    for function in ["WebhookFunction", "SpillDrainFunction"] {
        let path = format!("{function}.Properties.Environment.Variables.REJECTED_RETENTION_DAYS");
        let days = stack.each(&path);
        assert_eq!(days.len(), 1, "{path}");
        assert_eq!(
            number(days[0]),
            f64::from(flowiq_webhooks::records::DEFAULT_REJECTED_RETENTION_DAYS),
            "{path}"
        );
    }
}

/// The console's parameter groups (`Metadata: AWS::CloudFormation::Interface`) are the layout's
/// index: every parameter is in exactly one group, and every grouped name is a parameter.
#[test]
fn every_parameter_is_in_exactly_one_group() {
    let declared: BTreeSet<String> = TEMPLATE.yaml["Parameters"]
        .as_mapping()
        .expect("Parameters")
        .keys()
        .map(|name| name.as_str().expect("a parameter's name").to_owned())
        .collect();
    let mut grouped = Vec::new();
    for group in TEMPLATE.yaml["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        .as_sequence()
        .expect("ParameterGroups")
    {
        let label = group["Label"]["default"].as_str().expect("a group's label");
        let members = group["Parameters"].as_sequence().expect("its parameters");
        assert!(!members.is_empty(), "group {label:?} is empty");
        grouped.extend(
            members
                .iter()
                .map(|p| p.as_str().expect("a name").to_owned()),
        );
    }
    let unique: BTreeSet<String> = grouped.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        grouped.len(),
        "a parameter in two groups: {grouped:?}"
    );
    assert_eq!(
        declared.difference(&unique).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "parameters in no group"
    );
    assert_eq!(
        unique.difference(&declared).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "grouped names that are no parameter"
    );
}
