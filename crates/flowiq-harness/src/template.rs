//! template.yaml as CloudFormation would deploy it for some parameter values, before it creates
//! anything: the parameters' defaults with overrides (checked against `AllowedValues`,
//! `AllowedPattern`, `MinValue` and `MaxValue`), the `Rules` that would refuse them, the resources and outputs their
//! `Condition` keeps, and every property evaluated to plain JSON. `!If`, `!FindInMap`,
//! `!Ref AWS::NoValue` are resolved; `!Sub`, `!Join`, `!Select` and `!Split` are rendered, with a
//! resource's `!Ref` standing for its logical id (an API Gateway stage's for its name) and `!GetAtt R.A` for `R.A` (or a realistic value
//! from [`ATTRIBUTES`]), so a test reads a URL, an ARN or the dashboard body as the stack would.
//!
//! A reference to a parameter, pseudo parameter or resource the stack does not have (a `!Ref`,
//! `!GetAtt`, `${...}` or `DependsOn` to a resource dropped by its condition), an intrinsic not
//! listed here or an unknown condition is an error: CloudFormation would refuse the template.
//!
//! SAM's part, as far as the template uses it: `Globals.Function` applies to every
//! `AWS::Serverless::Function` that does not set the property itself, and the resources SAM
//! generates for a function with `AutoPublishAlias` (its alias `<Function>Alias<name>`, and
//! `<Function>.Alias` / `<Function>.Version`) or a `DeploymentPreference` (`<Function>DeploymentGroup`,
//! `ServerlessDeploymentApplication`) may be referenced; they are listed in [`Stack::generated`].
//!
//! crates/flowiq-ops/src/provision/template.rs evaluates the same template at its defaults for
//! deploying without SAM, with real ARNs and stricter about what it applies.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;
use serde_norway::Value as Yaml;

/// The account, Region and stack every evaluation uses.
pub const PSEUDO_PARAMETERS: [(&str, &str); 6] = [
    ("AWS::AccountId", "123456789012"),
    ("AWS::Partition", "aws"),
    ("AWS::Region", "eu-west-1"),
    ("AWS::StackName", "flowiq-webhooks"),
    (
        "AWS::StackId",
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/flowiq-webhooks/51af3dc0-d3a5-11f0-8de9-0242ac120002",
    ),
    ("AWS::URLSuffix", "amazonaws.com"),
];

/// `!GetAtt` values where a realistic one matters (a function URL ends in `/`); any other renders
/// as `Resource.Attribute`.
pub const ATTRIBUTES: [(&str, &str); 2] = [
    (
        "WebhookFunctionUrl.FunctionUrl",
        "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/",
    ),
    (
        "WebhookDomainName.RegionalDomainName",
        "d-abcde12345.execute-api.eu-west-1.amazonaws.com",
    ),
];

static NULL: Json = Json::Null;

pub struct Template {
    /// The template as parsed, tags (`!Ref`, `!If`, ...) kept.
    pub yaml: Yaml,
}

/// The stack for some parameter values.
#[derive(Debug, Clone)]
pub struct Stack {
    pub parameters: BTreeMap<String, String>,
    /// The resources kept by their `Condition`, evaluated (`Type`, `Properties`, `Metadata`, ...).
    pub resources: BTreeMap<String, Json>,
    /// The outputs kept by their `Condition`: an object of each one's evaluated `Value`.
    pub outputs: Json,
    /// Rules whose assertions fail: CloudFormation would refuse these parameter values.
    pub failed_rules: Vec<String>,
    /// What SAM generates that the template may reference: `(name, type)`, e.g.
    /// `("WebhookFunctionAliaslive", "AWS::Lambda::Alias")`.
    pub generated: BTreeMap<String, &'static str>,
}

impl Template {
    /// The repository's template.yaml, compiled in.
    pub fn repository() -> Self {
        Self::parse(include_str!("../../../template.yaml")).expect("template.yaml parses")
    }

    pub fn parse(yaml: &str) -> Result<Self, String> {
        let yaml = serde_norway::from_str(yaml).map_err(|e| e.to_string())?;
        Ok(Template { yaml })
    }

