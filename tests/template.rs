//! template.yaml against the code: the functions build binaries that exist, the route is the one
//! the handler serves, and IAM grants only what the code uses, never `*`.

use std::collections::BTreeSet;

use serde_norway::Value;

fn template() -> Value {
    serde_norway::from_str(include_str!("../template.yaml")).unwrap()
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(name, r)| (name.as_str().unwrap(), r))
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::Tagged(tagged) => strings(&tagged.value),
        _ => Vec::new(),
    }
}

/// Every IAM statement of every role in the template, with its role's name.
fn statements(template: &Value) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for (role, resource) in resources_of_type(template, "AWS::IAM::Role") {
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
    for (name, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let properties = &function["Properties"];
        assert!(
            properties["Policies"].is_null(),
            "{name}: SAM policies would add managed `*` statements"
        );
        assert!(
            !properties["Role"].is_null(),
            "{name} has its own least-privilege role"
        );
    }
}

#[test]
fn the_webhook_function_may_only_put_and_update_items() {
    let template = template();
    let dynamodb: BTreeSet<String> = statements(&template)
        .iter()
        .filter(|(role, _)| role == "WebhookFunctionRole")
        .flat_map(|(_, s)| strings(&s["Action"]))
        .filter(|a| a.starts_with("dynamodb:"))
        .collect();
    // What src/store/dynamodb.rs calls: PutItem (event, rejected) and UpdateItem (message, and
    // the connection warm-up during init, which never applies).
    assert_eq!(
        dynamodb,
        BTreeSet::from([
            "dynamodb:PutItem".to_owned(),
            "dynamodb:UpdateItem".to_owned()
        ])
    );
}

#[test]
fn functions_build_this_crates_binaries_for_lambda() {
    let template = template();
    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    assert!(functions.len() >= 2);
    for (name, function) in functions {
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let source = format!("{}/src/bin/{binary}.rs", env!("CARGO_MANIFEST_DIR"));
        assert!(
            std::path::Path::new(&source).is_file(),
            "{name} builds {binary}, but {source} does not exist"
        );
        let properties = &function["Properties"];
        assert_eq!(properties["Runtime"], "provided.al2023", "{name}");
        assert_eq!(properties["Handler"], "bootstrap", "{name}");
        assert_eq!(strings(&properties["Architectures"]), ["arm64"], "{name}");
        assert!(properties["Timeout"].as_u64().unwrap() <= 30, "{name}");
    }
}

#[test]
fn the_api_routes_to_the_handlers_path_and_logs_no_token() {
    let template = template();
    let function = &template["Resources"]["WebhookFunction"]["Properties"];
    let route = &function["Events"]["Webhook"]["Properties"];
    assert_eq!(route["Path"], "/webhooks/{platform}/{token}");
    assert_eq!(route["Method"], "POST");
    let api = &template["Resources"]["WebhookApi"]["Properties"];
    let format = api["AccessLogSettings"]["Format"].as_str().unwrap();
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
    assert!(
        !api["DefaultRouteSettings"]["ThrottlingRateLimit"].is_null(),
        "the API is throttled"
    );
    // The token is never an output.
    for (name, output) in template["Outputs"].as_mapping().unwrap() {
        let text = serde_norway::to_string(output).unwrap();
        assert!(
            !text.contains("resolve:secretsmanager"),
            "output {name:?} would expose the token"
        );
    }
}
