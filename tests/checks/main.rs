//! Checks without a database: properties of the pure core, the contact key's Python reference,
//! the key design under a broadcast, the function's start-up refusals, and template.yaml against
//! the code. One test binary, so the AWS
//! SDK is linked once for them (tests/integration is the one on DynamoDB Local; tests/logs.rs
//! stays alone because it installs a process-wide subscriber).

mod contact_key;
mod hot_partitions;
mod layering;
mod properties;
mod startup;
mod template;
mod template_analytics;
mod template_deploy;
mod template_forwarding;
mod template_pipe;
mod template_security;