    /// The stack with every parameter at its default but `overrides`.
    pub fn deploy(&self, overrides: &[(&str, &str)]) -> Result<Stack, String> {
        let mut parameters = BTreeMap::new();
        for (name, parameter) in entries(&self.yaml["Parameters"]) {
            let default = scalar(&parameter["Default"]).ok_or(format!("{name} has no Default"))?;
            parameters.insert(name.to_owned(), default);
        }
        for &(name, value) in overrides {
            let parameter = &self.yaml["Parameters"][name];
            let allowed = parameter["AllowedValues"].as_sequence();
            let bound = |key: &str| parameter[key].as_f64();
            let number = value.parse::<f64>().ok();
            // CloudFormation matches the whole value against the pattern.
            let pattern = match parameter["AllowedPattern"].as_str() {
                Some(p) => Some(
                    regex::Regex::new(&format!("^(?:{p})$"))
                        .map_err(|e| format!("{name}: AllowedPattern: {e}"))?,
                ),
                None => None,
            };
            if parameter.is_null()
                || allowed.is_some_and(|a| !a.iter().any(|a| scalar(a).as_deref() == Some(value)))
                || pattern.is_some_and(|p| !p.is_match(value))
                || bound("MinValue").is_some_and(|min| number.is_none_or(|n| n < min))
                || bound("MaxValue").is_some_and(|max| number.is_none_or(|n| n > max))
            {
                return Err(format!("{name}={value} is not a value the template allows"));
            }
            parameters.insert(name.to_owned(), value.to_owned());
        }
        let mut eval = Eval {
            yaml: &self.yaml,
            parameters,
            kept: BTreeSet::new(),
        };
        let kept = |body: &Yaml| match body["Condition"].as_str() {
            Some(condition) => eval.condition(condition),
            None => Ok(true),
        };
        let mut resources = BTreeSet::new();
        let mut generated = BTreeMap::new();
        for (name, body) in entries(&self.yaml["Resources"]) {
            if kept(body)? {
                resources.insert(name.to_owned());
                if body["Type"].as_str() == Some(SERVERLESS_FUNCTION) {
                    let properties = with_globals(&self.yaml["Globals"]["Function"], body);
                    generated.extend(sam_generated(name, &properties["Properties"]));
                }
            }
        }
        let mut failed_rules = Vec::new();
        for (name, rule) in entries(&self.yaml["Rules"]) {
            let applies = rule["RuleCondition"].is_null() || eval.truth(&rule["RuleCondition"])?;
            let mut holds = true;
            for assertion in rule["Assertions"].as_sequence().into_iter().flatten() {
                holds &= eval.truth(&assertion["Assert"])?;
            }
            if applies && !holds {
                failed_rules.push(name.to_owned());
            }
        }
        let mut outputs = BTreeMap::new();
        for (name, output) in entries(&self.yaml["Outputs"]) {
            if kept(output)? {
                outputs.insert(name.to_owned(), output["Value"].clone());
            }
        }
        eval.kept = resources;
        eval.kept.extend(generated.keys().cloned());
        let mut stack = Stack {
            parameters: BTreeMap::new(),
            resources: BTreeMap::new(),
            outputs: Json::Object(serde_json::Map::new()),
            failed_rules,
            generated,
        };
        for name in eval
            .kept
            .iter()
            .filter(|n| !stack.generated.contains_key(*n))
        {
            let body = &self.yaml["Resources"][name.as_str()];
            let body = &match body["Type"].as_str() {
                Some(SERVERLESS_FUNCTION) => with_globals(&self.yaml["Globals"]["Function"], body),
                _ => body.clone(),
            };
            let place = |e| format!("Resources.{name}: {e}");
            let value = eval.value(body).map_err(place)?.unwrap_or_default();
            for dependency in strings(&value["DependsOn"]) {
                eval.reference(&dependency).map_err(place)?;
            }
            stack.resources.insert(name.clone(), value);
        }
        for (name, value) in outputs {
            let place = |e| format!("Outputs.{name}: {e}");
            let value = eval.value(&value).map_err(place)?.unwrap_or_default();
            stack.outputs[name] = value;
        }
        stack.parameters = eval.parameters;
        Ok(stack)
    }
}

impl Stack {
    /// The values at a dotted path ([`each`]) that starts at a resource's logical id (a missing
    /// one is `Null`), at every resource of a type, or at `Outputs`:
    /// `EventsTable.Properties.BillingMode`, `AWS::SQS::Queue.Properties.*`, `Outputs.TableName`.
    pub fn each(&self, path: &str) -> Vec<&Json> {
        let (first, rest) = path.split_once('.').unwrap_or((path, ""));
        match first {
            "Outputs" => each(&self.outputs, rest),
            kind if kind.contains("::") => {
                let resources = self.resources.values().filter(|body| body["Type"] == kind);
                resources.flat_map(|body| each(body, rest)).collect()
            }
            id => each(self.resources.get(id).unwrap_or(&NULL), rest),
        }
    }

