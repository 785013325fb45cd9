//! Operator tools for the FlowIQ webhook receiver, beside (never inside) the Lambda function:
//! - [`bootstrap`]: registers the deployed URL with FlowIQ (`flowiq-bootstrap`);
//! - [`queries`]: the read side of the data model, one function per access pattern.

pub mod bootstrap;
pub mod events;
pub mod queries;
