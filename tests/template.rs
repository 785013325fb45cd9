//! template.yaml against the code and against AWS: the functions build binaries that exist, the
//! route is the one the handler serves, IAM grants only what the code uses (never `*`), and each
//! parameter ("lever") changes the stack the way its description says.
//!
//! `deploy` evaluates the template for a set of parameter values the way CloudFormation does before
//! it creates anything: parameter defaults and overrides, `Conditions`, `Rules`, resources and
//! outputs dropped by their `Condition`, `Fn::If` / `AWS::NoValue` / `Fn::FindInMap` resolved. It
//! also renders strings (`Fn::Sub`, `Fn::Join`, `Fn::Select` / `Fn::Split`), standing in the logical
//! id for a resource's `Ref`, so a test can read a URL or the dashboard body as the stack would.

use std::collections::{BTreeMap, BTreeSet};

use flowiq_webhooks::{keys, metrics};
use serde_norway::{Mapping, Value};

// ------------------------------------------------------------------------------------- template

/// The template with its short-form tags (`!Ref X`, `!If [...]`) in the long form CloudFormation
/// works with (`{Ref: X}`, `{Fn::If: [...]}`; `!GetAtt A.B` becomes `{Fn::GetAtt: [A, B]}`).
fn template() -> Value {
    long_form(serde_norway::from_str(include_str!("../template.yaml")).unwrap())
}

fn long_form(value: Value) -> Value {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = long_form(tagged.value);
            match name {
                "Ref" | "Condition" => single(name, inner),
                "GetAtt" => {
                    let inner = match inner {
                        Value::String(path) => {
                            let (resource, attribute) = path.split_once('.').unwrap();
                            Value::Sequence(vec![string(resource), string(attribute)])
                        }
                        other => other,
                    };
                    single("Fn::GetAtt", inner)
                }
                other => single(&format!("Fn::{other}"), inner),
            }
        }
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(long_form).collect()),
        Value::Mapping(map) => {
            Value::Mapping(map.into_iter().map(|(k, v)| (k, long_form(v))).collect())
        }
        other => other,
    }
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn single(key: &str, value: Value) -> Value {
    let mut map = Mapping::new();
    map.insert(string(key), value);
    Value::Mapping(map)
}

/// `Some((function, arguments))` for `{Ref: ..}`, `{Condition: ..}` and `{Fn::X: ..}`.
fn intrinsic(value: &Value) -> Option<(&str, &Value)> {
    let map = value.as_mapping()?;
    if map.len() != 1 {
        return None;
    }
    let (key, arguments) = map.iter().next()?;
    let key = key.as_str()?;
    (key == "Ref" || key == "Condition" || key.starts_with("Fn::")).then_some((key, arguments))
}

fn items(value: &Value) -> &[Value] {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("not a list: {value:?}"))
}

/// A scalar as CloudFormation passes it around: a string.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(value: &Value) -> f64 {
    let text = scalar(value).unwrap_or_else(|| panic!("not a number: {value:?}"));
    text.parse()
        .unwrap_or_else(|_| panic!("not a number: {text}"))
}

/// What a string field names, for IAM checks: literal strings, `Ref` targets, `GetAtt` paths and
/// `Sub` templates, in lists too.
fn strings(value: &Value) -> Vec<String> {
    match intrinsic(value) {
        Some(("Ref", name)) => vec![scalar(name).unwrap()],
        Some(("Fn::GetAtt", path)) => vec![
            items(path)
                .iter()
                .map(|p| scalar(p).unwrap())
                .collect::<Vec<_>>()
                .join("."),
        ],
        Some(("Fn::Sub", Value::String(text))) => vec![text.clone()],
        Some((_, arguments)) => strings(arguments),
        None => match value {
            Value::String(s) => vec![s.clone()],
            Value::Sequence(list) => list.iter().flat_map(strings).collect(),
            _ => Vec::new(),
        },
    }
}

// ----------------------------------------------------------------------------------- evaluator

const PSEUDO_PARAMETERS: &[(&str, &str)] = &[
    ("AWS::AccountId", "123456789012"),
    ("AWS::Partition", "aws"),
    ("AWS::Region", "eu-west-1"),
    ("AWS::StackName", "flowiq-webhooks"),
    ("AWS::URLSuffix", "amazonaws.com"),
];

/// Attribute values `render` uses where a test needs a realistic one (others render as
/// `Resource.Attribute`).
const ATTRIBUTES: &[(&str, &str, &str)] = &[
    (
        "WebhookFunctionUrl",
        "FunctionUrl",
        "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/",
    ),
    (
        "WebhookDomainName",
        "RegionalDomainName",
        "d-abcde12345.execute-api.eu-west-1.amazonaws.com",
    ),
];

/// The stack CloudFormation would create for some parameter values.
struct Deployment {
    template: Value,
    params: BTreeMap<String, String>,
    /// Kept resources, with `Fn::If`, `AWS::NoValue`, `Fn::FindInMap` and parameter `Ref`s resolved.
    resources: BTreeMap<String, Value>,
    /// Kept outputs, resolved the same way.
    outputs: BTreeMap<String, Value>,
    /// Rules whose assertions fail: CloudFormation would refuse these parameter values.
    failed_rules: Vec<String>,
}

/// The template's defaults with `overrides` applied (each checked against the parameter's
/// `AllowedValues` / `MinValue`).
fn deploy(overrides: &[(&str, &str)]) -> Deployment {
    let template = template();
    let mut params = BTreeMap::new();
    for (name, parameter) in template["Parameters"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let default =
            scalar(&parameter["Default"]).unwrap_or_else(|| panic!("{name} has no default"));
        params.insert(name.to_owned(), default);
    }
    for (name, value) in overrides {
        let parameter = &template["Parameters"][*name];
        assert!(!parameter.is_null(), "the template has no parameter {name}");
        if let Some(allowed) = parameter["AllowedValues"].as_sequence() {
            assert!(
                allowed.iter().any(|a| scalar(a).as_deref() == Some(*value)),
                "{name}={value} is not among its AllowedValues"
            );
        }
        if !parameter["MinValue"].is_null() {
            assert!(
                value.parse::<f64>().unwrap() >= number(&parameter["MinValue"]),
                "{name}={value} is below its MinValue"
            );
        }
        params.insert((*name).to_owned(), (*value).to_owned());
    }
    let mut deployment = Deployment {
        template,
        params,
        resources: BTreeMap::new(),
        outputs: BTreeMap::new(),
        failed_rules: Vec::new(),
    };
    let template = deployment.template.clone();
    for (name, rule) in template["Rules"].as_mapping().into_iter().flatten() {
        let applies = rule["RuleCondition"].is_null() || deployment.truth(&rule["RuleCondition"]);
        if applies
            && items(&rule["Assertions"])
                .iter()
                .any(|a| !deployment.truth(&a["Assert"]))
        {
            deployment
                .failed_rules
                .push(name.as_str().unwrap().to_owned());
        }
    }
    for (section, kept) in [("Resources", true), ("Outputs", false)] {
        for (name, body) in template[section].as_mapping().unwrap() {
            let name = name.as_str().unwrap().to_owned();
            if let Some(condition) = body["Condition"].as_str()
                && !deployment.condition(condition)
            {
                continue;
            }
            let resolved = deployment.resolve(body).unwrap();
            if kept {
                deployment.resources.insert(name, resolved);
            } else {
                deployment.outputs.insert(name, resolved);
            }
        }
    }
    deployment
}

impl Deployment {
    fn condition(&self, name: &str) -> bool {
        let expression = &self.template["Conditions"][name];
        assert!(!expression.is_null(), "no condition {name}");
        self.truth(expression)
    }

    /// A condition (or rule) expression.
    fn truth(&self, expression: &Value) -> bool {
        match intrinsic(expression) {
            Some(("Fn::Equals", arguments)) => {
                let pair = items(arguments);
                self.render(&pair[0]) == self.render(&pair[1])
            }
            Some(("Fn::Not", arguments)) => !self.truth(&items(arguments)[0]),
            Some(("Fn::And", arguments)) => items(arguments).iter().all(|c| self.truth(c)),
            Some(("Fn::Or", arguments)) => items(arguments).iter().any(|c| self.truth(c)),
            Some(("Condition", name)) => self.condition(name.as_str().unwrap()),
            Some(("Fn::Contains", arguments)) => {
                let pair = items(arguments);
                let wanted = self.render(&pair[1]);
                items(&pair[0]).iter().any(|v| self.render(v) == wanted)
            }
            _ => panic!("not a condition: {expression:?}"),
        }
    }

    /// `None` for `AWS::NoValue` (the property is absent).
    fn resolve(&self, value: &Value) -> Option<Value> {
        if let Some((function, arguments)) = intrinsic(value) {
            return match function {
                "Fn::If" => {
                    let branches = items(arguments);
                    let taken = if self.condition(branches[0].as_str().unwrap()) {
                        &branches[1]
                    } else {
                        &branches[2]
                    };
                    self.resolve(taken)
                }
                "Ref" => {
                    let name = arguments.as_str().unwrap();
                    if name == "AWS::NoValue" {
                        None
                    } else if let Some(value) = self.params.get(name) {
                        Some(string(value))
                    } else {
                        Some(value.clone())
                    }
                }
                "Fn::FindInMap" => {
                    let keys: Vec<String> =
                        items(arguments).iter().map(|k| self.render(k)).collect();
                    let found = &self.template["Mappings"][keys[0].as_str()][keys[1].as_str()]
                        [keys[2].as_str()];
                    assert!(!found.is_null(), "no mapping {keys:?}");
                    self.resolve(found)
                }
                _ => Some(single(function, self.resolve(arguments)?)),
            };
        }
        match value {
            Value::Mapping(map) => Some(Value::Mapping(
                map.iter()
                    .filter_map(|(k, v)| self.resolve(v).map(|v| (k.clone(), v)))
                    .collect(),
            )),
            Value::Sequence(list) => Some(Value::Sequence(
                list.iter().filter_map(|v| self.resolve(v)).collect(),
            )),
            other => Some(other.clone()),
        }
    }

