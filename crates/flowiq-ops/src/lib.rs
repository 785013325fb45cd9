//! Operator tools for the FlowIQ webhook receiver, beside (never inside) the Lambda function:
//! - [`bootstrap`]: registers the deployed URL with FlowIQ (`flowiq-bootstrap`);
//! - [`deployment`]: finding the deployed stack, its outputs and table (shared by the CLIs);
//! - [`queries`]: the read side of the data model, one function per access pattern.

pub mod bootstrap;
pub mod cli_logs;
pub mod deployment;
pub mod events;
pub mod queries;
pub mod retry;
