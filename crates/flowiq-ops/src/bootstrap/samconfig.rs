//! The default stack name: `stack_name` from the SAM CLI's `samconfig.toml` in the current
//! directory, else [`DEFAULT_STACK_NAME`]. No TOML crate: a small reader for that one key.

use std::fmt;
use std::path::Path;

pub const SAMCONFIG_FILE: &str = "samconfig.toml";
/// The name this project's samconfig.toml uses, for when there is no file.
pub const DEFAULT_STACK_NAME: &str = "flowiq-webhooks";
/// The SAM CLI's default configuration environment (`--config-env`).
pub const DEFAULT_CONFIG_ENV: &str = "default";

/// Where the stack name came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackNameSource {
    Flag,
    SamConfig { section: String },
    BuiltInDefault,
}

impl fmt::Display for StackNameSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackNameSource::Flag => f.write_str("--stack-name"),
            StackNameSource::SamConfig { section } => {
                write!(f, "{SAMCONFIG_FILE} [{section}]")
            }
            StackNameSource::BuiltInDefault => {
                write!(f, "the default; no stack_name in ./{SAMCONFIG_FILE}")
            }
        }
    }
}

/// The stack name from `samconfig.toml` in `dir` (`sam deploy`'s own order:
/// `[<env>.deploy.parameters]`, then `[<env>.global.parameters]`), else the built-in default.
pub fn default_stack_name(dir: &Path, config_env: &str) -> (String, StackNameSource) {
    std::fs::read_to_string(dir.join(SAMCONFIG_FILE))
        .ok()
        .and_then(|text| stack_name_from_samconfig(&text, config_env))
        .map_or_else(
            || {
                (
                    DEFAULT_STACK_NAME.to_owned(),
                    StackNameSource::BuiltInDefault,
                )
            },
            |(name, section)| (name, StackNameSource::SamConfig { section }),
        )
}

/// `stack_name` and the section it was found in.
pub fn stack_name_from_samconfig(text: &str, config_env: &str) -> Option<(String, String)> {
    let sections = [
        format!("{config_env}.deploy.parameters"),
        format!("{config_env}.global.parameters"),
    ];
    sections.into_iter().find_map(|section| {
        string_value(text, &section, "stack_name")
            .filter(|name| !name.trim().is_empty())
            .map(|name| (name, section))
    })
}

/// The string value of `key` in table `[section]`, for the subset of TOML samconfig files use:
/// `[a.b.c]` headers, `key = "basic string"` or `key = 'literal string'`, comments, and
/// multi-line strings of other keys (skipped).
fn string_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current: Option<String> = None;
    let mut in_multiline: Option<&str> = None;
    for line in text.lines() {
        if let Some(closer) = in_multiline {
            if line.contains(closer) {
                in_multiline = None;
            }
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            current = table_header(line);
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        for closer in ["\"\"\"", "'''"] {
            if value.starts_with(closer) && !value[3..].contains(closer) {
                in_multiline = Some(closer);
            }
        }
        if current.as_deref() == Some(section) && unquote_key(name.trim()) == key {
            return string_literal(value);
        }
    }
    None
}

/// `[ default . "global".parameters ]  # x` → `default.global.parameters`; arrays of tables
/// (`[[…]]`) are not tables we read.
fn table_header(line: &str) -> Option<String> {
    if line.starts_with("[[") {
        return None;
    }
    let inner = &line[1..line.find(']')?];
    let parts: Vec<String> = inner
        .split('.')
        .map(|part| unquote_key(part.trim()).to_owned())
        .collect();
    Some(parts.join("."))
}

fn unquote_key(key: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = key.strip_prefix(quote).and_then(|k| k.strip_suffix(quote)) {
            return inner;
        }
    }
    key
}

/// A one-line TOML string (`"…"` with escapes, or `'…'`), ignoring a trailing comment.
fn string_literal(value: &str) -> Option<String> {
    if let Some(rest) = value.strip_prefix('\'') {
        if rest.starts_with("''") {
            return None;
        }
        return rest.find('\'').map(|end| rest[..end].to_owned());
    }
    let rest = value.strip_prefix('"')?;
    if rest.starts_with("\"\"") {
        return None;
    }
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None // unterminated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_projects_samconfig() {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SAMCONFIG_FILE))
                .unwrap();
        assert_eq!(
            stack_name_from_samconfig(&text, "default"),
            Some((
                "flowiq-webhooks".to_owned(),
                "default.global.parameters".to_owned()
            ))
        );
        let (name, source) = default_stack_name(Path::new(env!("CARGO_MANIFEST_DIR")), "default");
        assert_eq!(name, "flowiq-webhooks");
        assert!(matches!(source, StackNameSource::SamConfig { .. }));
    }

    #[test]
    fn deploy_parameters_win_like_in_sam_deploy() {
        // What `sam deploy --guided` writes.
        let text = r#"
version = 0.1
[default.global.parameters]
stack_name = "from-global"

[default.deploy.parameters]
stack_name = "my-webhooks"   # chosen in --guided
resolve_s3 = true
"#;
        assert_eq!(
            stack_name_from_samconfig(text, "default").unwrap().0,
            "my-webhooks"
        );
    }

    #[test]
    fn reads_only_the_requested_environment_and_key() {
        let text = r#"
[prod.deploy.parameters]
stack_name = 'prod-webhooks'
[default.deploy.parameters]
parameter_overrides = "stack_name=wrong"
stack_name_suffix = "wrong"
# stack_name = "commented"
[ "default" . global . 'parameters' ]
  "stack_name" = "a \"quoted\" \u0041 name"
"#;
        assert_eq!(
            stack_name_from_samconfig(text, "prod").unwrap().0,
            "prod-webhooks"
        );
        assert_eq!(
            stack_name_from_samconfig(text, "default").unwrap().0,
            "a \"quoted\" A name"
        );
        assert_eq!(stack_name_from_samconfig(text, "staging"), None);
    }

    #[test]
    fn skips_multi_line_strings_and_arrays_of_tables() {
        let text = r#"
[default.deploy.parameters]
tags = """
[default.global.parameters]
stack_name = "inside a string"
"""
[[default.global.parameters]]
stack_name = "array of tables"
"#;
        assert_eq!(stack_name_from_samconfig(text, "default"), None);
    }

    #[test]
    fn malformed_values_are_ignored() {
        for value in [
            "",
            "\"unterminated",
            "flowiq",
            "\"\"",
            "\"bad \\q escape\"",
            "123",
        ] {
            let text = format!("[default.global.parameters]\nstack_name = {value}\n");
            assert_eq!(stack_name_from_samconfig(&text, "default"), None, "{value}");
        }
    }

    #[test]
    fn no_file_means_the_built_in_default() {
        let dir = std::env::temp_dir().join(format!("flowiq-nosam-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(
            default_stack_name(&dir, "default"),
            (
                DEFAULT_STACK_NAME.to_owned(),
                StackNameSource::BuiltInDefault
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