    /// The string CloudFormation would produce; a resource's `Ref` renders as its logical id.
    fn render(&self, value: &Value) -> String {
        match intrinsic(value) {
            Some(("Fn::If" | "Fn::FindInMap", _)) => self.render(
                &self
                    .resolve(value)
                    .unwrap_or_else(|| panic!("AWS::NoValue where a string is needed")),
            ),
            Some(("Ref", name)) => self.reference(name.as_str().unwrap()),
            Some(("Fn::GetAtt", path)) => {
                let path = items(path);
                self.attribute(&self.render(&path[0]), &self.render(&path[1]))
            }
            Some(("Fn::Sub", arguments)) => {
                let (text, variables) = match arguments {
                    Value::String(text) => (text.as_str(), None),
                    _ => (
                        items(arguments)[0].as_str().unwrap(),
                        Some(&items(arguments)[1]),
                    ),
                };
                self.substitute(text, variables)
            }
            Some(("Fn::Join", arguments)) => {
                let arguments = items(arguments);
                let separator = self.render(&arguments[0]);
                let list = self.resolve(&arguments[1]).unwrap();
                items(&list)
                    .iter()
                    .map(|v| self.render(v))
                    .collect::<Vec<_>>()
                    .join(&separator)
            }
            Some(("Fn::Select", arguments)) => {
                let arguments = items(arguments);
                let index: usize = self.render(&arguments[0]).parse().unwrap();
                self.list(&arguments[1])[index].clone()
            }
            Some((function, _)) => panic!("cannot render {function}"),
            None => scalar(value).unwrap_or_else(|| panic!("not a string: {value:?}")),
        }
    }

    fn list(&self, value: &Value) -> Vec<String> {
        match intrinsic(value) {
            Some(("Fn::Split", arguments)) => {
                let arguments = items(arguments);
                let separator = self.render(&arguments[0]);
                self.render(&arguments[1])
                    .split(separator.as_str())
                    .map(str::to_owned)
                    .collect()
            }
            _ => items(&self.resolve(value).unwrap())
                .iter()
                .map(|v| self.render(v))
                .collect(),
        }
    }

    fn reference(&self, name: &str) -> String {
        if let Some(value) = self.params.get(name) {
            return value.clone();
        }
        if let Some((_, value)) = PSEUDO_PARAMETERS.iter().find(|(n, _)| *n == name) {
            return (*value).to_owned();
        }
        assert!(
            self.resources.is_empty()
                || self.resources.contains_key(name.split('.').next().unwrap()),
            "Ref to {name}, which this deployment does not create"
        );
        name.to_owned()
    }

    fn attribute(&self, resource: &str, attribute: &str) -> String {
        ATTRIBUTES
            .iter()
            .find(|(r, a, _)| *r == resource && *a == attribute)
            .map_or_else(
                || format!("{resource}.{attribute}"),
                |(_, _, v)| (*v).to_owned(),
            )
    }

