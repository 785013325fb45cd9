//! Serverless receiver for FlowIQ webhooks.
//!
//! Layering (inner to outer):
//! - the pure core: [`webhook_event`] (FlowIQ's payloads), [`event_id`], [`message_status`]
//!   (status rules), [`keys`] and [`records`] (what is stored, and under which keys) — no AWS, no I/O;
//! - [`delivery`]: authenticates, parses and stores one delivery through the [`store::EventStore`] port;
//! - the edges: [`http_handler`] (Lambda HTTP), [`store::dynamodb`] (the DynamoDB adapter),
//!   [`lambda_function`] (the function's wiring).

pub mod clock;
pub mod config;
pub mod delivery;
pub mod event_id;
pub mod http_handler;
pub mod keys;
pub mod lambda_function;
pub mod message_status;
pub mod metrics;
pub mod platform;
pub mod records;
pub mod store;
pub mod stored_body;
pub mod table_stream;
pub mod telemetry;
pub mod unique_keys_json;
pub mod webhook_event;
pub mod webhook_tokens;
