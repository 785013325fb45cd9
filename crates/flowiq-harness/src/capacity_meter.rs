//! The write units DynamoDB reports for each write, for tests and measurements
//! (docs/performance.md#dynamodb-write-units). An SDK interceptor on the client, so the store
//! under test is the production one, unchanged: it asks DynamoDB for `ReturnConsumedCapacity`
//! `INDEXES` on every `PutItem` / `UpdateItem` and records what comes back.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::{
    UpdateItemError, UpdateItemInput, UpdateItemOutput,
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Records every write a client makes. Clones share one record.
#[derive(Debug, Clone, Default)]
pub struct CapacityMeter(Arc<Mutex<Vec<ConsumedWrite>>>);

/// One write request that DynamoDB answered (SDK retries are not counted separately).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumedWrite {
    /// `PutItem` or `UpdateItem`.
    pub operation: &'static str,
    /// `false` when the condition failed (a duplicate event, a lower-ranked status).
    pub applied: bool,
    /// As reported; DynamoDB reports none for a write whose condition failed.
    pub capacity: Option<ConsumedCapacity>,
}

impl CapacityMeter {
    /// Everything recorded so far, and a fresh start.
    pub fn take(&self) -> Vec<ConsumedWrite> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn record(&self, write: ConsumedWrite) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(write);
    }
}

impl Intercept for CapacityMeter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        if let Some(put) = input.downcast_mut::<PutItemInput>() {
            put.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
        } else if let Some(update) = input.downcast_mut::<UpdateItemInput>() {
            update.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = match cfg.load::<Metadata>().map(Metadata::name) {
            Some("PutItem") => "PutItem",
            Some("UpdateItem") => "UpdateItem",
            _ => return Ok(()),
        };
        let write = match context.output_or_error() {
            Ok(output) => {
                let capacity = output
                    .downcast_ref::<PutItemOutput>()
                    .map(|o| o.consumed_capacity.clone())
                    .or_else(|| {
                        output
                            .downcast_ref::<UpdateItemOutput>()
                            .map(|o| o.consumed_capacity.clone())
                    })
                    .flatten();
                Some((true, capacity))
            }
            Err(error) => error
                .as_operation_error()
                .filter(|e| {
                    e.downcast_ref::<PutItemError>()
                        .is_some_and(PutItemError::is_conditional_check_failed_exception)
                        || e.downcast_ref::<UpdateItemError>()
                            .is_some_and(UpdateItemError::is_conditional_check_failed_exception)
                })
                .map(|_| (false, None)),
        };
        if let Some((applied, capacity)) = write {
            self.record(ConsumedWrite {
                operation,
                applied,
                capacity,
            });
        }
        Ok(())
    }
}
