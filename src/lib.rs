//! Serverless receiver for FlowIQ webhooks.
//!
//! Layering (inner to outer; a module names only its own layer or inner ones, checked by
//! tests/checks/layering.rs):
//! - the pure core: [`webhook_event`] (FlowIQ's payloads), [`event_id`], [`message_status`]
//!   (status rules), [`keys`] and [`records`] (what is stored, and under which keys),
//!   [`message_item`] (a message's state as one type) and [`message_view`] (derived from its
//!   events), [`queued_delivery`] (what the spill queue holds), [`event_detail`] (a stored event
//!   as EventBridge carries it) — no AWS, no I/O;
//! - the ports: [`store::EventStore`] (the webhook's writes), [`store::MessageStore`] (the
//!   optional projection's), [`spill::Spill`];
//! - [`acceptance`]: parses and stores an authenticated delivery through the
//!   [`store::EventStore`] port; [`delivery`]: authenticates, accepts, and spills what DynamoDB
//!   cannot take through the [`spill::Spill`] port;
//! - the edges: [`http_handler`] (Lambda HTTP: answers, the delivery line), [`metrics`],
//!   [`store::dynamodb`] (the DynamoDB adapter), [`spill::sqs`] (the SQS adapter),
//!   [`spill_drain`] (the drain's SQS batches), [`message_projection`] (the optional stored
//!   `message` item, from the stream), [`pipe_enrichment`] (the EventBridge Pipe's enrichment,
//!   from the stream), [`lambda_function`] (the functions' wiring).

pub mod acceptance;
pub mod clock;
pub mod config;
pub mod contact_key;
pub mod contact_key_secret;
pub mod delivery;
pub mod event_detail;
pub mod event_id;
pub mod http_event;
pub mod http_handler;
pub mod keys;
pub mod lambda_function;
pub mod message_item;
pub mod message_projection;
pub mod message_status;
pub mod message_view;
pub mod metrics;
pub mod outcome;
pub mod pipe_enrichment;
pub mod platform;
pub mod queued_delivery;
pub mod records;
pub mod spill;
pub mod spill_drain;
pub mod store;
pub mod stored_body;
pub mod table_stream;
pub mod telemetry;
pub mod token_secret;
pub mod unique_keys_json;
pub mod webhook_event;
pub mod webhook_tokens;
