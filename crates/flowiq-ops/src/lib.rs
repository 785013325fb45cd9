//! Operator tools for the FlowIQ webhook receiver, beside (never inside) the Lambda function:
//! - [`bootstrap`]: registers the deployed URL with FlowIQ (`flowiq-bootstrap`);
//! - [`events`]: inspects, replays, reprocesses and drains what the receiver stored
//!   (`flowiq-events`);
//! - [`contact_key_args`]: where the CLIs get the contact key (never a flag's value);
//! - [`deployment`]: finding the deployed stack, its outputs and table (shared by the CLIs);
//! - [`provision`]: the table, spill queues and function role from template.yaml, for a
//!   deployment without SAM (`flowiq-provision`);
//! - [`queries`]: the read side of the data model, one function per access pattern;
//! - [`exit_status`]: the exit codes the three binaries share;
//! - [`retry`]: the one retry policy (backoff, Retry-After) of every outgoing call;
//! - [`cli_logs`]: the CLIs' log set-up.

pub mod bootstrap;
pub mod cli_logs;
pub mod contact_key_args;
pub mod deployment;
pub mod events;
pub mod exit_status;
pub mod provision;
pub mod queries;
pub mod retry;

/// Issue 27 §7 across the three CLIs: every flag that carries a secret (or a URL holding one)
/// has an environment form whose value `--help` hides, and no flag takes a credential that has a
/// file or secret form only (docs/security.md#secrets-on-command-lines).
#[cfg(test)]
mod secret_flags {
    use clap::CommandFactory as _;

    /// Flags whose value is a secret (`command path`, flag): each needs its environment form,
    /// hidden in `--help`. (`forwarding redrive --to-url` is your app's endpoint, whose
    /// credential has its own file form, `--auth-value-file`.)
    const SECRET_VALUE_FLAGS: [(&str, &str); 2] = [
        ("flowiq-events replay", "to-url"),
        ("flowiq-bootstrap", "token"),
    ];
    /// Credentials with file, environment or secret forms only: no flag may take their value.
    const NEVER_FLAGS: [&str; 5] = [
        "api-key",
        "contact-key",
        "auth-value",
        "webhook-token",
        "key",
    ];

    /// Every argument with its command's path (`flowiq-events replay`).
    fn every_arg(command: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
        let path = match path {
            "" => command.get_name().to_owned(),
            parent => format!("{parent} {}", command.get_name()),
        };
        for arg in command.get_arguments() {
            out.push((path.clone(), arg.clone()));
        }
        for sub in command.get_subcommands() {
            every_arg(sub, &path, out);
        }
    }

    #[test]
    fn secret_bearing_flags_have_hidden_environment_forms_and_credentials_no_flag() {
        let mut args = Vec::new();
        for command in [
            crate::events::cli::Args::command(),
            crate::bootstrap::cli::Args::command(),
            crate::provision::Args::command(),
        ] {
            every_arg(&command, "", &mut args);
        }
        let mut seen = Vec::new();
        for (command, arg) in &args {
            let Some(long) = arg.get_long() else { continue };
            assert!(!NEVER_FLAGS.contains(&long), "{command} --{long}");
            let secret = SECRET_VALUE_FLAGS
                .iter()
                .any(|(path, flag)| *flag == long && command.starts_with(path));
            if secret {
                assert!(
                    arg.get_env().is_some() && arg.is_hide_env_values_set(),
                    "{command} --{long}: an environment form, hidden in --help"
                );
                seen.push(long);
            }
        }
        // Both exist (a renamed flag fails here rather than passing unchecked).
        for (_, flag) in SECRET_VALUE_FLAGS {
            assert!(seen.contains(&flag), "--{flag} not found");
        }
        // The contact key's forms: a file and a secret reference, never its value.
        let contact: Vec<&str> = args
            .iter()
            .filter_map(|(_, a)| a.get_long())
            .filter(|l| l.starts_with("contact-key"))
            .collect();
        assert!(contact.contains(&"contact-key-file") && contact.contains(&"contact-key-secret"));
    }
}
