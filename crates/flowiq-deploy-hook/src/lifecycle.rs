//! One run of the hook for one CodeDeploy lifecycle event: invoke the new version with the probe,
//! judge its answer, report the verdict with `PutLifecycleEventHookExecutionStatus`.
//!
//! Whatever happens to the probe, CodeDeploy hears a verdict: a version that cannot even be
//! invoked (throttled, denied, timed out) is `Failed`, since nothing proved it can take a
//! delivery. Only when the report itself cannot be sent does the run return an error: Lambda
//! then retries the asynchronous invocation, and a deployment whose hook never reports fails
//! when CodeDeploy's hour for it runs out.

use aws_sdk_codedeploy::types::LifecycleEventStatus;
use aws_sdk_lambda::primitives::Blob;
use serde::Deserialize;

use crate::probe::{self, Answer, ProbeFailure};

/// What CodeDeploy passes to a Lambda lifecycle hook.
#[derive(Debug, Clone, Deserialize)]
pub struct HookEvent {
    #[serde(rename = "DeploymentId")]
    pub deployment_id: String,
    #[serde(rename = "LifecycleEventHookExecutionId")]
    pub lifecycle_event_hook_execution_id: String,
}

/// The verdict reported to CodeDeploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    Failed(String),
}

impl Verdict {
    fn status(&self) -> LifecycleEventStatus {
        match self {
            Verdict::Succeeded => LifecycleEventStatus::Succeeded,
            Verdict::Failed(_) => LifecycleEventStatus::Failed,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(
        "could not report {status} for deployment {deployment_id} to CodeDeploy: {source} \
         (the hook's role needs codedeploy:PutLifecycleEventHookExecutionStatus on the deployment group)"
    )]
    Report {
        status: &'static str,
        deployment_id: String,
        #[source]
        source: aws_sdk_codedeploy::Error,
    },
}

/// The clients and the version a run checks.
pub struct Hook {
    pub lambda: aws_sdk_lambda::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    /// The new version's qualified ARN (`arn:…:function:<name>:<version>`), which SAM puts in the
    /// hook's `WEBHOOK_FUNCTION_VERSION`.
    pub version: String,
}

impl Hook {
    /// Checks the version and reports the verdict for `event`; the verdict reported.
    pub async fn run(&self, event: &HookEvent) -> Result<Verdict, HookError> {
        let verdict = match self.probe(&event.deployment_id).await {
            Ok(()) => Verdict::Succeeded,
            Err(why) => Verdict::Failed(why),
        };
        match &verdict {
            Verdict::Succeeded => tracing::info!(
                deployment_id = %event.deployment_id,
                version = %self.version,
                "the new version answered the probe with 401: Succeeded"
            ),
            Verdict::Failed(why) => tracing::error!(
                deployment_id = %event.deployment_id,
                version = %self.version,
                reason = %why,
                "the new version must not get traffic: Failed"
            ),
        }
        let status = verdict.status();
        self.codedeploy
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(&event.deployment_id)
            .lifecycle_event_hook_execution_id(&event.lifecycle_event_hook_execution_id)
            .status(status.clone())
            .send()
            .await
            .map_err(|e| HookError::Report {
                status: if verdict == Verdict::Succeeded {
                    "Succeeded"
                } else {
                    "Failed"
                },
                deployment_id: event.deployment_id.clone(),
                source: e.into(),
            })?;
        Ok(verdict)
    }

    /// `Err` says why the version must not get traffic.
    async fn probe(&self, deployment_id: &str) -> Result<(), String> {
        let request = probe::request(deployment_id).to_string();
        let output = self
            .lambda
            .invoke()
            .function_name(&self.version)
            .payload(Blob::new(request))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "could not invoke {}: {}",
                    self.version,
                    aws_sdk_lambda::Error::from(e)
                )
            })?;
        let answer = Answer {
            function_error: output.function_error().map(str::to_owned),
            payload: output
                .payload()
                .map(|p| p.as_ref().to_vec())
                .unwrap_or_default(),
        };
        probe::judge(&answer).map_err(|failure: ProbeFailure| failure.to_string())
    }
}