    fn substitute(&self, text: &str, variables: Option<&Value>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            let name = &rest[start + 2..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.map(|v| &v[name]).filter(|v| !v.is_null()) {
                out.push_str(&self.render(value));
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(resource, attribute));
            } else {
                out.push_str(&self.reference(name));
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Every name a kept resource or output refers to (`Ref`, `GetAtt`, `${...}`, `DependsOn`)
    /// is a parameter, a pseudo parameter or a kept resource: CloudFormation would refuse the
    /// template otherwise.
    fn assert_consistent(&self) {
        let mut names = BTreeSet::new();
        for body in self.resources.values().chain(self.outputs.values()) {
            references(body, &mut names);
            for dependency in strings(&body["DependsOn"]) {
                names.insert(dependency);
            }
        }
        for name in names {
            let known = self.params.contains_key(&name)
                || PSEUDO_PARAMETERS.iter().any(|(n, _)| *n == name)
                || self.resources.contains_key(&name);
            assert!(
                known,
                "{name} is referenced but not created with {:?}",
                self.overrides()
            );
        }
    }

    fn overrides(&self) -> Vec<(String, String)> {
        let defaults = deploy(&[]).params;
        self.params
            .iter()
            .filter(|(k, v)| defaults.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.resources.contains_key(name)
    }

    fn resource(&self, name: &str) -> &Value {
        self.resources
            .get(name)
            .unwrap_or_else(|| panic!("no resource {name} with {:?}", self.overrides()))
    }

    fn properties(&self, name: &str) -> &Value {
        &self.resource(name)["Properties"]
    }

    fn of_type(&self, kind: &str) -> Vec<(&str, &Value)> {
        self.resources
            .iter()
            .filter(|(_, r)| r["Type"].as_str() == Some(kind))
            .map(|(name, r)| (name.as_str(), r))
            .collect()
    }

    /// An output's rendered value, if this deployment has the output.
    fn output(&self, name: &str) -> Option<String> {
        self.outputs.get(name).map(|o| self.render(&o["Value"]))
    }
}

fn references(value: &Value, names: &mut BTreeSet<String>) {
    match intrinsic(value) {
        Some(("Ref", name)) => {
            let name = name.as_str().unwrap();
            // `!Ref Api.Stage`: a SAM-generated resource of `Api`.
            names.insert(name.split('.').next().unwrap().to_owned());
        }
        Some(("Fn::GetAtt", path)) => {
            names.insert(scalar(&items(path)[0]).unwrap());
        }
        Some(("Fn::Sub", arguments)) => {
            let (text, variables) = match arguments {
                Value::String(text) => (text.as_str(), None),
                _ => (
                    items(arguments)[0].as_str().unwrap(),
                    Some(&items(arguments)[1]),
                ),
            };
            let mut rest = text;
            while let Some(start) = rest.find("${") {
                let end = rest[start..].find('}').unwrap() + start;
                let name = &rest[start + 2..end];
                let local = variables.is_some_and(|v| !v[name].is_null());
                if !name.starts_with('!') && !local {
                    names.insert(name.split('.').next().unwrap().to_owned());
                }
                rest = &rest[end + 1..];
            }
            if let Some(variables) = variables {
                references(variables, names);
            }
        }
        Some((_, arguments)) => references(arguments, names),
        None => match value {
            Value::Mapping(map) => map.values().for_each(|v| references(v, names)),
            Value::Sequence(list) => list.iter().for_each(|v| references(v, names)),
            _ => {}
        },
    }
}

/// Parameter sets the lever tests use; every one must deploy consistently.
const SCENARIOS: &[&[(&str, &str)]] = &[
    &[],
    &[("ReservedConcurrency", "200")],
    &[
        ("WarmWriteUnitsPerSecond", "20000"),
        ("WarmIndexWriteUnitsPerSecond", "8000"),
    ],
    &[
        ("DeployStreamConsumer", "true"),
        ("EnableEventBridgePipe", "true"),
    ],
    PROJECTION,
    &[("AlarmTopicArn", "arn:aws:sns:eu-west-1:123456789012:ops")],
    &[
        ("CustomDomainName", DOMAIN),
        ("CertificateArn", CERTIFICATE),
    ],
    &[
        ("CustomDomainName", DOMAIN),
        ("CertificateArn", CERTIFICATE),
        ("CustomDomainBasePath", "flowiq"),
    ],
    FUNCTION_URL,
    &[("BillingMode", "PROVISIONED")],
    &[("AccessLogs", "false")],
    &[
        ("LogLevel", "debug"),
        ("SystemLogLevel", "WARN"),
        ("DeployStreamConsumer", "true"),
    ],
    &[("EnableMetrics", "false")],
    &[("MetricsNamespace", "Acme/FlowIQ")],
    &[
        ("SpillMaxReceiveCount", "240"),
        ("SpillDrainMaximumConcurrency", "20"),
    ],
    // Everything optional at once, on each endpoint.
    &[
        ("BillingMode", "PROVISIONED"),
        ("DeployStreamConsumer", "true"),
        ("DeployMessageProjection", "true"),
        ("EnableEventBridgePipe", "true"),
        ("CustomDomainName", DOMAIN),
        ("CertificateArn", CERTIFICATE),
        ("CustomDomainBasePath", "flowiq"),
        ("EnableMetrics", "false"),
        ("SystemLogLevel", "WARN"),
        ("ReservedConcurrency", "300"),
        ("AlarmTopicArn", "arn:aws:sns:eu-west-1:123456789012:ops"),
    ],
    &[
        ("Endpoint", "FunctionUrl"),
        ("ReservedConcurrency", "100"),
        ("AccessLogs", "false"),
        ("DeployStreamConsumer", "true"),
        ("DeployMessageProjection", "true"),
        ("EnableEventBridgePipe", "true"),
        ("WarmWriteUnitsPerSecond", "12000"),
        ("WarmIndexWriteUnitsPerSecond", "6000"),
        ("LogLevel", "warn"),
    ],
];

const FUNCTION_URL: &[(&str, &str)] =
    &[("Endpoint", "FunctionUrl"), ("ReservedConcurrency", "100")];

const PROJECTION: &[(&str, &str)] = &[("DeployMessageProjection", "true")];

/// The HTTP API's `$default` stage (the logical id SAM gave it, kept so existing stacks update it
/// in place).
const STAGE: &str = "WebhookApiApiGatewayDefaultStage";

const DOMAIN: &str = "hooks.example.com";
const CERTIFICATE: &str =
    "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789";

#[test]
fn every_scenario_deploys_a_consistent_template() {
    for overrides in SCENARIOS {
        let deployment = deploy(overrides);
        deployment.assert_consistent();
        assert!(
            deployment.failed_rules.is_empty(),
            "{overrides:?} breaks {:?}",
            deployment.failed_rules
        );
        // Every output renders (no NoValue or unknown function in a value).
        for name in deployment.outputs.keys() {
            deployment.output(name).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------- IAM

/// Every IAM statement of every role in the template (all optional parts included), with its
/// role's name.
fn statements(template: &Value) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for (role, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::IAM::Role") {
            continue;
        }
        let role = role.as_str().unwrap();
        for policy in resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            for statement in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
                all.push((role.to_owned(), statement.clone()));
            }
        }
        assert!(
            resource["Properties"]["ManagedPolicyArns"].is_null(),
            "{role}: managed policies carry `*` statements"
        );
    }
    all
}

#[test]
fn no_policy_grants_a_wildcard() {
    let template = template();
    let statements = statements(&template);
    assert!(statements.len() >= 5);
    for (role, statement) in &statements {
        assert_eq!(statement["Effect"], "Allow", "{role}");
        for action in strings(&statement["Action"]) {
            assert!(!action.contains('*'), "{role} grants {action}");
        }
        let resources = strings(&statement["Resource"]);
        assert!(
            !resources.is_empty(),
            "{role}: a statement without a resource"
        );
        for resource in resources {
            assert_ne!(resource.trim(), "*", "{role} grants on every resource");
        }
    }
    for (name, function) in template["Resources"].as_mapping().unwrap() {
        if function["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let properties = &function["Properties"];
        assert!(
            properties["Policies"].is_null(),
            "{name:?}: SAM policies would add managed `*` statements"
        );
        assert!(
            !properties["Role"].is_null(),
            "{name:?} has its own least-privilege role"
        );
    }
}

/// Every `(action, resource)` a role's statements allow.
fn grants(template: &Value, role: &str) -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for (_, statement) in statements(template).iter().filter(|(r, _)| r == role) {
        for action in strings(&statement["Action"]) {
            for resource in strings(&statement["Resource"]) {
                all.insert((action.clone(), resource));
            }
        }
    }
    all
}

fn grant_set(expected: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    expected
        .iter()
        .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
        .collect()
}

#[test]
fn the_webhook_function_may_only_put_items_and_spill() {
    // What src/store/dynamodb.rs calls (storage contract v2): one conditional PutItem per
    // delivery (event or rejected item), and the connection warm-up during init, a PutItem that
    // never applies; no UpdateItem. And the spill of a delivery DynamoDB could not take:
    // SendMessage to the spill queue, nothing else on SQS.
    assert_eq!(
        grants(&template(), "WebhookFunctionRole"),
        grant_set(&[
            ("logs:CreateLogStream", "WebhookFunctionLogGroup.Arn"),
            ("logs:PutLogEvents", "WebhookFunctionLogGroup.Arn"),
            ("dynamodb:PutItem", "EventsTable.Arn"),
            ("sqs:SendMessage", "SpillQueue.Arn"),
        ])
    );
}

#[test]
fn the_spill_drain_may_only_put_items_and_consume_the_spill_queue() {
    // The receiver's one write, and what the SQS event source mapping does with the function's
    // role (receive, delete, queue attributes) plus the drain's own visibility changes.
    assert_eq!(
        grants(&template(), "SpillDrainFunctionRole"),
        grant_set(&[
            ("logs:CreateLogStream", "SpillDrainFunctionLogGroup.Arn"),
            ("logs:PutLogEvents", "SpillDrainFunctionLogGroup.Arn"),
            ("dynamodb:PutItem", "EventsTable.Arn"),
            ("sqs:ReceiveMessage", "SpillQueue.Arn"),
            ("sqs:DeleteMessage", "SpillQueue.Arn"),
            ("sqs:GetQueueAttributes", "SpillQueue.Arn"),
            ("sqs:ChangeMessageVisibility", "SpillQueue.Arn"),
        ])
    );
}

// ---------------------------------------------------------------------------------- functions

#[test]
fn functions_build_this_crates_binaries_for_lambda() {
    let template = template();
    let functions: Vec<(&Value, &Value)> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .collect();
    assert!(functions.len() >= 2);
    for (name, function) in functions {
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name:?}"
        );
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let source = format!("{}/src/bin/{binary}.rs", env!("CARGO_MANIFEST_DIR"));
        assert!(
            std::path::Path::new(&source).is_file(),
            "{name:?} builds {binary}, but {source} does not exist"
        );
        let properties = &function["Properties"];
        assert_eq!(properties["CodeUri"], ".", "{name:?}");
        assert_eq!(properties["Runtime"], "provided.al2023", "{name:?}");
        assert_eq!(properties["Handler"], "bootstrap", "{name:?}");
        assert_eq!(strings(&properties["Architectures"]), ["arm64"], "{name:?}");
        assert_eq!(properties["MemorySize"].as_u64(), Some(128), "{name:?}");
        assert!(properties["Timeout"].as_u64().unwrap() <= 60, "{name:?}");
    }
    // The webhook function answers within ~5 s (DynamoDB ~2.5 s, then the spill ~2 s): its
    // timeout leaves room for that and stays under API Gateway's 30 s.
    let timeout = template["Resources"]["WebhookFunction"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    assert!((10..30).contains(&timeout), "{timeout}");
}

#[test]
fn reserved_concurrency_is_set_only_when_asked() {
    let function =
        |d: &Deployment| d.properties("WebhookFunction")["ReservedConcurrentExecutions"].clone();
    assert!(
        function(&deploy(&[])).is_null(),
        "0 (the default) leaves the function in the unreserved pool"
    );
    let reserved = deploy(&[("ReservedConcurrency", "200")]);
    assert_eq!(number(&function(&reserved)), 200.0);
}

// ---------------------------------------------------------------------------------------- API

#[test]
fn the_api_routes_only_the_handlers_path_to_the_function_and_logs_no_token() {
    let deployment = deploy(&[]);
    let body = &deployment.properties("WebhookApi")["Body"];
    // One route, the one `http_handler::route` serves: POST /webhooks/{platform}/{token}.
    let paths = body["paths"].as_mapping().unwrap();
    assert_eq!(paths.len(), 1);
    let (path, methods) = paths.iter().next().unwrap();
    assert_eq!(path, "/webhooks/{platform}/{token}");
    assert_eq!(methods.as_mapping().unwrap().len(), 1);
    let integration = &methods["post"]["x-amazon-apigateway-integration"];
    assert_eq!(integration["type"], "aws_proxy");
    assert_eq!(integration["payloadFormatVersion"], "2.0");
    assert!(
        deployment
            .render(&integration["uri"])
            .ends_with(":lambda:path/2015-03-31/functions/WebhookFunction.Arn/invocations")
    );
    // API Gateway may invoke the function for this API's POST route only.
    let permissions: Vec<&Value> = deployment
        .of_type("AWS::Lambda::Permission")
        .into_iter()
        .map(|(_, p)| &p["Properties"])
        .collect();
    assert_eq!(permissions.len(), 1);
    assert_eq!(permissions[0]["Principal"], "apigateway.amazonaws.com");
    assert_eq!(permissions[0]["Action"], "lambda:InvokeFunction");
    assert_eq!(
        deployment.render(&permissions[0]["SourceArn"]),
        "arn:aws:execute-api:eu-west-1:123456789012:WebhookApi/*/POST/webhooks/*/*"
    );
    // The stage serves it at the root, redeploying on every change.
    let stage = deployment.properties(STAGE);
    assert_eq!(deployment.render(&stage["ApiId"]), "WebhookApi");
    assert_eq!(stage["StageName"], "$default");
    assert_eq!(stage["AutoDeploy"], true);
    let format = access_log_format(&deployment);
    for leaks_path in [
        "$context.path",
        "$context.resourcePath",
        "$context.requestOverride",
    ] {
        assert!(
            !format.contains(leaks_path),
            "access logs would record the token: {leaks_path}"
        );
    }
    // The token is never an output.
    for (name, output) in template()["Outputs"].as_mapping().unwrap() {
        let text = serde_norway::to_string(output).unwrap();
        assert!(
            !text.contains("resolve:secretsmanager"),
            "output {name:?} would expose the token"
        );
    }
}

/// The API's default route throttling, with `overrides`.
fn api_throttling(deployment: &Deployment) -> (f64, f64) {
    let settings = &deployment.properties(STAGE)["DefaultRouteSettings"];
    (
        number(&settings["ThrottlingRateLimit"]),
        number(&settings["ThrottlingBurstLimit"]),
    )
}

/// WhatsApp Cloud API's default tier: 80 messages/s per business number, each outbound message
/// ~4 FlowIQ events, sized at 3 x outgoing in status events plus inbound (Meta's advice): ~320
/// events/s per number.
const EVENTS_PER_SECOND_PER_NUMBER_DEFAULT_TIER: f64 = 320.0;

#[test]
fn the_default_throttle_takes_a_broadcast_at_the_default_tier_with_headroom() {
    let deployment = deploy(&[]);
    let (rate, burst) = api_throttling(&deployment);
    assert_eq!(
        rate,
        number(&string(&deployment.params["ThrottlingRateLimit"]))
    );
    assert_eq!(
        burst,
        number(&string(&deployment.params["ThrottlingBurstLimit"]))
    );
    assert!(
        rate >= EVENTS_PER_SECOND_PER_NUMBER_DEFAULT_TIER,
        "{rate}/s"
    );
    assert!(
        rate >= 500.0,
        "headroom above one number's broadcast: {rate}/s"
    );
    assert!(burst >= 1000.0, "burst {burst}");
    assert!(
        burst >= 2.0 * rate,
        "the start of a broadcast fits the bucket"
    );
}

#[test]
fn the_api_is_always_throttled() {
    // The throttle exists against a leaked URL: every configuration applies a finite, positive
    // rate and burst, and the parameters cannot switch it off.
    let template = template();
    for name in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
        let parameter = &template["Parameters"][name];
        assert_eq!(parameter["Type"], "Number");
        assert!(number(&parameter["Default"]).is_finite());
        assert!(number(&parameter["MinValue"]) >= 1.0, "{name} cannot be 0");
    }
    for overrides in SCENARIOS {
        let deployment = deploy(overrides);
        if deployment.has(STAGE) {
            let (rate, burst) = api_throttling(&deployment);
            assert!(rate.is_finite() && rate >= 1.0 && burst.is_finite() && burst >= 1.0);
        } else {
            // A function URL has no API throttling: reserved concurrency is the cap.
            let reserved =
                &deployment.properties("WebhookFunction")["ReservedConcurrentExecutions"];
            assert!(number(reserved) >= 1.0, "{overrides:?} is not capped");
        }
    }
}

/// What a CloudWatch Logs JSON filter pattern of the form `{ $.a.b = "x" }` or `{ $.a = 1 }`
/// matches in `line`.
fn filter_matches(pattern: &str, line: &str) -> bool {
    let body = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a JSON filter pattern: {pattern}"));
    let (selector, wanted) = body.split_once('=').unwrap();
    let path = selector.trim().strip_prefix("$.").unwrap();
    let wanted = wanted.trim();
    let event: serde_json::Value = serde_json::from_str(line).unwrap();
    let mut value = &event;
    for key in path.split('.') {
        value = &value[key];
    }
    match wanted.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(text) => value.as_str() == Some(text),
        None => value.as_f64() == Some(wanted.parse().unwrap()),
    }
}

/// One access-log line as API Gateway would write it for `status`, from the stage's format.
fn access_log_line(format: &str, status: u16) -> String {
    let mut line = format.replace("$context.status", &status.to_string());
    while let Some(start) = line.find("$context.") {
        let end = line[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '$'))
            .map_or(line.len(), |e| start + e);
        line.replace_range(start..end, "x");
    }
    line
}

fn access_log_format(deployment: &Deployment) -> String {
    deployment.render(&deployment.properties(STAGE)["AccessLogSettings"]["Format"])
}

