//! The operator tools' tests, in one binary (each test binary links the AWS SDKs): against
//! DynamoDB Local and moto's server (started by the tests), local HTTP sinks (wiremock), and the
//! built binaries for flags, messages and exit codes. Run one group with its module's name,
//! e.g. `cargo test --workspace --test ops without_sam::`. The spill tests (tests/spill.rs) are a
//! binary of their own: they hold deliveries to the function's answer budget under load, and
//! sharing a process with these tests made a delivery miss it (a 503) in a run on 2 cores.

mod bootstrap;
mod credentials;
mod events_cli;
mod events_forwarding;
mod events_inspect;
mod events_query;
mod events_replay_eventbridge;
mod events_replay_http;
mod events_reprocess;
mod queries;
mod support;
mod without_sam;
