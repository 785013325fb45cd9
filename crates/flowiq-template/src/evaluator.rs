//! template.yaml as CloudFormation would deploy it for some parameter values, before it creates
//! anything: the parameters' defaults with overrides (checked against `AllowedValues`,
//! `AllowedPattern`, `MinValue` and `MaxValue`), the `Rules` that would refuse them, the
//! resources and outputs their `Condition` keeps, and every property evaluated to plain JSON.
//! `!If`, `!FindInMap`, `!Ref AWS::NoValue` are resolved; `!Ref`, `!Sub`, `!Join`, `!Select` and
//! `!Split` are rendered. Parameters are strings, as CloudFormation passes them around.
//!
//! What only a deployed stack knows (a resource's `!Ref`, `!GetAtt`, the pseudo parameters) comes
//! from [`Attributes`]: realistic placeholders for tests, or exactly the values a caller knows
//! (`flowiq-provision`: the ARNs of what it created).
//!
//! A reference to a parameter, pseudo parameter or resource the stack does not have (a `!Ref`,
//! `!GetAtt`, `${...}` or `DependsOn` to a resource dropped by its condition), a value
//! [`Attributes::Known`] lacks, an intrinsic not listed here or an unknown condition is an error
//! naming where: CloudFormation would refuse the template, or the caller cannot apply it.
//!
//! SAM's part, as far as the template uses it: `Globals.Function` applies to every
//! `AWS::Serverless::Function` that does not set the property itself, and the resources SAM
//! generates for a function with `AutoPublishAlias` (its alias `<Function>Alias<name>`, and
//! `<Function>.Alias` / `<Function>.Version`) or a `DeploymentPreference`
//! (`<Function>DeploymentGroup`, `ServerlessDeploymentApplication`) may be referenced; they are
//! listed in [`Stack::generated`].

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use serde_norway::Value as Yaml;

use crate::TemplateError;
use crate::json_path::text;

/// The account, Region and stack of [`Attributes::Placeholders`].
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

/// `!GetAtt` placeholders where a realistic value matters (a function URL ends in `/`); any
/// other renders as `Resource.Attribute`.
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

#[derive(Debug, Clone)]
pub struct Template {
    /// The template as parsed, tags (`!Ref`, `!If`, ...) kept.
    pub yaml: Yaml,
}

/// What the values only a deployed stack has stand for.
#[derive(Debug, Clone, Default)]
pub enum Attributes {
    /// Tests: the pseudo parameters of [`PSEUDO_PARAMETERS`], a resource's `!Ref` its logical id
    /// (an API Gateway stage's, its name: it is in URLs), `!GetAtt R.A` the text `R.A` (or a
    /// realistic value from [`ATTRIBUTES`]).
    #[default]
    Placeholders,
    /// Exactly these, keyed as the template writes them: `AWS::Region` (a pseudo parameter),
    /// `SpillQueue.Arn` (`!GetAtt`), `WebhookTokenSecret` (a resource's `!Ref`). Anything else is
    /// an error naming it.
    Known(BTreeMap<String, String>),
}

/// The stack for some parameter values, every resource and output evaluated.
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

/// The template with its parameters decided: evaluates one resource or the whole stack.
#[derive(Debug, Clone)]
pub struct Scope<'t> {
    yaml: &'t Yaml,
    parameters: BTreeMap<String, String>,
    attributes: Attributes,
    /// The resources the stack has (their `Condition` holds), SAM's generated ones included.
    kept: BTreeSet<String>,
    /// SAM's generated resources, by name: they have no body in the template.
    generated: BTreeMap<String, &'static str>,
}

/// Why a value does not evaluate, and where below the value evaluated (innermost step first).
struct Failure {
    path: Vec<String>,
    problem: String,
}

impl Failure {
    fn within(mut self, step: String) -> Self {
        self.path.push(step);
        self
    }

    fn at(self, root: &str) -> TemplateError {
        let mut place = root.to_owned();
        for step in self.path.iter().rev() {
            if !step.starts_with('[') {
                place.push('.');
            }
            place.push_str(step);
        }
        TemplateError::Evaluation {
            place,
            problem: self.problem,
        }
    }
}

impl<T: Into<String>> From<T> for Failure {
    fn from(problem: T) -> Self {
        Failure {
            path: Vec::new(),
            problem: problem.into(),
        }
    }
}

type Evaluated<T> = Result<T, Failure>;