#[test]
fn throttled_deliveries_are_counted_from_the_access_log_and_alarmed() {
    let deployment = deploy(&[]);
    let namespace = deployment.params["MetricsNamespace"].clone();
    let filters: Vec<&Value> = deployment
        .of_type("AWS::Logs::MetricFilter")
        .into_iter()
        .map(|(_, f)| &f["Properties"])
        .filter(|p| p["MetricTransformations"][0]["MetricName"] == "ThrottledDeliveries")
        .collect();
    assert_eq!(filters.len(), 1);
    let filter = filters[0];
    // It reads the API's access log group ...
    let access_logs = &deployment.properties(STAGE)["AccessLogSettings"]["DestinationArn"];
    assert_eq!(
        strings(access_logs),
        [format!(
            "{}.Arn",
            deployment.render(&filter["LogGroupName"])
        )]
    );
    // ... counts exactly the 429 lines of that log's format ...
    let pattern = filter["FilterPattern"].as_str().unwrap();
    assert!(pattern.contains("$.status"), "{pattern}");
    let format = access_log_format(&deployment);
    assert!(filter_matches(pattern, &access_log_line(&format, 429)));
    for status in [200, 400, 401, 404, 413, 500, 503] {
        assert!(!filter_matches(pattern, &access_log_line(&format, status)));
    }
    // ... once each, into the stack's namespace.
    let transformation = &filter["MetricTransformations"][0];
    assert_eq!(
        deployment.render(&transformation["MetricNamespace"]),
        namespace
    );
    assert_eq!(deployment.render(&transformation["MetricValue"]), "1");

    // An alarm watches that metric, like the other alarms: one occurrence in 5 minutes.
    let alarms: Vec<&Value> = deployment
        .of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(_, a)| &a["Properties"])
        .filter(|a| {
            a["MetricName"] == "ThrottledDeliveries"
                && deployment.render(&a["Namespace"]) == namespace
        })
        .collect();
    assert_eq!(alarms.len(), 1);
    let alarm = alarms[0];
    assert!(alarm["Dimensions"].is_null());
    assert_eq!(alarm["Statistic"], "Sum");
    assert_eq!(number(&alarm["Period"]), 300.0);
    assert_eq!(number(&alarm["Threshold"]), 1.0);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert_eq!(alarm["TreatMissingData"], "notBreaching");
    let topic = "arn:aws:sns:eu-west-1:123456789012:ops";
    let notifying = deploy(&[("AlarmTopicArn", topic)]);
    for (name, alarm) in notifying.of_type("AWS::CloudWatch::Alarm") {
        assert_eq!(
            strings(&alarm["Properties"]["AlarmActions"]),
            [topic],
            "{name} notifies the topic"
        );
    }
    // The function's own throttling keeps its alarm.
    assert!(deployment.has("WebhookFunctionThrottlesAlarm"));
}

// -------------------------------------------------------------------------------------- table

#[test]
fn the_table_is_pre_warmed_only_when_asked() {
    let indexes = |d: &Deployment| -> Vec<Value> {
        items(&d.properties("EventsTable")["GlobalSecondaryIndexes"]).to_vec()
    };
    let default = deploy(&[]);
    assert!(default.properties("EventsTable")["WarmThroughput"].is_null());
    for index in indexes(&default) {
        assert!(index["WarmThroughput"].is_null());
    }
    let warm = deploy(&[
        ("WarmWriteUnitsPerSecond", "20000"),
        ("WarmIndexWriteUnitsPerSecond", "8000"),
    ]);
    let table = &warm.properties("EventsTable")["WarmThroughput"];
    assert_eq!(number(&table["WriteUnitsPerSecond"]), 20000.0);
    assert!(
        table["ReadUnitsPerSecond"].is_null(),
        "the receiver does not read"
    );
    assert_eq!(indexes(&warm).len(), 3);
    for index in indexes(&warm) {
        assert_eq!(
            number(&index["WarmThroughput"]["WriteUnitsPerSecond"]),
            8000.0
        );
    }
}

/// A key schema as `(attribute, key type)` pairs.
fn key_schema(deployment: &Deployment, schema: &Value) -> Vec<(String, String)> {
    items(schema)
        .iter()
        .map(|k| {
            (
                deployment.render(&k["AttributeName"]),
                deployment.render(&k["KeyType"]),
            )
        })
        .collect()
}

#[test]
fn rejected_deliveries_have_a_sparse_index_with_what_their_listing_prints() {
    let deployment = deploy(&[]);
    let table = deployment.properties("EventsTable");
    let index = items(&table["GlobalSecondaryIndexes"])
        .iter()
        .find(|i| i["IndexName"] == keys::BY_REJECTION_INDEX)
        .expect("a by-rejection index");
    assert_eq!(
        key_schema(&deployment, &index["KeySchema"]),
        [
            (keys::REJECTION_PK.to_owned(), "HASH".to_owned()),
            (keys::REJECTION_SK.to_owned(), "RANGE".to_owned())
        ]
    );
    for key in [keys::REJECTION_PK, keys::REJECTION_SK] {
        assert!(
            items(&table["AttributeDefinitions"])
                .iter()
                .any(|a| a["AttributeName"] == key && a["AttributeType"] == "S"),
            "{key} is a string key attribute"
        );
    }
    assert_eq!(index["Projection"]["ProjectionType"], "INCLUDE");
    let projected: BTreeSet<String> = strings(&index["Projection"]["NonKeyAttributes"])
        .into_iter()
        .collect();
    // `flowiq-events rejected` prints received_at, status_code, platform, body_size,
    // reprocess_outcome and reason (flowiq-ops events/inspect.rs, rejected_row), and with --json
    // the entry itself; reprocess-rejected sets reprocessed_at, reprocess_outcome, event_id or a
    // new reason. The table's keys (for the GetItem of the body) are always projected.
    for attribute in [
        "item_type",
        "platform",
        "reason",
        "status_code",
        "received_at",
        "request_id",
        "body_size",
        "body_sha256",
        "reprocessed_at",
        "reprocess_outcome",
        "event_id",
    ] {
        assert!(
            projected.contains(attribute),
            "{attribute} is not projected"
        );
    }
    for body in ["body", "body_bytes"] {
        assert!(!projected.contains(body), "the body stays in the table");
    }
}

// -------------------------------------------------------------------------------------- spill

