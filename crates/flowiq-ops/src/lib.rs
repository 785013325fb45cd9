//! Operator tools for the FlowIQ webhook receiver, beside (never inside) the Lambda function:
//! - [`bootstrap`]: registers the deployed URL with FlowIQ (`flowiq-bootstrap`);
//! - [`events`]: inspects, replays, reprocesses and drains what the receiver stored
//!   (`flowiq-events`);
//! - [`contact_key_args`]: where the CLIs get the contact key (never a flag's value);
//! - [`deployment`]: finding the deployed stack, its outputs and table (shared by the CLIs);
//! - [`provision`]: the table, spill queues and function role from template.yaml, for a
//!   deployment without SAM (`flowiq-provision`);
//! - [`queries`]: the read side of the data model, one function per access pattern;
//! - [`retry`]: the one retry policy (backoff, Retry-After) of every outgoing call;
//! - [`cli_logs`]: the CLIs' log set-up.

pub mod bootstrap;
pub mod cli_logs;
pub mod contact_key_args;
pub mod deployment;
pub mod events;
pub mod provision;
pub mod queries;
pub mod retry;
