//! Integration tests: the real handler against Amazon's DynamoDB Local (started by the tests).

mod analytics;
mod capacity;
mod deploy_hook;
mod faults;
mod hostile_input;
mod load;
mod pipe_enrichment;
mod receiver;
mod rejections;
mod status_order;
mod storage_failure;
mod streams;
mod support;
mod token_secret;
