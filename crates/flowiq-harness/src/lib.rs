//! Dev-only harnesses for the receiver's tests and measurements (never deployed):
//! - [`dynamodb_local`]: Amazon's DynamoDB Local, started on a free port;
//! - [`events_table`]: the events table as template.yaml defines it, created on DynamoDB Local;
//! - [`fault_proxy`]: throttling, 500s, hanging and dropped connections in front of it;
//! - [`moto_server`]: a moto server (AWS APIs on the wire) on a free port;
//! - [`runtime_api`]: a local Lambda Runtime API, to run a function binary as Lambda does;
//! - [`samples`]: the sample events in events/;
//! - [`simulation`]: the delivery path's real code under a seeded, virtual-time fault schedule;
//! - [`captured_writer`]: the log lines a test's subscriber wrote;
//! - [`capacity_meter`]: the write units DynamoDB reports for each write of a client;
//! - [`stats`]: percentiles for the measuring tools;
//! - [`template`]: template.yaml evaluated as CloudFormation would for some parameter values (a
//!   re-export of `flowiq_template`, the template's one reader);
//! - [`test_table`]: a fresh table per test, with clients configured like the function's.
//!
//! Binaries: `runtime-emulator` (the Lambda Runtime API, for cold starts and CPU per warm
//! invocation), `load-generator`, `create-local-table` (used by `scripts/run-local`) and
//! `no-warm-up-function` (the function without its init warm-up, for comparison).

pub mod capacity_meter;
pub mod captured_writer;
pub mod dynamodb_local;
pub mod events_table;
pub mod fault_proxy;
pub mod moto_server;
pub mod runtime_api;
pub mod samples;
pub mod simulation;
pub mod stats;
pub mod template;
pub mod test_table;