#[test]
fn deliveries_dynamodb_cannot_take_are_spilled_to_a_queue_and_drained() {
    for overrides in [&[][..], FUNCTION_URL, *SCENARIOS.last().unwrap()] {
        let deployment = deploy(overrides);
        for queue in ["SpillQueue", "SpillDeadLetterQueue"] {
            let resource = deployment.resource(queue);
            assert_eq!(resource["Type"], "AWS::SQS::Queue", "{queue}");
            // Deliveries answered 200 but not stored yet: kept like the table.
            assert_eq!(resource["DeletionPolicy"], "Retain", "{queue}");
            assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{queue}");
            let properties = &resource["Properties"];
            assert_eq!(properties["SqsManagedSseEnabled"], true, "{queue}");
            assert_eq!(
                number(&properties["MessageRetentionPeriod"]),
                14.0 * 86_400.0,
                "{queue}"
            );
        }
        let webhook = deployment.properties("WebhookFunction");
        assert_eq!(
            deployment.render(&webhook["Environment"]["Variables"]["SPILL_QUEUE_URL"]),
            "SpillQueue",
            "the queue's Ref is its URL"
        );
        assert_eq!(
            deployment.output("SpillQueueUrl").as_deref(),
            Some("SpillQueue")
        );
        assert_eq!(
            deployment.output("SpillDeadLetterQueueUrl").as_deref(),
            Some("SpillDeadLetterQueue")
        );

        let drain = deployment.properties("SpillDrainFunction");
        let variables: BTreeSet<&str> = drain["Environment"]["Variables"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(
            variables,
            BTreeSet::from(["TABLE_NAME", "RETENTION_DAYS", "RUST_LOG"]),
            "no tokens: queued deliveries were authenticated"
        );
        assert_eq!(drain["LoggingConfig"]["LogFormat"], "JSON");
        assert_eq!(
            deployment.render(&drain["LoggingConfig"]["LogGroup"]),
            "SpillDrainFunctionLogGroup"
        );
        let events: Vec<&Value> = drain["Events"].as_mapping().unwrap().values().collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["Type"], "SQS");
        let mapping = &events[0]["Properties"];
        assert_eq!(deployment.render(&mapping["Queue"]), "SpillQueue.Arn");
        assert_eq!(number(&mapping["BatchSize"]), 10.0);
        assert_eq!(
            strings(&mapping["FunctionResponseTypes"]),
            ["ReportBatchItemFailures"]
        );
        assert_eq!(
            deployment.render(&mapping["ScalingConfig"]["MaximumConcurrency"]),
            deployment.params["SpillDrainMaximumConcurrency"]
        );

        // AWS: the queue's visibility timeout at least 6 x the function's timeout.
        let spill = deployment.properties("SpillQueue");
        assert!(number(&spill["VisibilityTimeout"]) >= 6.0 * number(&drain["Timeout"]));
        let redrive = &spill["RedrivePolicy"];
        assert_eq!(
            deployment.render(&redrive["deadLetterTargetArn"]),
            "SpillDeadLetterQueue.Arn"
        );
        assert_eq!(
            deployment.render(&redrive["maxReceiveCount"]),
            deployment.params["SpillMaxReceiveCount"]
        );
        assert!(deployment.properties("SpillDeadLetterQueue")["RedrivePolicy"].is_null());

        // Alarms: waiting too long, and anything in the dead-letter queue.
        let alarms = alarmed(&deployment);
        let alarm_on = |metric: &str, queue: &str| {
            alarms
                .iter()
                .find(|(_, u)| {
                    u.namespace == "AWS/SQS"
                        && u.metric == metric
                        && u.dimensions == [("QueueName".to_owned(), format!("{queue}.QueueName"))]
                })
                .map(|(name, _)| deployment.properties(name))
                .unwrap_or_else(|| panic!("no alarm on {metric} of {queue}"))
        };
        let age = alarm_on("ApproximateAgeOfOldestMessage", "SpillQueue");
        assert!(number(&age["Threshold"]) <= 900.0);
        let dead = alarm_on("ApproximateNumberOfMessagesVisible", "SpillDeadLetterQueue");
        assert_eq!(number(&dead["Threshold"]), 1.0);
        assert_eq!(dead["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
        alarm_on("NumberOfMessagesSent", "SpillQueue");
        assert!(alarms.iter().any(|(_, u)| u.metric == "Errors"
            && u.dimensions == [("FunctionName".to_owned(), "SpillDrainFunction".to_owned())]));
    }
    let defaults = deploy(&[]).params;
    assert_eq!(defaults["SpillMaxReceiveCount"], "10");
    assert_eq!(defaults["SpillDrainMaximumConcurrency"], "2");
    let parameters = &template()["Parameters"];
    // Lambda's range for an SQS mapping's maximum concurrency; SQS's for maxReceiveCount.
    let bounds = |name: &str| {
        (
            number(&parameters[name]["MinValue"]),
            number(&parameters[name]["MaxValue"]),
        )
    };
    assert_eq!(bounds("SpillDrainMaximumConcurrency"), (2.0, 1000.0));
    assert_eq!(bounds("SpillMaxReceiveCount"), (1.0, 1000.0));
}

// ------------------------------------------------------------------------- message projection

/// A Lambda event filter pattern (the subset the template uses: nested objects, lists of
/// allowed strings, `{"exists": true}` on a leaf) against a stream record.
fn pattern_matches(pattern: &serde_json::Value, record: &serde_json::Value) -> bool {
    pattern.as_object().unwrap().iter().all(|(key, rule)| {
        let field = &record[key];
        match rule {
            serde_json::Value::Array(allowed) => allowed.iter().any(|a| match a {
                serde_json::Value::Object(op) => op["exists"] == !field.is_null(),
                value => value == field,
            }),
            nested => field.is_object() && pattern_matches(nested, field),
        }
    })
}

#[test]
fn the_message_projection_is_deployed_only_when_asked_with_least_privilege() {
    let parts = [
        "MessageProjectionFunction",
        "MessageProjectionFunctionRole",
        "MessageProjectionFailureQueue",
        "MessageProjectionFailureQueueAlarm",
        "EventsTableUpdateItemThrottlesAlarm",
    ];
    let default = deploy(&[]);
    assert_eq!(default.params["DeployMessageProjection"], "false");
    for part in parts {
        assert!(!default.has(part), "{part}");
    }
    assert!(default.output("MessageProjectionFunctionName").is_none());
    assert!(
        !charted(&default).iter().any(|u| u
            .dimensions
            .contains(&("Operation".to_owned(), "UpdateItem".to_owned()))),
        "nothing in the default stack calls UpdateItem"
    );

    let deployment = deploy(PROJECTION);
    for part in parts {
        assert!(deployment.has(part), "{part}");
    }
    assert_eq!(
        deployment
            .output("MessageProjectionFunctionName")
            .as_deref(),
        Some("MessageProjectionFunction")
    );
    assert_eq!(
        deployment.resource("MessageProjectionFunction")["Metadata"]["BuildProperties"]["Binary"],
        "flowiq-message-projection"
    );
    let function = deployment.properties("MessageProjectionFunction");
    let variables = &function["Environment"]["Variables"];
    assert_eq!(
        variables
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["TABLE_NAME", "RETENTION_DAYS", "RUST_LOG"])
    );
    assert_eq!(deployment.render(&variables["TABLE_NAME"]), "EventsTable");
    assert_eq!(
        deployment.render(&function["Role"]),
        "MessageProjectionFunctionRole.Arn"
    );
    assert_eq!(
        deployment.render(&function["LoggingConfig"]["LogGroup"]),
        "MessageProjectionFunctionLogGroup"
    );
    // The merge into the `message` item, the stream (as the example consumer reads it), its
    // failure queue: nothing else.
    let stream = "EventsTable.StreamArn";
    assert_eq!(
        grants(&template(), "MessageProjectionFunctionRole"),
        grant_set(&[
            (
                "logs:CreateLogStream",
                "MessageProjectionFunctionLogGroup.Arn"
            ),
            ("logs:PutLogEvents", "MessageProjectionFunctionLogGroup.Arn"),
            ("dynamodb:UpdateItem", "EventsTable.Arn"),
            ("dynamodb:DescribeStream", stream),
            ("dynamodb:GetRecords", stream),
            ("dynamodb:GetShardIterator", stream),
            ("dynamodb:ListStreams", "${EventsTable.Arn}/stream/*"),
            ("sqs:SendMessage", "MessageProjectionFailureQueue.Arn"),
        ])
    );

    let events: Vec<&Value> = function["Events"].as_mapping().unwrap().values().collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["Type"], "DynamoDB");
    let mapping = &events[0]["Properties"];
    assert_eq!(deployment.render(&mapping["Stream"]), stream);
    assert_eq!(mapping["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(number(&mapping["BatchSize"]), 100.0);
    assert_eq!(mapping["BisectBatchOnFunctionError"], true);
    assert_eq!(
        strings(&mapping["FunctionResponseTypes"]),
        ["ReportBatchItemFailures"]
    );
    assert!(number(&mapping["MaximumRetryAttempts"]) >= 1.0);
    // Within the stream's 24 hours.
    assert!(number(&mapping["MaximumRecordAgeInSeconds"]) <= 86_400.0);
    assert_eq!(
        deployment.render(&mapping["DestinationConfig"]["OnFailure"]["Destination"]),
        "MessageProjectionFailureQueue.Arn"
    );
    assert_eq!(
        deployment.properties("MessageProjectionFailureQueue")["SqsManagedSseEnabled"],
        true
    );
    assert!(alarmed(&deployment).iter().any(|(_, u)| u.metric
        == "ApproximateNumberOfMessagesVisible"
        && u.dimensions
            == [(
                "QueueName".to_owned(),
                "MessageProjectionFailureQueue.QueueName".to_owned()
            )]));
    assert!(charts(&deployment, "AWS/Lambda", "IteratorAge"));

    // Only new events of a WhatsApp message: not events without one, not the projection's own
    // `message` items (its first update of a message is an INSERT), not rejected deliveries,
    // not TTL deletions.
    let filters = items(&mapping["FilterCriteria"]["Filters"]);
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value =
        serde_json::from_str(&deployment.render(&filters[0]["Pattern"])).unwrap();
    let record = |name: &str, item_type: &str, wamid: Option<&str>| {
        let mut image = serde_json::json!({"item_type": {"S": item_type}, "pk": {"S": "MSG#x"}});
        if let Some(wamid) = wamid {
            image["whatsapp_message_id"] = serde_json::json!({"S": wamid});
        }
        serde_json::json!({"eventName": name, "dynamodb": {"NewImage": image}})
    };
    assert!(pattern_matches(
        &pattern,
        &record("INSERT", "event", Some("wamid.1"))
    ));
    for ignored in [
        record("INSERT", "event", None),
        record("INSERT", "message", Some("wamid.1")),
        record("MODIFY", "message", Some("wamid.1")),
        record("INSERT", "rejected", None),
        serde_json::json!({"eventName": "REMOVE", "dynamodb": {}}),
    ] {
        assert!(!pattern_matches(&pattern, &ignored), "{ignored}");
    }
}

// ----------------------------------------------------------------------------- custom domain

#[test]
fn without_a_custom_domain_there_is_no_domain_mapping_or_domain_output() {
    let deployment = deploy(&[]);
    assert!(
        deployment
            .of_type("AWS::ApiGatewayV2::DomainName")
            .is_empty()
    );
    assert!(
        deployment
            .of_type("AWS::ApiGatewayV2::ApiMapping")
            .is_empty()
    );
    assert_eq!(deployment.output("CustomDomainWebhookBaseUrl"), None);
    assert_eq!(deployment.output("CustomDomainTarget"), None);
    assert!(deployment.output("WebhookBaseUrl").is_some());
}

#[test]
fn a_custom_domain_maps_the_api_and_outputs_its_url_and_dns_target() {
    for (base_path, url) in [
        ("", format!("https://{DOMAIN}")),
        ("flowiq", format!("https://{DOMAIN}/flowiq")),
    ] {
        let deployment = deploy(&[
            ("CustomDomainName", DOMAIN),
            ("CertificateArn", CERTIFICATE),
            ("CustomDomainBasePath", base_path),
        ]);
        let domains = deployment.of_type("AWS::ApiGatewayV2::DomainName");
        assert_eq!(domains.len(), 1);
        let (domain_id, domain) = domains[0];
        let domain = &domain["Properties"];
        assert_eq!(deployment.render(&domain["DomainName"]), DOMAIN);
        let configuration = &items(&domain["DomainNameConfigurations"])[0];
        assert_eq!(
            deployment.render(&configuration["CertificateArn"]),
            CERTIFICATE
        );
        assert_eq!(configuration["EndpointType"], "REGIONAL");
        assert_eq!(configuration["SecurityPolicy"], "TLS_1_2");

        let mappings = deployment.of_type("AWS::ApiGatewayV2::ApiMapping");
        assert_eq!(mappings.len(), 1);
        let mapping = &mappings[0].1["Properties"];
        assert_eq!(deployment.render(&mapping["DomainName"]), domain_id);
        assert_eq!(deployment.render(&mapping["ApiId"]), "WebhookApi");
        assert!(!mapping["Stage"].is_null());
        match base_path {
            "" => assert!(mapping["ApiMappingKey"].is_null(), "the domain's root"),
            key => assert_eq!(deployment.render(&mapping["ApiMappingKey"]), key),
        }

        // The bootstrap appends /webhooks/{platform}/{token}: no trailing slash.
        assert_eq!(deployment.output("CustomDomainWebhookBaseUrl"), Some(url));
        let target = deployment.output("CustomDomainTarget").unwrap();
        assert_eq!(
            target,
            deployment.attribute(domain_id, "RegionalDomainName")
        );
        assert!(deployment.output("CustomDomainHostedZoneId").is_some());
    }
}

#[test]
fn a_custom_domain_without_its_certificate_is_refused() {
    let refused = deploy(&[("CustomDomainName", DOMAIN)]);
    assert_eq!(refused.failed_rules, ["CustomDomainNeedsCertificate"]);
    let refused = deploy(&[("CustomDomainBasePath", "flowiq")]);
    assert_eq!(refused.failed_rules, ["CustomDomainBasePathNeedsDomain"]);
}

// ------------------------------------------------------------------------------------ endpoint

#[test]
fn the_function_url_endpoint_replaces_the_api() {
    let deployment = deploy(FUNCTION_URL);
    for (name, resource) in &deployment.resources {
        let kind = resource["Type"].as_str().unwrap();
        assert!(!kind.starts_with("AWS::ApiGatewayV2::"), "{name}: {kind}");
    }
    for gone in [
        "WebhookApiAccessLogGroup",
        "ThrottledDeliveriesMetricFilter",
        "ThrottledDeliveriesAlarm",
        "WebhookApi5xxAlarm",
    ] {
        assert!(!deployment.has(gone), "{gone} belongs to the API");
    }
    let urls = deployment.of_type("AWS::Lambda::Url");
    assert_eq!(urls.len(), 1);
    let url = &urls[0].1["Properties"];
    assert_eq!(
        url["AuthType"], "NONE",
        "the token in the path authenticates"
    );
    assert_eq!(
        deployment.render(&url["TargetFunctionArn"]),
        "WebhookFunction.Arn"
    );
    assert!(url["Qualifier"].is_null());

    // Function URLs created since October 2025 need both statements: InvokeFunctionUrl (for the
    // URL's auth type) and InvokeFunction (only through a function URL).
    let mut statements: Vec<(String, String)> = deployment
        .of_type("AWS::Lambda::Permission")
        .into_iter()
        .map(|(_, p)| {
            let p = &p["Properties"];
            assert_eq!(deployment.render(&p["FunctionName"]), "WebhookFunction");
            assert_eq!(p["Principal"], "*");
            assert!(p["SourceArn"].is_null());
            let condition = if p["Action"] == "lambda:InvokeFunctionUrl" {
                format!(
                    "FunctionUrlAuthType={}",
                    deployment.render(&p["FunctionUrlAuthType"])
                )
            } else {
                format!(
                    "InvokedViaFunctionUrl={}",
                    deployment.render(&p["InvokedViaFunctionUrl"])
                )
            };
            (deployment.render(&p["Action"]), condition)
        })
        .collect();
    statements.sort();
    assert_eq!(
        statements,
        [
            (
                "lambda:InvokeFunction".to_owned(),
                "InvokedViaFunctionUrl=true".to_owned()
            ),
            (
                "lambda:InvokeFunctionUrl".to_owned(),
                "FunctionUrlAuthType=NONE".to_owned()
            ),
        ]
    );

    // The 5xx alarm watches the URL instead of the API.
    let alarm = deployment.properties("WebhookFunctionUrl5xxAlarm");
    assert_eq!(alarm["Namespace"], "AWS/Lambda");
    assert_eq!(alarm["MetricName"], "Url5xxCount");
    assert_eq!(
        dimensions(&deployment, alarm),
        [("FunctionName".to_owned(), "WebhookFunction".to_owned())]
    );
    assert!(!deploy(&[]).has("WebhookFunctionUrl5xxAlarm"));
}

fn dimensions(deployment: &Deployment, alarm: &Value) -> Vec<(String, String)> {
    alarm["Dimensions"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                deployment.render(&d["Name"]),
                deployment.render(&d["Value"]),
            )
        })
        .collect()
}

