//! The Lambda function CodeDeploy runs before the webhook function's new version gets traffic
//! (template.yaml, `WebhookPreTrafficHookFunction`).

use flowiq_deploy_hook::lifecycle::{Hook, HookEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_target(false)
        .without_time()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let version = std::env::var("WEBHOOK_FUNCTION_VERSION").map_err(|_| {
        "WEBHOOK_FUNCTION_VERSION is not set: the qualified ARN of the webhook function's version to check"
    })?;
    let config = aws_config::load_from_env().await;
    let hook = Hook {
        lambda: aws_sdk_lambda::Client::new(&config),
        codedeploy: aws_sdk_codedeploy::Client::new(&config),
        version,
    };
    let hook = &hook;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<HookEvent>| async move {
            let verdict = hook.run(&event.payload).await?;
            Ok::<Value, Error>(json!({"verdict": format!("{verdict:?}")}))
        },
    ))
    .await
}