impl Template {
    /// The repository's template.yaml, compiled in: a tool applies the template it was built
    /// with.
    pub fn repository() -> Self {
        Self::parse(include_str!("../../../template.yaml"))
            .expect("the repository's template.yaml parses (tested)")
    }

    pub fn parse(yaml: &str) -> Result<Self, TemplateError> {
        let yaml = serde_norway::from_str(yaml).map_err(|e| TemplateError::Parse(e.to_string()))?;
        Ok(Template { yaml })
    }

    /// The whole stack with every parameter at its default but `overrides`, with placeholders.
    pub fn deploy(&self, overrides: &[(&str, &str)]) -> Result<Stack, TemplateError> {
        self.scope(overrides, Attributes::Placeholders)?.stack()
    }

    /// The parameters at their defaults but `overrides`, and which resources the stack has.
    pub fn scope(
        &self,
        overrides: &[(&str, &str)],
        attributes: Attributes,
    ) -> Result<Scope<'_>, TemplateError> {
        let mut parameters = BTreeMap::new();
        for (name, parameter) in entries(&self.yaml["Parameters"]) {
            let default = scalar(&parameter["Default"])
                .ok_or_else(|| Failure::from("no Default").at(&format!("Parameters.{name}")))?;
            parameters.insert(name.to_owned(), default);
        }
        for &(name, value) in overrides {
            allowed(&self.yaml["Parameters"][name], value).map_err(|problem| {
                TemplateError::Parameter {
                    name: name.to_owned(),
                    value: value.to_owned(),
                    problem,
                }
            })?;
            parameters.insert(name.to_owned(), value.to_owned());
        }
        let mut scope = Scope {
            yaml: &self.yaml,
            parameters,
            attributes,
            kept: BTreeSet::new(),
            generated: BTreeMap::new(),
        };
        for (name, body) in entries(&self.yaml["Resources"]) {
            let place = || format!("Resources.{name}.Condition");
            if scope.kept(body).map_err(|f| f.at(&place()))? {
                scope.kept.insert(name.to_owned());
                if body["Type"].as_str() == Some(SERVERLESS_FUNCTION) {
                    let function = with_globals(&self.yaml["Globals"]["Function"], body);
                    scope
                        .generated
                        .extend(sam_generated(name, &function["Properties"]));
                }
            }
        }
        scope.kept.extend(scope.generated.keys().cloned());
        Ok(scope)
    }
}

/// `Ok` when CloudFormation would take `value` for `parameter`, else why not.
fn allowed(parameter: &Yaml, value: &str) -> Result<(), String> {
    if parameter.is_null() {
        return Err("the template has no such parameter".to_owned());
    }
    if let Some(allowed) = parameter["AllowedValues"].as_sequence()
        && !allowed.iter().any(|a| scalar(a).as_deref() == Some(value))
    {
        return Err("not one of its AllowedValues".to_owned());
    }
    if let Some(pattern) = parameter["AllowedPattern"].as_str() {
        // CloudFormation matches the whole value against the pattern.
        let whole = regex::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| format!("its AllowedPattern does not compile: {e}"))?;
        if !whole.is_match(value) {
            return Err(format!("does not match its AllowedPattern {pattern}"));
        }
    }
    let number = value.parse::<f64>().ok();
    if let Some(min) = parameter["MinValue"].as_f64()
        && number.is_none_or(|n| n < min)
    {
        return Err(format!("below its MinValue {min}"));
    }
    if let Some(max) = parameter["MaxValue"].as_f64()
        && number.is_none_or(|n| n > max)
    {
        return Err(format!("above its MaxValue {max}"));
    }
    Ok(())
}

