//! The process exit codes of `flowiq-events` (documented in `--help` and docs/operations.md), in
//! the bootstrap's style: one number per thing a script may want to react to.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// Everything asked for was done (or counted, with --dry-run).
    Success = 0,
    /// A bug or an environment problem (e.g. stdout closed).
    Unexpected = 1,
    /// Bad flag or argument (malformed time, bad cursor, http:// without --allow-http): nothing
    /// was read or sent.
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
    /// An AWS call failed (DynamoDB, EventBridge, CloudFormation) or the AWS configuration is
    /// missing.
    Aws = 6,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The table printed by `--help` (keep it in step with docs/operations.md#exit-codes).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (or a dry run)
  1  unexpected error
  2  usage error (bad flag, malformed time or cursor, http:// target without --allow-http)
  3  not found: unknown message, organization or contact, or nothing in the time range
  4  partial failure: the target refused an item (4xx, PutEvents entry error) or a reprocess
     write failed; the run stopped there, the printed cursor resumes
  5  replay target unreachable (connection failures, timeouts, 429/5xx until attempts ran out)
  6  an AWS call failed (DynamoDB, EventBridge, CloudFormation) or no AWS configuration";