    pub fn properties(&self, resource: &str) -> &Json {
        match self.resources.get(resource) {
            Some(body) => &body["Properties"],
            None => panic!("the stack has no {resource}"),
        }
    }

    pub fn has(&self, resource: &str) -> bool {
        self.resources.contains_key(resource)
    }

    /// `(logical id, resource)` of the resources of one type.
    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Json)> {
        let resources = self.resources.iter();
        resources
            .filter(move |(_, body)| body["Type"] == kind)
            .map(|(name, body)| (name.as_str(), body))
    }

    pub fn output(&self, name: &str) -> Option<&str> {
        self.outputs[name].as_str()
    }
}

/// The values at a dotted path in `value` (`Properties.Policies.0`; empty: `value` itself), `*`
/// standing for every element of a list or member of an object. A missing key gives `Null`, a
/// `*` over nothing gives no value.
pub fn each<'a>(value: &'a Json, path: &str) -> Vec<&'a Json> {
    let mut values = vec![value];
    for key in path.split('.').filter(|k| !k.is_empty()) {
        values = match key {
            "*" => values.into_iter().flat_map(members).collect(),
            _ => values
                .into_iter()
                .map(|v| key.parse().map_or(&v[key], |i: usize| &v[i]))
                .collect(),
        };
    }
    values
}

fn members(value: &Json) -> Vec<&Json> {
    match value {
        Json::Array(items) => items.iter().collect(),
        Json::Object(object) => object.values().collect(),
        _ => Vec::new(),
    }
}

