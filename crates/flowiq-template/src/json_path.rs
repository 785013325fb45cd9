//! Reading evaluated template values (plain JSON) by dotted paths, as the template checks do.

use serde_json::Value as Json;

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
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