impl Scope<'_> {
    /// Every parameter's value.
    pub fn parameters(&self) -> &BTreeMap<String, String> {
        &self.parameters
    }

    /// Whether the stack has the resource (it exists and its `Condition` holds).
    pub fn has(&self, logical_id: &str) -> bool {
        self.kept.contains(logical_id)
    }

    /// `Resources.<logical_id>.Properties`, evaluated.
    pub fn properties(&self, logical_id: &str) -> Result<Json, TemplateError> {
        self.resource_value(logical_id, &[])
    }

    /// `Resources.<logical_id>.Properties.<name>`, evaluated (the rest of the resource is not).
    pub fn property(&self, logical_id: &str, name: &str) -> Result<Json, TemplateError> {
        self.resource_value(logical_id, &[name])
    }

    /// The value at `Resources.<logical_id>.Properties.<below...>`, evaluated.
    fn resource_value(&self, logical_id: &str, below: &[&str]) -> Result<Json, TemplateError> {
        let mut place = format!("Resources.{logical_id}.Properties");
        let resource = &self.body(logical_id);
        let mut value = &resource["Properties"];
        for step in below {
            place = format!("{place}.{step}");
            value = &value[*step];
        }
        let problem = if resource.is_null() {
            "no such resource"
        } else if !self.has(logical_id) {
            "not in the stack: its Condition is false for these parameters"
        } else if value.is_null() {
            "missing"
        } else {
            match self.value(value).map_err(|f| f.at(&place))? {
                Some(value) => return Ok(value),
                None => "AWS::NoValue",
            }
        };
        Err(Failure::from(problem).at(&place))
    }

    /// [`Scope::properties`] as `T`; a property `T` does not have is an error.
    pub fn typed<T: DeserializeOwned>(&self, logical_id: &str) -> Result<T, TemplateError> {
        serde_json::from_value(self.properties(logical_id)?).map_err(|e| {
            TemplateError::new(format!(
                "{logical_id}'s Properties are not what this tool applies ({e}): teach it the \
                 change"
            ))
        })
    }

    /// Every resource and output the stack has, evaluated, and the rules that fail.
    pub fn stack(self) -> Result<Stack, TemplateError> {
        let mut failed_rules = Vec::new();
        for (name, rule) in entries(&self.yaml["Rules"]) {
            if !self
                .holds(rule)
                .map_err(|f| f.at(&format!("Rules.{name}")))?
            {
                failed_rules.push(name.to_owned());
            }
        }
        let mut resources = BTreeMap::new();
        for name in self
            .kept
            .iter()
            .filter(|n| !self.generated.contains_key(*n))
        {
            let place = format!("Resources.{name}");
            let body = &self.body(name);
            let value = self.value(body).map_err(|f| f.at(&place))?;
            let value = value.unwrap_or_default();
            for dependency in crate::strings(&value["DependsOn"]) {
                let checked = self.reference(&dependency);
                checked.map_err(|f| f.within("DependsOn".into()).at(&place))?;
            }
            resources.insert(name.clone(), value);
        }
        let mut outputs = serde_json::Map::new();
        for (name, output) in entries(&self.yaml["Outputs"]) {
            let place = format!("Outputs.{name}");
            if self.kept(output).map_err(|f| f.at(&place))? {
                let value = self.value(&output["Value"]).map_err(|f| f.at(&place))?;
                outputs.insert(name.to_owned(), value.unwrap_or_default());
            }
        }
        Ok(Stack {
            parameters: self.parameters,
            resources,
            outputs: Json::Object(outputs),
            failed_rules,
            generated: self.generated,
        })
    }

    /// A resource as SAM reads it: a function with the `Globals.Function` it does not override.
    fn body(&self, logical_id: &str) -> Yaml {
        let body = &self.yaml["Resources"][logical_id];
        match body["Type"].as_str() {
            Some(SERVERLESS_FUNCTION) => with_globals(&self.yaml["Globals"]["Function"], body),
            _ => body.clone(),
        }
    }

    /// Whether a resource or output is in the stack: its `Condition` holds, or it has none.
    fn kept(&self, body: &Yaml) -> Evaluated<bool> {
        match &body["Condition"] {
            Yaml::Null => Ok(true),
            Yaml::String(condition) => self.condition(condition),
            _ => Err("a Condition that is not a condition's name".into()),
        }
    }

    /// A rule's assertions hold, or its `RuleCondition` does not.
    fn holds(&self, rule: &Yaml) -> Evaluated<bool> {
        let applies = rule["RuleCondition"].is_null() || self.truth(&rule["RuleCondition"])?;
        let mut holds = true;
        for assertion in rule["Assertions"].as_sequence().into_iter().flatten() {
            holds &= self.truth(&assertion["Assert"])?;
        }
        Ok(!applies || holds)
    }

    fn condition(&self, name: &str) -> Evaluated<bool> {
        match &self.yaml["Conditions"][name] {
            Yaml::Null => Err(format!("no condition {name}").into()),
            expression => self.truth(expression),
        }
    }

    fn truth(&self, expression: &Yaml) -> Evaluated<bool> {
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
                .try_fold(true, |all, c| Ok::<_, Failure>(all && self.truth(c)?))?,
            ("Or", _) => items
                .iter()
                .try_fold(false, |any, c| Ok::<_, Failure>(any || self.truth(c)?))?,
            ("Condition", _) => match arguments.as_str() {
                Some(name) => self.condition(name)?,
                None => return Err("!Condition of a non-string".into()),
            },
            _ => return Err(format!("!{function} is not a condition function").into()),
        })
    }

    /// `None` for `AWS::NoValue` (the property is absent).
    fn value(&self, value: &Yaml) -> Evaluated<Option<Json>> {
        Ok(Some(match value {
            Yaml::Null => Json::Null,
            Yaml::Bool(b) => Json::Bool(*b),
            Yaml::Number(n) => serde_json::to_value(n).map_err(|e| e.to_string())?,
            Yaml::String(s) => Json::String(s.clone()),
            Yaml::Sequence(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let item = self.value(item).map_err(|f| f.within(format!("[{i}]")))?;
                    out.extend(item);
                }
                Json::Array(out)
            }
            Yaml::Mapping(map) => {
                let mut object = serde_json::Map::new();
                for (key, item) in map {
                    let key = key.as_str().ok_or("a key that is not a string")?;
                    if key.starts_with("Fn::") || key == "Ref" {
                        return Err(format!("{key}: write intrinsics in their short form").into());
                    }
                    let item = self.value(item).map_err(|f| f.within(key.to_owned()))?;
                    if let Some(item) = item {
                        object.insert(key.to_owned(), item);
                    }
                }
                Json::Object(object)
            }
            Yaml::Tagged(_) => return self.intrinsic(value),
        }))
    }

    fn intrinsic(&self, value: &Yaml) -> Evaluated<Option<Json>> {
        let (function, arguments) = intrinsic(value)?;
        let items = arguments
            .as_sequence()
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(Some(match (function.as_str(), items) {
            ("Ref", _) => match arguments.as_str() {
                Some("AWS::NoValue") => return Ok(None),
                Some(name) => Json::String(self.reference(name)?),
                None => return Err("!Ref of a non-string".into()),
            },
            ("GetAtt", _) => Json::String(self.get_att(arguments)?),
            ("Sub", _) => Json::String(self.sub(arguments)?),
            ("If", [condition, then, otherwise]) => {
                let name = condition.as_str().ok_or("!If's condition is not a name")?;
                let branch = if self.condition(name)? {
                    then
                } else {
                    otherwise
                };
                return self.value(branch);
            }
            ("FindInMap", [map, first, second]) => {
                let found = &self.yaml["Mappings"][self.text(map)?.as_str()]
                    [self.text(first)?.as_str()][self.text(second)?.as_str()];
                match found {
                    Yaml::Null => return Err(format!("no mapping for {items:?}").into()),
                    found => return self.value(found),
                }
            }
            ("Join" | "Select" | "Split", [first, second]) => {
                self.list_function(&function, first, second)?
            }
            _ => return Err(format!("!{function} is not an intrinsic function evaluated").into()),
        }))
    }

    /// `!GetAtt Resource.Attribute` or `!GetAtt [Resource, Attribute]`.
    fn get_att(&self, arguments: &Yaml) -> Evaluated<String> {
        let target = match arguments {
            Yaml::Sequence(parts) => {
                let parts: Vec<&str> = parts.iter().filter_map(Yaml::as_str).collect();
                parts.join(".")
            }
            other => other.as_str().unwrap_or_default().to_owned(),
        };
        let (resource, attribute) = target
            .split_once('.')
            .ok_or("!GetAtt without Resource.Attribute")?;
        self.attribute(resource, attribute)
    }

    /// `!Join [separator, list]`, `!Select [index, list]`, `!Split [separator, string]`.
    fn list_function(&self, function: &str, first: &Yaml, second: &Yaml) -> Evaluated<Json> {
        let list = |value: &Yaml| -> Evaluated<Vec<Json>> {
            match self.value(value)? {
                Some(Json::Array(items)) => Ok(items),
                other => Err(format!("!{function}: not a list: {other:?}").into()),
            }
        };
        Ok(match function {
            "Join" => {
                let parts: Option<Vec<String>> = list(second)?.iter().map(text).collect();
                let parts = parts.ok_or("!Join of a list that is not all strings")?;
                Json::String(parts.join(&self.text(first)?))
            }
            "Select" => {
                let index: usize = self.text(first)?.parse().map_err(|_| "!Select index")?;
                let selected = list(second)?.get(index).cloned();
                selected.ok_or("!Select past the end")?
            }
            _ => {
                let (separator, whole) = (self.text(first)?, self.text(second)?);
                let parts = whole.split(separator.as_str());
                parts.map(|s| Json::String(s.to_owned())).collect()
            }
        })
    }

    fn text(&self, value: &Yaml) -> Evaluated<String> {
        let value = self
            .value(value)?
            .ok_or("AWS::NoValue where a string is needed")?;
        text(&value).ok_or_else(|| format!("not a string: {value}").into())
    }

    /// `!Ref name` and `${name}`: a parameter, a pseudo parameter or a resource.
    fn reference(&self, name: &str) -> Evaluated<String> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        if name.starts_with("AWS::") {
            let value = match &self.attributes {
                Attributes::Placeholders => PSEUDO_PARAMETERS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, value)| (*value).to_owned()),
                Attributes::Known(values) => values.get(name).cloned(),
            };
            return value.ok_or_else(|| format!("{name}: no value for it is known here").into());
        }
        if !self.has(name) {
            return Err(format!("{name} is referenced but not in the stack").into());
        }
        match &self.attributes {
            Attributes::Placeholders => {
                // A stage's `!Ref` is its name, which is in a URL: rendered as the stack would.
                let resource = &self.yaml["Resources"][name];
                if resource["Type"].as_str() == Some("AWS::ApiGatewayV2::Stage") {
                    return self.text(&resource["Properties"]["StageName"]);
                }
                Ok(name.to_owned())
            }
            Attributes::Known(values) => values
                .get(name)
                .cloned()
                .ok_or_else(|| format!("!Ref {name}: its value is not known here").into()),
        }
    }

    /// `!GetAtt resource.attribute` and `${resource.attribute}`.
    fn attribute(&self, resource: &str, attribute: &str) -> Evaluated<String> {
        let path = format!("{resource}.{attribute}");
        if !self.has(resource) {
            return Err(format!("{path} of a resource not in the stack").into());
        }
        // SAM's `!GetAtt Function.Version.Version`: only with AutoPublishAlias.
        for generated in ["Version", "Alias"] {
            let reference = format!("{resource}.{generated}");
            if attribute.starts_with(&format!("{generated}.")) && !self.has(&reference) {
                return Err(format!("{reference} of a function without AutoPublishAlias").into());
            }
        }
        match &self.attributes {
            Attributes::Placeholders => {
                let known = ATTRIBUTES.iter().find(|(p, _)| *p == path);
                Ok(known.map_or(path, |(_, value)| (*value).to_owned()))
            }
            Attributes::Known(values) => values
                .get(&path)
                .cloned()
                .ok_or_else(|| format!("!GetAtt {path}: its value is not known here").into()),
        }
    }

    /// `!Sub text` or `!Sub [text, {variable: value}]`.
    fn sub(&self, arguments: &Yaml) -> Evaluated<String> {
        let (template, variables) = match arguments {
            Yaml::Sequence(items) if items.len() == 2 => (&items[0], Some(&items[1])),
            other => (other, None),
        };
        let mut rest = template.as_str().ok_or("!Sub of a non-string")?;
        let mut out = String::new();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find('}').ok_or("!Sub with an unclosed ${")?;
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

impl Stack {
    /// The values at a dotted path ([`crate::each`]) that starts at a resource's logical id (a
    /// missing one is `Null`), at every resource of a type, or at `Outputs`:
    /// `EventsTable.Properties.BillingMode`, `AWS::SQS::Queue.Properties.*`, `Outputs.TableName`.
    pub fn each(&self, path: &str) -> Vec<&Json> {
        let (first, rest) = path.split_once('.').unwrap_or((path, ""));
        match first {
            "Outputs" => crate::each(&self.outputs, rest),
            kind if kind.contains("::") => {
                let resources = self.resources.values().filter(|body| body["Type"] == kind);
                resources.flat_map(|body| crate::each(body, rest)).collect()
            }
            id => crate::each(self.resources.get(id).unwrap_or(&NULL), rest),
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

/// `(function, arguments)` of a tagged value: `!Ref X` is `("Ref", X)`.
fn intrinsic(value: &Yaml) -> Evaluated<(String, &Yaml)> {
    match value {
        Yaml::Tagged(tagged) => Ok((
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            &tagged.value,
        )),
        other => Err(format!("not an intrinsic function: {other:?}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    fn deploy(yaml: &str, overrides: &[(&str, &str)]) -> Result<Stack, TemplateError> {
        Template::parse(yaml)?.deploy(overrides)
    }

    #[test]
    fn evaluates_conditions_rules_and_strings_as_cloudformation() {
        let b = deploy(TEMPLATE, &[("Mode", "b"), ("Size", "3")]).unwrap();
        assert_eq!(
            b.properties("Always"),
            &json!({"Name": "beta", "Size": "3", "Part": "b", "Only": "Only.Arn",
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
    fn what_cloudformation_would_refuse_is_an_error_naming_where() {
        for (overrides, problem) in [
            (
                ("Mode", "c"),
                "Mode=c is not a value the template allows: not one of",
            ),
            (("Size", "0"), "below its MinValue 1"),
            (("Other", "x"), "no such parameter"),
            // The pattern matches the whole value.
            (("Name", "abc1"), "does not match its AllowedPattern"),
            (("Name", "A"), "does not match its AllowedPattern"),
        ] {
            let message = deploy(TEMPLATE, &[overrides]).unwrap_err().to_string();
            assert!(message.contains(problem), "{message}");
        }
        assert!(deploy(TEMPLATE, &[("Name", "abc")]).is_ok());
        let template = Template::parse(TEMPLATE).unwrap();
        let scope = template.scope(&[], Attributes::Placeholders).unwrap();
        let dropped = scope.properties("Only").unwrap_err().to_string();
        assert!(
            dropped.contains("Resources.Only.Properties: not in the stack"),
            "{dropped}"
        );
        for (property, error) in [
            ("!Ref Only", "Only is referenced but not in the stack"),
            (
                "!Sub '${Only.Arn}'",
                "Only.Arn of a resource not in the stack",
            ),
            ("!If [Nope, 1, 2]", "no condition Nope"),
            (
                "!Base64 x",
                "!Base64 is not an intrinsic function evaluated",
            ),
            ("[1, !Select [3, [x]]]", "!Select past the end"),
        ] {
            let yaml = format!("{TEMPLATE}  Bad: {{Type: T, Properties: {{A: {property}}}}}\n");
            let message = deploy(&yaml, &[]).unwrap_err().to_string();
            assert!(
                message.contains(error) && message.contains("Resources.Bad.Properties.A"),
                "{message}"
            );
        }
    }

    /// Provisioning's mode: only the values it knows, anything else an error naming it.
    #[test]
    fn known_attributes_are_the_only_ones() {
        let template = Template::parse(
            "Parameters:\n  P: {Type: String, Default: x}\n\
             Conditions:\n  IsX: !Equals [!Ref P, x]\n\
             Resources:\n  Q: {Type: T}\n  Secret: {Type: T}\n  R:\n    Type: T\n    Properties:\n\
             \x20     A: !Sub \"arn:iam::${AWS::AccountId}:${P}/${Q.Arn}\"\n\
             \x20     B: !Split [\",\", \"a,b\"]\n\
             \x20     C: !If [IsX, !Ref Secret, other]\n\
             \x20     D: !If [IsX, !Ref AWS::NoValue, 1]\n\
             \x20     E: [!GetAtt [Q, Arn]]\n",
        )
        .unwrap();
        let known: BTreeMap<String, String> = [
            ("AWS::AccountId", "123456789012"),
            ("Q.Arn", "arn:q"),
            ("Secret", "arn:secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let scope = template.scope(&[], Attributes::Known(known)).unwrap();
        assert_eq!(
            scope.properties("R").unwrap(),
            json!({"A": "arn:iam::123456789012:x/arn:q", "B": ["a", "b"], "C": "arn:secret",
                "E": ["arn:q"]})
        );
        let scope = template
            .scope(&[], Attributes::Known(BTreeMap::new()))
            .unwrap();
        let message = scope.properties("R").unwrap_err().to_string();
        assert!(
            message.contains("Resources.R.Properties.A: AWS::AccountId: no value for it is known"),
            "{message}"
        );
        let message = scope.properties("Nope").unwrap_err().to_string();
        assert!(message.contains("Resources.Nope.Properties: no such resource"));
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