/// A string, or each string of a list (e.g. `Action: x` or `Action: [x, y]`).
pub fn strings(value: &Json) -> Vec<String> {
    match value {
        Json::String(s) => vec![s.clone()],
        Json::Array(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// A scalar as text (`"3"` for `3`), as CloudFormation compares values.
pub fn text(value: &Json) -> Option<String> {
    json_text(value).ok()
}

const SERVERLESS_FUNCTION: &str = "AWS::Serverless::Function";

/// A function as SAM reads it: each `Globals.Function` property it does not set itself added.
fn with_globals(globals: &Yaml, function: &Yaml) -> Yaml {
    let mut function = function.clone();
    if let (Some(globals), Some(properties)) = (
        globals.as_mapping(),
        function["Properties"].as_mapping_mut(),
    ) {
        for (key, value) in globals {
            if !properties.contains_key(key) {
                properties.insert(key.clone(), value.clone());
            }
        }
    }
    function
}

/// The resources SAM generates for function `name` that a template may reference, by the names
/// it references them with.
fn sam_generated(name: &str, properties: &Yaml) -> Vec<(String, &'static str)> {
    let mut generated = Vec::new();
    if let Some(alias) = properties["AutoPublishAlias"].as_str() {
        // SAM's logical id keeps the alias name's letters and digits.
        let id: String = alias.chars().filter(char::is_ascii_alphanumeric).collect();
        generated.push((format!("{name}Alias{id}"), "AWS::Lambda::Alias"));
        generated.push((format!("{name}.Alias"), "AWS::Lambda::Alias"));
        generated.push((format!("{name}.Version"), "AWS::Lambda::Version"));
        if !properties["DeploymentPreference"].is_null() {
            generated.push((
                format!("{name}DeploymentGroup"),
                "AWS::CodeDeploy::DeploymentGroup",
            ));
            generated.push((
                "ServerlessDeploymentApplication".to_owned(),
                "AWS::CodeDeploy::Application",
            ));
        }
    }
    generated
}

fn entries(mapping: &Yaml) -> impl Iterator<Item = (&str, &Yaml)> {
    let pairs = mapping.as_mapping().into_iter().flatten();
    pairs.filter_map(|(k, v)| Some((k.as_str()?, v)))
}

/// A scalar as CloudFormation passes it around: a string.
fn scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Eval<'a> {
    yaml: &'a Yaml,
    parameters: BTreeMap<String, String>,
    /// The resources the stack has.
    kept: BTreeSet<String>,
}

impl Eval<'_> {
    fn condition(&self, name: &str) -> Result<bool, String> {
        match &self.yaml["Conditions"][name] {
            Yaml::Null => Err(format!("no condition {name}")),
            expression => self.truth(expression),
        }
    }

    fn truth(&self, expression: &Yaml) -> Result<bool, String> {
        let (function, arguments) = intrinsic(expression)?;
        let items = arguments
            .as_sequence()
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(match (function.as_str(), items) {
            ("Equals", [a, b]) => self.text(a)? == self.text(b)?,
            ("Not", [a]) => !self.truth(a)?,
            ("And", _) => items
                .iter()
                .try_fold(true, |all, c| Ok::<_, String>(all && self.truth(c)?))?,
            ("Or", _) => items
                .iter()
                .try_fold(false, |any, c| Ok::<_, String>(any || self.truth(c)?))?,
            ("Condition", _) => self.condition(arguments.as_str().unwrap_or_default())?,
            _ => return Err(format!("!{function} is not a condition")),
        })
    }

    /// `None` for `AWS::NoValue` (the property is absent).
    fn value(&self, value: &Yaml) -> Result<Option<Json>, String> {
        Ok(Some(match value {
            Yaml::Null => Json::Null,
            Yaml::Bool(b) => Json::Bool(*b),
            Yaml::Number(n) => serde_json::to_value(n).map_err(|e| e.to_string())?,
            Yaml::String(s) => Json::String(s.clone()),
            Yaml::Sequence(items) => {
                let items: Result<Vec<_>, _> = items.iter().map(|v| self.value(v)).collect();
                Json::Array(items?.into_iter().flatten().collect())
            }
            Yaml::Mapping(map) => {
                let mut object = serde_json::Map::new();
                for (key, item) in map {
                    let key = key.as_str().ok_or("a key that is not a string")?;
                    if key.starts_with("Fn::") || key == "Ref" {
                        return Err(format!("{key}: write intrinsics in their short form"));
                    }
                    if let Some(item) = self.value(item)? {
                        object.insert(key.to_owned(), item);
                    }
                }
                Json::Object(object)
            }
            Yaml::Tagged(_) => return self.intrinsic(value),
        }))
    }

    fn intrinsic(&self, value: &Yaml) -> Result<Option<Json>, String> {
        let (function, arguments) = intrinsic(value)?;
        let items = arguments
            .as_sequence()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let list = |value: &Yaml| -> Result<Vec<Json>, String> {
            match self.value(value)? {
                Some(Json::Array(items)) => Ok(items),
                other => Err(format!("not a list: {other:?}")),
            }
        };
        let text = Json::String;
        Ok(Some(match (function.as_str(), items) {
            ("Ref", _) => match arguments.as_str() {
                Some("AWS::NoValue") => return Ok(None),
                Some(name) => text(self.reference(name)?),
                None => return Err("!Ref of a non-string".into()),
            },
            ("GetAtt", _) => {
                let path = arguments.as_str().unwrap_or_default();
                let (resource, attribute) = path.split_once('.').ok_or("!GetAtt without .")?;
                text(self.attribute(resource, attribute)?)
            }
            ("Sub", _) => text(self.sub(arguments)?),
            ("If", [condition, then, otherwise]) => {
                let name = condition.as_str().unwrap_or_default();
                return self.value(if self.condition(name)? {
                    then
                } else {
                    otherwise
                });
            }
            ("FindInMap", [map, first, second]) => {
                let found = &self.yaml["Mappings"][self.text(map)?.as_str()]
                    [self.text(first)?.as_str()][self.text(second)?.as_str()];
                match found {
                    Yaml::Null => return Err(format!("no mapping for {items:?}")),
                    found => return self.value(found),
                }
            }
            ("Join", [separator, items]) => {
                let parts: Result<Vec<_>, _> = list(items)?.iter().map(json_text).collect();
                text(parts?.join(&self.text(separator)?))
            }
            ("Select", [index, items]) => {
                let index: usize = self.text(index)?.parse().map_err(|_| "!Select index")?;
                list(items)?
                    .get(index)
                    .cloned()
                    .ok_or("!Select past the end")?
            }
            ("Split", [separator, whole]) => {
                let (separator, whole) = (self.text(separator)?, self.text(whole)?);
                whole
                    .split(separator.as_str())
                    .map(|s| text(s.to_owned()))
                    .collect()
            }
            _ => return Err(format!("!{function} {arguments:?} is not evaluated")),
        }))
    }

    fn text(&self, value: &Yaml) -> Result<String, String> {
        json_text(
            &self
                .value(value)?
                .ok_or("AWS::NoValue where a string is needed")?,
        )
    }

    fn reference(&self, name: &str) -> Result<String, String> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        if let Some((_, value)) = PSEUDO_PARAMETERS.iter().find(|(n, _)| *n == name) {
            return Ok((*value).to_owned());
        }
        if !self.kept.contains(name) {
            return Err(format!("{name} is referenced but not in the stack"));
        }
        // A stage's `!Ref` is its name, which is in a URL: rendered as the stack would.
        let resource = &self.yaml["Resources"][name];
        if resource["Type"].as_str() == Some("AWS::ApiGatewayV2::Stage") {
            return self.text(&resource["Properties"]["StageName"]);
        }
        Ok(name.to_owned())
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Result<String, String> {
        if !self.kept.contains(resource) {
            return Err(format!(
                "{resource}.{attribute} of a resource not in the stack"
            ));
        }
        // SAM's `!GetAtt Function.Version.Version`: only with AutoPublishAlias.
        for generated in ["Version", "Alias"] {
            let reference = format!("{resource}.{generated}");
            if attribute.starts_with(&format!("{generated}.")) && !self.kept.contains(&reference) {
                return Err(format!(
                    "{reference} of a function without AutoPublishAlias"
                ));
            }
        }
        let path = format!("{resource}.{attribute}");
        let known = ATTRIBUTES.iter().find(|(p, _)| *p == path);
        Ok(known.map_or(path, |(_, value)| (*value).to_owned()))
    }

    /// `!Sub text` or `!Sub [text, {variable: value}]`.
    fn sub(&self, arguments: &Yaml) -> Result<String, String> {
        let (template, variables) = match arguments {
            Yaml::Sequence(items) if items.len() == 2 => (&items[0], Some(&items[1])),
            other => (other, None),
        };
        let mut rest = template.as_str().ok_or("!Sub of a non-string")?;
        let mut out = String::new();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find('}').ok_or("an unclosed ${")?;
            let name = &rest[start + 2..end];
            let variable = variables.map(|v| &v[name]).filter(|v| !v.is_null());
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(value) = variable {
                out.push_str(&self.text(value)?);
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(resource, attribute)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// `(function, arguments)` of a tagged value: `!Ref X` is `("Ref", X)`.
fn intrinsic(value: &Yaml) -> Result<(String, &Yaml), String> {
    match value {
        Yaml::Tagged(tagged) => Ok((
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            &tagged.value,
        )),
        other => Err(format!("not an intrinsic function: {other:?}")),
    }
}

fn json_text(value: &Json) -> Result<String, String> {
    match value {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        other => Err(format!("not a string: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "
Parameters:
  Mode: {Type: String, Default: a, AllowedValues: [a, b]}
  Size: {Type: Number, Default: 1, MinValue: 1}
  Name: {Type: String, Default: '', AllowedPattern: '[a-z]*'}
Rules:
  BNeedsSize:
    RuleCondition: !Equals [!Ref Mode, b]
    Assertions: [{Assert: !Not [!Equals [!Ref Size, '1']]}]
Mappings:
  Levels: {a: {Name: alpha}, b: {Name: beta}}
Conditions:
  IsB: !Equals [!Ref Mode, b]
  IsA: !Not [!Condition IsB]
Outputs:
  OnlyArn: {Condition: IsB, Value: !GetAtt Only.Arn}
Resources:
  Only: {Type: T, Condition: IsB}
  Always:
    Type: T
    Properties:
      Name: !FindInMap [Levels, !Ref Mode, Name]
      Size: !If [IsB, !Ref Size, !Ref AWS::NoValue]
      Url: !Sub ['https://${Always}.${AWS::Region}/${!Literal}/${Size}/${x}', {x: !Ref Mode}]
      Part: !Select [1, !Split ['/', !Join ['/', [a, !Ref Mode, c]]]]
      Only: !If [IsA, none, !GetAtt Only.Arn]
";

    fn deploy(yaml: &str, overrides: &[(&str, &str)]) -> Result<Stack, String> {
        Template::parse(yaml)?.deploy(overrides)
    }

    #[test]
    fn evaluates_conditions_rules_and_strings_as_cloudformation() {
        let b = deploy(TEMPLATE, &[("Mode", "b"), ("Size", "3")]).unwrap();
        assert_eq!(
            b.properties("Always"),
            &serde_json::json!({"Name": "beta", "Size": "3", "Part": "b", "Only": "Only.Arn",
                "Url": "https://Always.eu-west-1/${Literal}/3/b"})
        );
        assert_eq!(b.output("OnlyArn"), Some("Only.Arn"));
        assert!(b.failed_rules.is_empty());
        assert_eq!(
            deploy(TEMPLATE, &[("Mode", "b")]).unwrap().failed_rules,
            ["BNeedsSize"]
        );
        let a = deploy(TEMPLATE, &[]).unwrap();
        assert_eq!(a.each("Always.Properties.Only"), [&Json::from("none")]);
        assert_eq!(a.each("Always.Properties.Size"), [&Json::Null]);
        assert_eq!(
            a.each("Always.Properties.*").len(),
            4,
            "Name, Url, Part, Only"
        );
        assert!(!a.has("Only") && a.output("OnlyArn").is_none());
    }

    #[test]
    fn what_cloudformation_would_refuse_is_an_error() {
        for overrides in [
            ("Mode", "c"),
            ("Size", "0"),
            ("Other", "x"),
            // The pattern matches the whole value.
            ("Name", "abc1"),
            ("Name", "A"),
        ] {
            assert!(deploy(TEMPLATE, &[overrides]).is_err(), "{overrides:?}");
        }
        assert!(deploy(TEMPLATE, &[("Name", "abc")]).is_ok());
        for (property, error) in [
            ("!Ref Only", "Only is referenced but not in the stack"),
            (
                "!Sub '${Only.Arn}'",
                "Only.Arn of a resource not in the stack",
            ),
            ("!If [Nope, 1, 2]", "no condition Nope"),
            ("!Base64 x", "!Base64"),
        ] {
            let yaml = format!("{TEMPLATE}  Bad: {{Type: T, Properties: {{A: {property}}}}}\n");
            let message = deploy(&yaml, &[]).unwrap_err();
            assert!(
                message.contains(error) && message.contains("Resources.Bad"),
                "{message}"
            );
        }
    }

    #[test]
    fn globals_apply_to_functions_and_sams_generated_resources_can_be_referenced() {
        let functions = "
Globals:
  Function: {AutoPublishAlias: live, Timeout: 3}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Timeout: 9, DeploymentPreference: {Type: AllAtOnce}}
  Plain: {Type: T, Properties: {Timeout: 1}}
";
        let sam = format!(
            "{functions}  Uses:
    Type: T
    Properties:
      Alias: !Ref FnAliaslive
      Version: !Ref Fn.Version
      Number: !GetAtt Fn.Version.Version
      Group: !Sub '${{ServerlessDeploymentApplication}}/${{FnDeploymentGroup}}'
"
        );
        let stack = deploy(&sam, &[]).unwrap();
        // A function's own property wins; only functions take the globals.
        assert_eq!(
            stack.properties("Fn")["AutoPublishAlias"],
            serde_json::json!("live")
        );
        assert_eq!(stack.properties("Fn")["Timeout"], serde_json::json!(9));
        assert!(stack.properties("Plain")["AutoPublishAlias"].is_null());
        assert_eq!(
            stack.properties("Uses"),
            &serde_json::json!({"Alias": "FnAliaslive", "Version": "Fn.Version",
                "Number": "Fn.Version.Version",
                "Group": "ServerlessDeploymentApplication/FnDeploymentGroup"})
        );
        assert_eq!(
            stack.generated.get("FnDeploymentGroup"),
            Some(&"AWS::CodeDeploy::DeploymentGroup")
        );
        // Without AutoPublishAlias there is no alias, version or deployment group to refer to.
        let without = functions.replace("AutoPublishAlias: live, ", "");
        assert!(deploy(&without, &[]).is_ok());
        for reference in [
            "!Ref FnAliaslive",
            "!Ref Fn.Version",
            "!GetAtt Fn.Version.Version",
        ] {
            let yaml = format!("{without}  Bad: {{Type: T, Properties: {{A: {reference}}}}}\n");
            assert!(deploy(&yaml, &[]).is_err(), "{reference}");
        }
    }
}