#[test]
fn the_function_url_endpoint_requires_reserved_concurrency() {
    let uncapped = deploy(&[("Endpoint", "FunctionUrl")]);
    assert_eq!(
        uncapped.failed_rules,
        ["FunctionUrlNeedsReservedConcurrency"]
    );
    assert!(deploy(FUNCTION_URL).failed_rules.is_empty());
}

#[test]
fn a_custom_domain_needs_the_http_api() {
    let mut overrides = FUNCTION_URL.to_vec();
    overrides.extend([
        ("CustomDomainName", DOMAIN),
        ("CertificateArn", CERTIFICATE),
    ]);
    let refused = deploy(&overrides);
    assert_eq!(refused.failed_rules, ["CustomDomainNeedsHttpApi"]);
}

#[test]
fn the_webhook_base_url_works_with_either_endpoint() {
    assert_eq!(
        deploy(&[]).output("WebhookBaseUrl").unwrap(),
        "https://WebhookApi.execute-api.eu-west-1.amazonaws.com"
    );
    // Without the function URL's trailing slash: the bootstrap appends /webhooks/...
    assert_eq!(
        deploy(FUNCTION_URL).output("WebhookBaseUrl").unwrap(),
        "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws"
    );
}

// ------------------------------------------------------------------------------- billing mode

/// The table's index names, from its definition.
fn index_names(deployment: &Deployment) -> Vec<String> {
    items(&deployment.properties("EventsTable")["GlobalSecondaryIndexes"])
        .iter()
        .map(|i| deployment.render(&i["IndexName"]))
        .collect()
}

#[test]
fn on_demand_has_no_provisioned_capacity_and_no_auto_scaling() {
    let deployment = deploy(&[]);
    let table = deployment.properties("EventsTable");
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert!(table["ProvisionedThroughput"].is_null());
    for index in items(&table["GlobalSecondaryIndexes"]) {
        assert!(index["ProvisionedThroughput"].is_null());
    }
    for (name, resource) in &deployment.resources {
        let kind = resource["Type"].as_str().unwrap();
        assert!(!kind.starts_with("AWS::ApplicationAutoScaling::"), "{name}");
    }
}

#[test]
fn provisioned_capacity_scales_the_table_and_each_index_for_reads_and_writes() {
    let deployment = deploy(&[
        ("BillingMode", "PROVISIONED"),
        ("ProvisionedTargetUtilization", "60"),
        ("ProvisionedMinWriteUnits", "25"),
        ("ProvisionedMaxWriteUnits", "3000"),
        ("ProvisionedMinReadUnits", "2"),
        ("ProvisionedMaxReadUnits", "50"),
    ]);
    let table = deployment.properties("EventsTable");
    assert_eq!(table["BillingMode"], "PROVISIONED");
    let initial = |throughput: &Value| {
        (
            number(&throughput["ReadCapacityUnits"]),
            number(&throughput["WriteCapacityUnits"]),
        )
    };
    assert_eq!(initial(&table["ProvisionedThroughput"]), (2.0, 25.0));
    for index in items(&table["GlobalSecondaryIndexes"]) {
        assert_eq!(initial(&index["ProvisionedThroughput"]), (2.0, 25.0));
    }

    // One scalable target per (table or index) x (read or write), each with its policy.
    let targets = deployment.of_type("AWS::ApplicationAutoScaling::ScalableTarget");
    let policies = deployment.of_type("AWS::ApplicationAutoScaling::ScalingPolicy");
    let mut scaled = BTreeSet::new();
    for (target_id, target) in &targets {
        let target = &target["Properties"];
        assert_eq!(target["ServiceNamespace"], "dynamodb");
        assert!(
            target["RoleARN"].is_null(),
            "{target_id}: the service-linked role"
        );
        let resource = deployment.render(&target["ResourceId"]);
        let dimension = deployment.render(&target["ScalableDimension"]);
        let segments: Vec<&str> = resource.split('/').collect();
        let units = match (segments.as_slice(), dimension.as_str()) {
            (["table", "EventsTable"], "dynamodb:table:WriteCapacityUnits")
            | (["table", "EventsTable", "index", _], "dynamodb:index:WriteCapacityUnits") => {
                "Write"
            }
            (["table", "EventsTable"], "dynamodb:table:ReadCapacityUnits")
            | (["table", "EventsTable", "index", _], "dynamodb:index:ReadCapacityUnits") => "Read",
            _ => panic!("{target_id}: {resource} {dimension}"),
        };
        let (min, max) = if units == "Write" {
            (25.0, 3000.0)
        } else {
            (2.0, 50.0)
        };
        assert_eq!(number(&target["MinCapacity"]), min, "{target_id}");
        assert_eq!(number(&target["MaxCapacity"]), max, "{target_id}");
        let policies: Vec<&Value> = policies
            .iter()
            .map(|(_, p)| &p["Properties"])
            .filter(|p| deployment.render(&p["ScalingTargetId"]) == *target_id)
            .collect();
        assert_eq!(policies.len(), 1, "{target_id} has one policy");
        let policy = policies[0];
        assert_eq!(policy["PolicyType"], "TargetTrackingScaling");
        let tracking = &policy["TargetTrackingScalingPolicyConfiguration"];
        assert_eq!(number(&tracking["TargetValue"]), 60.0);
        assert_eq!(
            tracking["PredefinedMetricSpecification"]["PredefinedMetricType"],
            format!("DynamoDB{units}CapacityUtilization").as_str()
        );
        assert!(
            scaled.insert((resource.clone(), units)),
            "{resource} {units} twice"
        );
    }
    let mut expected = BTreeSet::new();
    for units in ["Read", "Write"] {
        expected.insert(("table/EventsTable".to_owned(), units));
        for index in index_names(&deployment) {
            expected.insert((format!("table/EventsTable/index/{index}"), units));
        }
    }
    assert_eq!(scaled, expected);
    assert_eq!(policies.len(), targets.len());
}

#[test]
fn warm_throughput_is_refused_with_provisioned_capacity() {
    for warm in ["WarmWriteUnitsPerSecond", "WarmIndexWriteUnitsPerSecond"] {
        let refused = deploy(&[("BillingMode", "PROVISIONED"), (warm, "8000")]);
        assert_eq!(
            refused.failed_rules,
            ["WarmThroughputIsForOnDemand"],
            "{warm}"
        );
        // And it would be ignored rather than sent to a provisioned table.
        assert!(refused.properties("EventsTable")["WarmThroughput"].is_null());
        for index in items(&refused.properties("EventsTable")["GlobalSecondaryIndexes"]) {
            assert!(index["WarmThroughput"].is_null());
        }
    }
}

// ------------------------------------------------------------------------------------- logging

#[test]
fn the_log_level_reaches_rust_log_and_lambdas_application_log_level() {
    for (level, lambda) in [
        ("debug", "DEBUG"),
        ("info", "INFO"),
        ("warn", "WARN"),
        ("error", "ERROR"),
    ] {
        let deployment = deploy(&[
            ("LogLevel", level),
            ("DeployStreamConsumer", "true"),
            ("DeployMessageProjection", "true"),
        ]);
        for function in [
            "WebhookFunction",
            "StreamConsumerFunction",
            "MessageProjectionFunction",
        ] {
            let properties = deployment.properties(function);
            assert_eq!(
                deployment.render(&properties["Environment"]["Variables"]["RUST_LOG"]),
                level
            );
            let logging = &properties["LoggingConfig"];
            // Lambda filters by level only with JSON logs.
            assert_eq!(logging["LogFormat"], "JSON");
            assert_eq!(deployment.render(&logging["ApplicationLogLevel"]), lambda);
        }
    }
}

#[test]
fn the_system_log_level_reaches_lambdas_logging_config() {
    for (overrides, expected) in [
        (&[][..], "INFO"),
        (&[("SystemLogLevel", "WARN")][..], "WARN"),
        (&[("SystemLogLevel", "DEBUG")][..], "DEBUG"),
    ] {
        let mut overrides = overrides.to_vec();
        overrides.extend([
            ("DeployStreamConsumer", "true"),
            ("DeployMessageProjection", "true"),
        ]);
        let deployment = deploy(&overrides);
        for function in [
            "WebhookFunction",
            "StreamConsumerFunction",
            "MessageProjectionFunction",
        ] {
            let logging = &deployment.properties(function)["LoggingConfig"];
            assert_eq!(deployment.render(&logging["SystemLogLevel"]), expected);
        }
    }
}

#[test]
fn without_access_logs_there_is_no_access_log_and_no_429_alarm() {
    let deployment = deploy(&[("AccessLogs", "false")]);
    assert!(deployment.properties(STAGE)["AccessLogSettings"].is_null());
    assert!(deployment.of_type("AWS::Logs::MetricFilter").is_empty());
    for gone in ["WebhookApiAccessLogGroup", "ThrottledDeliveriesAlarm"] {
        assert!(!deployment.has(gone), "{gone}");
    }
    // Still throttled, still alarmed on 5xx.
    assert!(api_throttling(&deployment).0 >= 1.0);
    assert!(deployment.has("WebhookApi5xxAlarm"));
}

