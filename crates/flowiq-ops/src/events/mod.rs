//! `flowiq-events`: inspect, replay and reprocess what the receiver stored (docs/operations.md).
//!
//! - reading: [`selection`] (what a replay sends), [`time_arg`], [`contact`], [`cursor`];
//! - replay: [`replay`] (order, rate, concurrency, resume) over [`http_target`] and
//!   [`eventbridge_target`], each event a [`replay_item::ReplayItem`];
//! - [`analytics_query`]: the analytics archive's named queries through Athena;
//! - [`reprocess`]: rejected bodies through the receiver again; [`drain`]: the spill queue
//!   (consumed through [`sqs_queue`], as the forwarding dead-letter queue is);
//! - forwarding to the user's endpoint: [`forwarded_event`] (the request's shape, sent by
//!   [`http_target`]), [`forwarding_dlq`] (list, re-drive), [`forwarding_commands`];
//! - the edge: [`cli`] (flags), [`inspect`] and [`commands`] (what each subcommand prints),
//!   [`output`], [`progress`], [`error`] (its exit codes: [`crate::exit_status`]).

pub mod analytics_query;
pub mod cli;
pub mod commands;
pub mod contact;
pub mod cursor;
pub mod drain;
pub mod error;
pub mod eventbridge_target;
pub mod forwarded_event;
pub mod forwarding_commands;
pub mod forwarding_dlq;
pub mod http_target;
pub mod inspect;
pub mod output;
pub mod progress;
pub mod replay;
pub mod replay_item;
pub mod reprocess;
pub mod selection;
pub mod send_error;
pub mod sqs_queue;
pub mod time_arg;
