//! The process exit codes of `flowiq-events` (documented in `--help` and docs/operations.md), in
//! the bootstrap's style: one number per thing a script may want to react to.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// Everything asked for was done (or counted, with --dry-run).
    Success = 0,
    /// A bug or an environment problem (e.g. stdout closed).
    Unexpected = 1,
    /// Bad flag or argument (malformed time, bad cursor, http:// without --allow-http) or local
    /// configuration (no region, unreadable samconfig.toml): nothing was read or sent.
    Usage = 2,
    /// The selection is empty: unknown message id, organization or contact, or nothing in the
    /// time range.
    NotFound = 3,
    /// Some items failed: the target refused an item (HTTP 4xx, a PutEvents entry error), or
    /// some reprocess writes failed. The run stopped there; the printed cursor resumes.
    PartialFailure = 4,
    /// The replay target could not be reached: connection failures, timeouts, or 429/5xx until
    /// the attempts ran out.
    TargetUnreachable = 5,
    /// An AWS call failed (DynamoDB, EventBridge, CloudFormation, Athena), no credentials
    /// included, or an Athena query failed.
    Aws = 6,
}

impl ExitStatus {
    pub const ALL: [ExitStatus; 7] = [
        ExitStatus::Success,
        ExitStatus::Unexpected,
        ExitStatus::Usage,
        ExitStatus::NotFound,
        ExitStatus::PartialFailure,
        ExitStatus::TargetUnreachable,
        ExitStatus::Aws,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    /// What the code means, for `--help` and the table in docs/operations.md#exit-codes (a test
    /// keeps that table equal to these lines: this is the one source).
    pub fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => "success (also a dry run, and an empty rejected list)",
            ExitStatus::Unexpected => {
                "unexpected error (e.g. stdout closed, or a stored item that cannot be shown)"
            }
            ExitStatus::Usage => {
                "usage or configuration error: unknown flag, malformed time or cursor, no target \
                 or two, an http:// target without --allow-http, no AWS region, unreadable \
                 samconfig.toml; nothing was read or sent"
            }
            ExitStatus::NotFound => {
                "not found: unknown message id, organization or contact, or nothing in the time \
                 range (also a replay selection that is empty), or no named query of that name"
            }
            ExitStatus::PartialFailure => {
                "partial failure: the target refused an event (HTTP 4xx or 3xx, a PutEvents entry \
                 error other than throttling/internal), a reprocess-rejected write failed, a \
                 replay was interrupted (Ctrl-C), or a forwarding redrive left messages that are \
                 not forwarded events; a replay stopped there, the printed cursor resumes"
            }
            ExitStatus::TargetUnreachable => {
                "replay or forwarding target unreachable: connection failures, timeouts, or \
                 429/5xx (PutEvents: throttling/internal entry errors) until --max-attempts ran \
                 out"
            }
            ExitStatus::Aws => {
                "an AWS call failed: DynamoDB (table missing, access denied, no credentials), \
                 EventBridge (bus missing, access denied), SQS (queue missing, access denied), \
                 CloudFormation (stack or output missing), Athena (workgroup missing, access \
                 denied; a query that failed or was cancelled, e.g. over the workgroup's \
                 bytes-scanned limit, with Athena's reason)"
            }
        }
    }
}

/// The exit-code list printed by `--help`.
pub fn exit_codes_help() -> String {
    let mut help = String::from("Exit codes:\n");
    for status in ExitStatus::ALL {
        help.push_str(&format!("  {}  {}\n", status.code(), status.meaning()));
    }
    help
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/operations.md's table says what `--help` says, code by code.
    #[test]
    fn the_documented_table_is_the_help_text() {
        let doc = include_str!("../../../../docs/operations.md");
        let section = doc
            .split("## Exit codes")
            .nth(1)
            .expect("docs/operations.md has an Exit codes section");
        let rows: Vec<(u8, String)> = section
            .lines()
            .skip_while(|line| !line.starts_with("|---"))
            .skip(1)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
                (cells[0].trim().parse().unwrap(), cells[1].trim().to_owned())
            })
            .collect();
        let expected: Vec<(u8, String)> = ExitStatus::ALL
            .iter()
            .map(|status| (status.code(), status.meaning().to_owned()))
            .collect();
        assert_eq!(rows, expected);
    }
}