#[test]
fn the_access_log_line_is_small_json_with_what_an_operator_needs() {
    let deployment = deploy(&[]);
    let format = access_log_format(&deployment);
    let line: serde_json::Value = serde_json::from_str(&access_log_line(&format, 200)).unwrap();
    let fields: BTreeSet<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "requestId",
            "status",
            "responseLength",
            "integrationLatency",
            "requestTime",
            // Needed to tell FlowIQ's senders from someone using a leaked URL.
            "sourceIp",
        ])
    );
    // A realistic line (the values docs/deployment.md shows) stays under 200 bytes.
    let sample = format
        .replace("$context.requestId", "Kq1mXhXsIAMEb7w=")
        .replace("$context.status", "200")
        .replace("$context.responseLength", "65")
        .replace("$context.integrationLatency", "14")
        .replace("$context.requestTime", "27/Nov/2026:17:26:03 +0000")
        .replace("$context.identity.sourceIp", "203.0.113.45");
    assert!(!sample.contains("$context"), "{sample}");
    assert_eq!(
        sample.len(),
        164,
        "docs/deployment.md states 164 bytes: {sample}"
    );
}

// ------------------------------------------------------------------------- metrics, dashboard

/// The webhook function's metrics contract: CloudWatch Embedded Metric Format in its one log line
/// per delivery, in the namespace it gets as `METRICS_NAMESPACE` (`EnableMetrics`,
/// `MetricsNamespace`). (metric, unit, dimension sets).
const EMF_METRICS: &[(&str, &str, DimensionSets)] = &[
    (
        metrics::DELIVERIES,
        "Count",
        &[&[metrics::OUTCOME], &[metrics::EVENT_TYPE]],
    ),
    (metrics::STORE_LATENCY, "Milliseconds", &[&[]]),
];
// What the code emits is the single source: the template must chart exactly these values.
const EMF_OUTCOMES: &[&str] = &metrics::OUTCOMES;
const EMF_EVENT_TYPES: &[&str] = &metrics::EVENT_TYPES;
/// The dimension sets a metric is published with (each a list of dimension names).
type DimensionSets = &'static [&'static [&'static str]];

/// Published in the same namespace by `ThrottledDeliveriesMetricFilter`, without dimensions.
const FILTER_METRICS: &[&str] = &["ThrottledDeliveries"];

/// What AWS publishes, as documented by each service (namespace, metrics, the dimension sets those
/// metrics are published with). Only what a dashboard or alarm here may use; a name not in this
/// table fails the tests.
const AWS_METRICS: &[(&str, &[&str], DimensionSets)] = &[
    // HTTP APIs: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html
    (
        "AWS/ApiGateway",
        &[
            "Count",
            "4xx",
            "5xx",
            "Latency",
            "IntegrationLatency",
            "DataProcessed",
        ],
        &[
            &["ApiId"],
            &["ApiId", "Stage"],
            &["ApiId", "Method", "Resource", "Stage"],
        ],
    ),
    // Function metrics, and function URL metrics (urls-monitoring.html).
    (
        "AWS/Lambda",
        &[
            "Invocations",
            "Errors",
            "Throttles",
            "Duration",
            "ConcurrentExecutions",
            "IteratorAge",
            "UrlRequestCount",
            "Url4xxCount",
            "Url5xxCount",
            "UrlRequestLatency",
        ],
        &[
            &["FunctionName"],
            &["FunctionName", "Resource"],
            &["FunctionName", "Resource", "ExecutedVersion"],
        ],
    ),
    // DynamoDB metrics-dimensions.html: capacity per table or per index, throttled requests per
    // operation, conditional check failures per table.
    (
        "AWS/DynamoDB",
        &[
            "ConsumedWriteCapacityUnits",
            "ConsumedReadCapacityUnits",
            "ProvisionedWriteCapacityUnits",
            "ProvisionedReadCapacityUnits",
        ],
        &[&["TableName"], &["TableName", "GlobalSecondaryIndexName"]],
    ),
    (
        "AWS/DynamoDB",
        &["ThrottledRequests", "SystemErrors"],
        &[&["TableName", "Operation"]],
    ),
    (
        "AWS/DynamoDB",
        &["ConditionalCheckFailedRequests"],
        &[&["TableName"]],
    ),
    (
        "AWS/SQS",
        &[
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage",
            "NumberOfMessagesSent",
        ],
        &[&["QueueName"]],
    ),
];

/// One metric as a dashboard row or an alarm names it.
#[derive(Debug, Clone)]
struct MetricUse {
    namespace: String,
    metric: String,
    dimensions: Vec<(String, String)>,
    stat: String,
}

fn dashboard_body(deployment: &Deployment) -> serde_json::Value {
    let body = deployment.render(&deployment.properties("WebhookDashboard")["DashboardBody"]);
    serde_json::from_str(&body).unwrap_or_else(|e| {
        panic!(
            "dashboard body is not JSON with {:?}: {e}\n{body}",
            deployment.overrides()
        )
    })
}

fn widgets(deployment: &Deployment) -> Vec<serde_json::Value> {
    dashboard_body(deployment)["widgets"]
        .as_array()
        .unwrap()
        .clone()
}

/// Every metric row of the dashboard's metric widgets.
fn charted(deployment: &Deployment) -> Vec<MetricUse> {
    let mut uses = Vec::new();
    for widget in widgets(deployment) {
        let properties = &widget["properties"];
        match widget["type"].as_str().unwrap() {
            "metric" => {}
            "text" | "log" => continue,
            other => panic!("unexpected widget type {other}"),
        }
        assert_eq!(properties["region"], "eu-west-1", "{widget}");
        let default_stat = properties["stat"].as_str().unwrap_or("Average");
        for row in properties["metrics"].as_array().unwrap() {
            let row = row.as_array().unwrap();
            let (names, options) = match row.last() {
                Some(serde_json::Value::Object(options)) => (&row[..row.len() - 1], Some(options)),
                _ => (&row[..], None),
            };
            let names: Vec<&str> = names
                .iter()
                .map(|n| {
                    n.as_str()
                        .unwrap_or_else(|| panic!("not a metric row: {row:?}"))
                })
                .collect();
            assert!(
                names.len() >= 2 && names.len().is_multiple_of(2),
                "explicit metrics only (namespace, name, dimension pairs): {row:?}"
            );
            uses.push(MetricUse {
                namespace: names[0].to_owned(),
                metric: names[1].to_owned(),
                dimensions: names[2..]
                    .chunks(2)
                    .map(|p| (p[0].to_owned(), p[1].to_owned()))
                    .collect(),
                stat: options
                    .and_then(|o| o.get("stat"))
                    .and_then(|s| s.as_str())
                    .unwrap_or(default_stat)
                    .to_owned(),
            });
        }
    }
    uses
}

fn alarmed(deployment: &Deployment) -> Vec<(String, MetricUse)> {
    deployment
        .of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(name, alarm)| {
            let alarm = &alarm["Properties"];
            (
                name.to_owned(),
                MetricUse {
                    namespace: deployment.render(&alarm["Namespace"]),
                    metric: deployment.render(&alarm["MetricName"]),
                    dimensions: dimensions(deployment, alarm),
                    stat: deployment.render(&alarm["Statistic"]),
                },
            )
        })
        .collect()
}

