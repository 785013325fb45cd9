//! template.yaml, the single source of truth of what a deployment holds, evaluated as
//! CloudFormation would: the one reader of the template in the repository.
//!
//! - [`evaluator`]: parameters (defaults, overrides checked as CloudFormation checks them),
//!   `Conditions`, `Rules` and every intrinsic function the template uses; the one file that
//!   evaluates intrinsics;
//! - [`events_table`]: `EventsTable`'s properties, typed once;
//! - [`json_path`]: reading evaluated values by dotted paths (the template checks).
//!
//! Who reads it: `flowiq-provision` (crates/flowiq-ops/src/provision: strict, with the real ARNs
//! of what it created, [`Attributes::Known`]), the harness's tables and `create-local-table`
//! (the events table at the defaults), and the template checks and tests (whole stacks for
//! parameter overrides, with placeholder values for what only a deployed stack knows,
//! [`Attributes::Placeholders`]).
//!
//! No AWS SDK here: the DynamoDB `CreateTable` request for [`events_table::TableProperties`] is
//! built in one place, `flowiq_ops::provision::create_table`, next to the provisioning that
//! creates and checks real tables; the harness (dev-only) depends on flowiq-ops to create its
//! DynamoDB Local tables with the same request. Not in the root crate: the receiver (what Lambda
//! runs) reads no template and does not depend on this crate (`scripts/check-function-deps`).
//! Not a crate of its own for some 60 lines: the price is that the harness compiles flowiq-ops's
//! other SDK clients too (the workspace's test build compiles them anyway), and a dev-only cycle
//! (flowiq-ops's tests use the harness), which cargo allows.

pub mod evaluator;
pub mod events_table;
pub mod json_path;

pub use evaluator::{ATTRIBUTES, Attributes, PSEUDO_PARAMETERS, Scope, Stack, Template};
pub use events_table::TableProperties;
pub use json_path::{each, strings, text};

/// A template that cannot be evaluated, or parameter values CloudFormation would refuse: each
/// message names the parameter, the place in the template and the problem.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template.yaml does not parse: {0}")]
    Parse(String),
    #[error("template.yaml: {name}={value} is not a value the template allows: {problem}")]
    Parameter {
        name: String,
        value: String,
        problem: String,
    },
    #[error("template.yaml: {place}: {problem}")]
    Evaluation { place: String, problem: String },
    /// The evaluated properties are not what the reader applies: teach it the change.
    #[error("template.yaml: {0}")]
    Unapplied(String),
}

impl TemplateError {
    /// A template the reader cannot apply, in its own words.
    pub fn new(message: impl Into<String>) -> Self {
        TemplateError::Unapplied(message.into())
    }
}
