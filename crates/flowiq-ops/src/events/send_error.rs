//! Why a replay send failed for good, after its retries; decides the exit code.

use serde::{Serialize, Serializer};

use crate::exit_status::ExitStatus;
use crate::retry::Exhausted;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// Connection failures, timeouts, or 429/5xx (throttling) until the attempts ran out.
    #[error("target unreachable: {0}")]
    Unreachable(String),
    /// The target answered, and said no (HTTP 4xx or 3xx, a PutEvents entry error): sending the
    /// same item again would get the same answer.
    #[error("target refused the event: {0}")]
    Refused(String),
    /// An AWS call failed in a way that is neither (credentials, permissions, an unknown bus).
    #[error("AWS call failed: {0}")]
    Aws(String),
}

impl SendError {
    /// A send to `target` that kept failing until the attempts ran out.
    pub fn exhausted(target: &str, exhausted: Exhausted) -> Self {
        SendError::Unreachable(format!(
            "{target} after {} attempts: {}",
            exhausted.attempts, exhausted.last.problem
        ))
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self {
            SendError::Unreachable(_) => ExitStatus::Unreachable,
            SendError::Refused(_) => ExitStatus::Incomplete,
            SendError::Aws(_) => ExitStatus::Aws,
        }
    }
}

/// As its message, in a summary line.
impl Serialize for SendError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