/// `Err` says why `used` is not a metric the function's contract or AWS publishes, or does not
/// point at this stack's resource.
fn check_metric(deployment: &Deployment, used: &MetricUse) -> Result<(), String> {
    let stat_ok = ["Sum", "Average", "Maximum", "Minimum", "SampleCount"]
        .contains(&used.stat.as_str())
        || used
            .stat
            .strip_prefix('p')
            .is_some_and(|p| p.parse::<f64>().is_ok_and(|p| p > 0.0 && p < 100.0));
    if !stat_ok {
        return Err(format!("statistic {}", used.stat));
    }
    let names: Vec<&str> = used.dimensions.iter().map(|(n, _)| n.as_str()).collect();
    if used.namespace == deployment.params["MetricsNamespace"] {
        if FILTER_METRICS.contains(&used.metric.as_str()) {
            return if names.is_empty() {
                Ok(())
            } else {
                Err("the metric filter publishes no dimensions".to_owned())
            };
        }
        let (_, _, sets) = EMF_METRICS
            .iter()
            .find(|(m, _, _)| *m == used.metric)
            .ok_or_else(|| format!("the function does not emit {}", used.metric))?;
        if !sets.contains(&names.as_slice()) {
            return Err(format!("{} has no dimension set {names:?}", used.metric));
        }
        for (name, value) in &used.dimensions {
            let allowed: &[&str] = match name.as_str() {
                "Outcome" => EMF_OUTCOMES,
                "EventType" => EMF_EVENT_TYPES,
                _ => unreachable!(),
            };
            if !allowed.contains(&value.as_str()) {
                return Err(format!("{name}={value} is not in the contract"));
            }
        }
        return Ok(());
    }
    let (_, _, sets) = AWS_METRICS
        .iter()
        .find(|(ns, metrics, _)| *ns == used.namespace && metrics.contains(&used.metric.as_str()))
        .ok_or_else(|| format!("{} does not publish {}", used.namespace, used.metric))?;
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if !sets.iter().any(|set| {
        let mut set = set.to_vec();
        set.sort_unstable();
        set == sorted
    }) {
        return Err(format!("{} has no dimension set {names:?}", used.metric));
    }
    for (name, value) in &used.dimensions {
        let kind_of = |id: &str| {
            deployment
                .resources
                .get(id)
                .and_then(|r| r["Type"].as_str())
                .map(str::to_owned)
        };
        let ok = match name.as_str() {
            "ApiId" => kind_of(value).as_deref() == Some("AWS::ApiGatewayV2::Api"),
            "FunctionName" => kind_of(value).as_deref() == Some("AWS::Serverless::Function"),
            "TableName" => kind_of(value).as_deref() == Some("AWS::DynamoDB::Table"),
            "GlobalSecondaryIndexName" => index_names(deployment).contains(value),
            // The receiver's one write (src/store/dynamodb.rs); UpdateItem only from the message
            // projection.
            "Operation" => {
                value == "PutItem"
                    || (value == "UpdateItem" && deployment.has("MessageProjectionFunction"))
            }
            "QueueName" => {
                value
                    .strip_suffix(".QueueName")
                    .and_then(kind_of)
                    .as_deref()
                    == Some("AWS::SQS::Queue")
            }
            _ => false,
        };
        if !ok {
            return Err(format!(
                "{name}={value} is not one of this stack's resources"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_charted_and_alarmed_metric_is_one_that_is_published() {
    for overrides in SCENARIOS {
        let deployment = deploy(overrides);
        let mut uses: Vec<(String, MetricUse)> = charted(&deployment)
            .into_iter()
            .map(|u| ("dashboard".to_owned(), u))
            .collect();
        uses.extend(alarmed(&deployment));
        assert!(uses.len() > 20);
        for (place, used) in uses {
            if let Err(why) = check_metric(&deployment, &used) {
                panic!("{place} with {overrides:?}: {used:?}: {why}");
            }
        }
    }
}

#[test]
fn the_metric_check_refuses_a_misspelt_metric_or_dimension() {
    let deployment = deploy(&[]);
    let good = charted(&deployment)
        .into_iter()
        .find(|u| u.metric == "ConsumedWriteCapacityUnits")
        .unwrap();
    check_metric(&deployment, &good).unwrap();
    let mut misspelt = good.clone();
    misspelt.metric = "ConsumedWriteCapacityUnit".to_owned();
    assert!(check_metric(&deployment, &misspelt).is_err());
    let mut wrong_dimension = good.clone();
    wrong_dimension.dimensions[0].0 = "Table".to_owned();
    assert!(check_metric(&deployment, &wrong_dimension).is_err());
    let mut wrong_value = good;
    wrong_value.dimensions[0].1 = "WebhookFunction".to_owned();
    assert!(check_metric(&deployment, &wrong_value).is_err());
    let namespace = deployment.params["MetricsNamespace"].clone();
    let emf = |metric: &str, dimensions: &[(&str, &str)]| MetricUse {
        namespace: namespace.clone(),
        metric: metric.to_owned(),
        dimensions: dimensions
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        stat: "Sum".to_owned(),
    };
    check_metric(&deployment, &emf("Deliveries", &[("Outcome", "stored")])).unwrap();
    assert!(check_metric(&deployment, &emf("Delivery", &[("Outcome", "stored")])).is_err());
    assert!(check_metric(&deployment, &emf("Deliveries", &[("Outcome", "saved")])).is_err());
    assert!(check_metric(&deployment, &emf("Deliveries", &[("Status", "stored")])).is_err());
    assert!(
        check_metric(
            &deployment,
            &emf(
                "Deliveries",
                &[("Outcome", "stored"), ("EventType", "call")]
            )
        )
        .is_err(),
        "not a dimension set the function emits"
    );
    assert!(check_metric(&deployment, &emf("StoreLatency", &[("Outcome", "stored")])).is_err());
}

/// `(metric, dimension values)` of the rows in the stack's own namespace.
fn own_metrics(deployment: &Deployment) -> Vec<(String, Vec<String>, String)> {
    let namespace = &deployment.params["MetricsNamespace"];
    charted(deployment)
        .into_iter()
        .filter(|u| &u.namespace == namespace)
        .map(|u| {
            (
                u.metric,
                u.dimensions.into_iter().map(|(_, v)| v).collect(),
                u.stat,
            )
        })
        .collect()
}

#[test]
fn the_dashboard_shows_every_outcome_event_type_and_the_store_latency_percentiles() {
    let deployment = deploy(&[]);
    let own = own_metrics(&deployment);
    let values = |metric: &str| -> BTreeSet<String> {
        own.iter()
            .filter(|(m, _, _)| m == metric)
            .flat_map(|(_, v, _)| v.clone())
            .collect()
    };
    let dimension_values = |name: &str| -> BTreeSet<String> {
        charted(&deployment)
            .into_iter()
            .flat_map(|u| u.dimensions)
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .collect()
    };
    assert_eq!(
        dimension_values("Outcome"),
        EMF_OUTCOMES.iter().map(|s| (*s).to_owned()).collect()
    );
    assert_eq!(
        dimension_values("EventType"),
        EMF_EVENT_TYPES.iter().map(|s| (*s).to_owned()).collect()
    );
    assert!(values("StoreLatency").is_empty());
    let latency: BTreeSet<&str> = own
        .iter()
        .filter(|(m, _, _)| m == "StoreLatency")
        .map(|(_, _, stat)| stat.as_str())
        .collect();
    assert_eq!(latency, BTreeSet::from(["p50", "p99"]));
    assert!(own.iter().any(|(m, _, _)| m == "ThrottledDeliveries"));
}

fn charts(deployment: &Deployment, namespace: &str, metric: &str) -> bool {
    charted(deployment)
        .iter()
        .any(|u| u.namespace == namespace && u.metric == metric)
}

#[test]
fn the_dashboard_follows_the_endpoint_and_the_optional_parts() {
    let default = deploy(&[]);
    for metric in ["Count", "4xx", "5xx", "Latency"] {
        assert!(charts(&default, "AWS/ApiGateway", metric), "{metric}");
    }
    assert!(!charts(&default, "AWS/Lambda", "UrlRequestCount"));
    for metric in ["Duration", "Errors", "Throttles", "ConcurrentExecutions"] {
        assert!(charts(&default, "AWS/Lambda", metric), "{metric}");
    }
    for metric in [
        "ConsumedWriteCapacityUnits",
        "ThrottledRequests",
        "ConditionalCheckFailedRequests",
    ] {
        assert!(charts(&default, "AWS/DynamoDB", metric), "{metric}");
    }
    assert!(!charts(&default, "AWS/Lambda", "IteratorAge"));
    // The spill is always there: its queue, its dead-letter queue and its drain.
    let queue_rows = |d: &Deployment| -> BTreeSet<(String, String)> {
        charted(d)
            .into_iter()
            .filter(|u| u.namespace == "AWS/SQS")
            .map(|u| (u.metric, u.dimensions[0].1.clone()))
            .collect()
    };
    let spill_rows = [
        ("NumberOfMessagesSent", "SpillQueue.QueueName"),
        ("ApproximateNumberOfMessagesVisible", "SpillQueue.QueueName"),
        ("ApproximateAgeOfOldestMessage", "SpillQueue.QueueName"),
        (
            "ApproximateNumberOfMessagesVisible",
            "SpillDeadLetterQueue.QueueName",
        ),
    ]
    .map(|(m, q)| (m.to_owned(), q.to_owned()));
    assert_eq!(queue_rows(&default), BTreeSet::from(spill_rows.clone()));
    let drain: BTreeSet<String> = charted(&default)
        .into_iter()
        .filter(|u| u.dimensions == [("FunctionName".to_owned(), "SpillDrainFunction".to_owned())])
        .map(|u| u.metric)
        .collect();
    assert!(
        drain.contains("Errors") && drain.contains("Duration"),
        "{drain:?}"
    );

    let url = deploy(FUNCTION_URL);
    assert!(
        !charted(&url)
            .iter()
            .any(|u| u.namespace == "AWS/ApiGateway")
    );
    for metric in [
        "UrlRequestCount",
        "Url4xxCount",
        "Url5xxCount",
        "UrlRequestLatency",
    ] {
        assert!(charts(&url, "AWS/Lambda", metric), "{metric}");
    }
    assert!(
        !charts(&url, "FlowIQWebhooks", "ThrottledDeliveries"),
        "no access log"
    );

    let streams = deploy(&[
        ("DeployStreamConsumer", "true"),
        ("EnableEventBridgePipe", "true"),
    ]);
    assert!(charts(&streams, "AWS/Lambda", "IteratorAge"));
    let mut queues = BTreeSet::from(spill_rows);
    for failure_queue in [
        "PipeFailureQueue.QueueName",
        "StreamConsumerFailureQueue.QueueName",
    ] {
        queues.insert((
            "ApproximateNumberOfMessagesVisible".to_owned(),
            failure_queue.to_owned(),
        ));
    }
    assert_eq!(queue_rows(&streams), queues);

    let no_metrics = deploy(&[("EnableMetrics", "false")]);
    let own: Vec<String> = own_metrics(&no_metrics)
        .into_iter()
        .map(|(m, _, _)| m)
        .collect();
    assert_eq!(own, ["ThrottledDeliveries"], "only the access log's metric");

    let no_access_logs = deploy(&[("AccessLogs", "false")]);
    assert!(!charts(
        &no_access_logs,
        "FlowIQWebhooks",
        "ThrottledDeliveries"
    ));
}

#[test]
fn the_dashboard_reads_cold_starts_from_platform_reports_when_lambda_writes_them() {
    let log_widgets = |d: &Deployment| -> Vec<serde_json::Value> {
        widgets(d)
            .into_iter()
            .filter(|w| w["type"] == "log")
            .collect()
    };
    let default = deploy(&[]);
    let logs = log_widgets(&default);
    assert_eq!(logs.len(), 1);
    let query = logs[0]["properties"]["query"].as_str().unwrap();
    assert!(
        query.starts_with("SOURCE 'WebhookFunctionLogGroup' |"),
        "{query}"
    );
    assert!(query.contains(r#"type = "platform.report""#), "{query}");
    assert!(query.contains("record.metrics.initDurationMs"), "{query}");
    assert_eq!(logs[0]["properties"]["region"], "eu-west-1");
    // JSON log format: platform.report is a JSON record with these fields.
    assert_eq!(
        default.properties("WebhookFunction")["LoggingConfig"]["LogFormat"],
        "JSON"
    );
    // SystemLogLevel=WARN drops platform.report: no empty widget.
    assert!(log_widgets(&deploy(&[("SystemLogLevel", "WARN")])).is_empty());
}

#[test]
fn the_metrics_lever_sets_the_functions_namespace() {
    let namespace = |d: &Deployment| {
        d.render(&d.properties("WebhookFunction")["Environment"]["Variables"]["METRICS_NAMESPACE"])
    };
    assert_eq!(namespace(&deploy(&[])), "FlowIQWebhooks");
    assert_eq!(namespace(&deploy(&[("EnableMetrics", "false")])), "");
    let custom = deploy(&[("MetricsNamespace", "Acme/FlowIQ")]);
    assert_eq!(namespace(&custom), "Acme/FlowIQ");
    // The dashboard, the 429 metric filter and its alarm follow it.
    assert!(charts(&custom, "Acme/FlowIQ", "Deliveries"));
    assert!(charts(&custom, "Acme/FlowIQ", "ThrottledDeliveries"));
    assert!(!charts(&custom, "FlowIQWebhooks", "Deliveries"));
    let filter = &custom.properties("ThrottledDeliveriesMetricFilter")["MetricTransformations"][0];
    assert_eq!(custom.render(&filter["MetricNamespace"]), "Acme/FlowIQ");
    assert_eq!(
        custom.render(&custom.properties("ThrottledDeliveriesAlarm")["Namespace"]),
        "Acme/FlowIQ"
    );
}

#[test]
fn the_dashboard_url_output_opens_the_stacks_dashboard() {
    let deployment = deploy(&[]);
    assert_eq!(
        deployment.output("DashboardUrl").unwrap(),
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=WebhookDashboard"
    );
    assert_eq!(
        deployment.render(&deployment.properties("WebhookDashboard")["DashboardName"]),
        "flowiq-webhooks-eu-west-1",
        "dashboard names are global to the account: the Region keeps stacks apart"
    );
}
