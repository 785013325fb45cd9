//! The operator tools' tests, in one binary (each test binary links the AWS SDKs): against
//! DynamoDB Local and moto's server (started by the tests), local HTTP sinks (wiremock), and the
//! built binaries for flags, messages and exit codes. Run one group with its module's name,
//! e.g. `cargo test --workspace --test ops spill::`.

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
mod spill;
mod support;
mod without_sam;
