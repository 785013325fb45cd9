//! What happened to a delivery, as one typed value: the HTTP edge answers by it, logs it as the
//! line's `outcome`, and the metrics count it as the `Outcome` dimension ([`crate::metrics`]).

use crate::records::Rejection;
use crate::store::PutOutcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Stored,
    Duplicate,
    /// DynamoDB could not take it; durable in the spill queue.
    Queued,
    Rejected,
    TooLarge,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    StorageUnavailable,
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Stored,
        Outcome::Duplicate,
        Outcome::Queued,
        Outcome::Rejected,
        Outcome::TooLarge,
        Outcome::Unauthorized,
        Outcome::NotFound,
        Outcome::MethodNotAllowed,
        Outcome::StorageUnavailable,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Duplicate => "duplicate",
            Outcome::Queued => "queued",
            Outcome::Rejected => "rejected",
            Outcome::TooLarge => "too_large",
            Outcome::Unauthorized => "unauthorized",
            Outcome::NotFound => "not_found",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::StorageUnavailable => "storage_unavailable",
        }
    }

    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }

    pub fn of_put(outcome: PutOutcome) -> Outcome {
        match outcome {
            PutOutcome::Stored => Outcome::Stored,
            PutOutcome::Duplicate => Outcome::Duplicate,
        }
    }

    pub fn of_rejection(rejection: Rejection) -> Outcome {
        match rejection {
            Rejection::InvalidBody => Outcome::Rejected,
            Rejection::TooLarge => Outcome::TooLarge,
        }
    }
}
