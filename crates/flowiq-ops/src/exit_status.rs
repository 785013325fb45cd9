//! The exit codes of the three operator binaries, one family: a number means the same thing in
//! `flowiq-events`, `flowiq-bootstrap` and `flowiq-provision`, so a script reacts to it the same
//! way whichever tool it ran. Each binary uses a subset ([`Tool::codes`]); `--help` prints that
//! subset from here, and docs/operations.md#exit-codes holds the table a test keeps equal to it.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    Success = 0,
    /// A bug or an environment problem.
    Unexpected = 1,
    /// Nothing was read, sent or changed.
    Usage = 2,
    NotFound = 3,
    /// Some of the work was refused or not done; what was done is printed.
    Incomplete = 4,
    Unreachable = 5,
    Aws = 6,
    KeyRejected = 7,
    Differs = 8,
}

/// The operator binaries, for the codes each one can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Events,
    Bootstrap,
    Provision,
}

impl Tool {
    pub const ALL: [Tool; 3] = [Tool::Events, Tool::Bootstrap, Tool::Provision];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Events => "flowiq-events",
            Tool::Bootstrap => "flowiq-bootstrap",
            Tool::Provision => "flowiq-provision",
        }
    }

    /// The codes this binary can exit with.
    pub fn codes(self) -> &'static [ExitStatus] {
        use ExitStatus::*;
        match self {
            Tool::Events => &[
                Success,
                Unexpected,
                Usage,
                NotFound,
                Incomplete,
                Unreachable,
                Aws,
            ],
            Tool::Bootstrap => &[
                Success,
                Unexpected,
                Usage,
                Incomplete,
                Unreachable,
                Aws,
                KeyRejected,
            ],
            Tool::Provision => &[Success, Unexpected, Usage, Aws, Differs],
        }
    }

    /// The exit-code list `--help` prints.
    pub fn exit_codes_help(self) -> String {
        let mut help = String::from("Exit codes (docs/operations.md#exit-codes):\n");
        for status in self.codes() {
            help.push_str(&format!("  {}  {}\n", status.code(), status.meaning()));
        }
        help
    }
}

impl ExitStatus {
    pub const ALL: [ExitStatus; 9] = [
        ExitStatus::Success,
        ExitStatus::Unexpected,
        ExitStatus::Usage,
        ExitStatus::NotFound,
        ExitStatus::Incomplete,
        ExitStatus::Unreachable,
        ExitStatus::Aws,
        ExitStatus::KeyRejected,
        ExitStatus::Differs,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    /// What the code means, in every binary that uses it.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => {
                "success: everything asked for was done, or there was nothing to do (also a dry \
                 run, an empty rejected list, a webhook already registered)"
            }
            ExitStatus::Unexpected => {
                "unexpected error: a bug or an environment problem (stdout closed, a stored item \
                 that cannot be shown, a template.yaml this version cannot apply)"
            }
            ExitStatus::Usage => {
                "usage or configuration error: an unknown flag, a malformed value (time, cursor, \
                 URL, token, name), no target or two, an http:// target without --allow-http, no \
                 API key, no AWS region, an unreadable samconfig.toml; nothing was read, sent or \
                 changed"
            }
            ExitStatus::NotFound => {
                "not found: unknown message id, organization or contact, nothing in the time range \
                 (also an empty replay selection), or no named query of that name"
            }
            ExitStatus::Incomplete => {
                "refused or stopped part way: FlowIQ refused the registration (another 4xx, \
                 `success: false`, or not the documented answer), a replay or forwarding target \
                 refused an event (HTTP 4xx or 3xx, a PutEvents entry error other than \
                 throttling/internal), a reprocess-rejected write failed, a run was interrupted \
                 (Ctrl-C), or a forwarding redrive left messages that are not forwarded events; \
                 what was done before is printed (a replay's cursor resumes)"
            }
            ExitStatus::Unreachable => {
                "unreachable: FlowIQ or a replay or forwarding target could not be reached \
                 (connection failures, timeouts, or 429/5xx, PutEvents throttling/internal entry \
                 errors, until the attempts ran out)"
            }
            ExitStatus::Aws => {
                "an AWS call failed (the message names the service and the resource: a stack or \
                 its output, a table, bus, queue, role, secret, SSM parameter, Lambda function or \
                 Athena workgroup that is missing or not accessible, no credentials, or an Athena \
                 query that failed or was cancelled, with Athena's reason)"
            }
            ExitStatus::KeyRejected => "FlowIQ rejected the API key (HTTP 401 or 403); not retried",
            ExitStatus::Differs => {
                "a deployed resource differs from template.yaml and was left as it is (each \
                 difference is named), or a spill queue that had a wider policy holds messages \
                 (closed now; look at them before anything drains them)"
            }
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/operations.md's table says what `--help` says, code by code, and which binary uses
    /// each code.
    #[test]
    fn the_documented_table_is_the_help_text() {
        let doc = include_str!("../../../docs/operations.md");
        let section = doc
            .split("## Exit codes")
            .nth(1)
            .expect("docs/operations.md has an Exit codes section");
        let rows: Vec<Vec<String>> = section
            .lines()
            .skip_while(|line| !line.starts_with("|---"))
            .skip(1)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                line.trim_matches('|')
                    .split('|')
                    .map(|cell| cell.trim().to_owned())
                    .collect()
            })
            .collect();
        let expected: Vec<Vec<String>> = ExitStatus::ALL
            .iter()
            .map(|status| {
                let mut row = vec![status.code().to_string(), status.meaning().to_owned()];
                for tool in Tool::ALL {
                    let used = tool.codes().contains(status);
                    row.push(if used { "✓" } else { "" }.to_owned());
                }
                row
            })
            .collect();
        assert_eq!(rows, expected);
    }

    /// docs/bootstrap.md says what gives each of the bootstrap's codes: exactly the codes it uses.
    #[test]
    fn the_bootstrap_documents_its_codes() {
        let doc = include_str!("../../../docs/bootstrap.md");
        let section = doc
            .split("## Exit codes")
            .nth(1)
            .expect("an Exit codes section");
        let mut documented: Vec<u8> = section
            .lines()
            .skip_while(|line| !line.starts_with("|---"))
            .skip(1)
            .take_while(|line| line.starts_with('|'))
            .map(|line| line.split('|').nth(1).unwrap().trim().parse().unwrap())
            .collect();
        documented.sort_unstable();
        let used: Vec<u8> = Tool::Bootstrap.codes().iter().map(|s| s.code()).collect();
        assert_eq!(documented, used);
    }

    #[test]
    fn the_codes_are_their_positions() {
        for (position, status) in ExitStatus::ALL.iter().enumerate() {
            assert_eq!(usize::from(status.code()), position);
        }
        for tool in Tool::ALL {
            assert_eq!(tool.codes()[0], ExitStatus::Success, "{}", tool.name());
            assert!(
                tool.exit_codes_help()
                    .contains("  2  usage or configuration error")
            );
        }
    }
}
