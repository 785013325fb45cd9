//! The AWS clients the tool uses, built once from one SDK configuration (the user's credentials:
//! the Lambda function's role plays no part). Tests build [`AwsClients`] from mocked or local
//! clients instead.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::deployment::load_sdk_config;

use super::cli::Settings;

#[derive(Debug, Clone)]
pub struct AwsClients {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub secrets_manager: aws_sdk_secretsmanager::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl AwsClients {
    pub fn from_conf(config: &SdkConfig) -> Self {
        AwsClients {
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            secrets_manager: aws_sdk_secretsmanager::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
        }
    }
}

/// The AWS configuration ([`load_sdk_config`]), loaded only when the run can call AWS at all: a
/// dry run with everything on the command line reads nothing, not even the instance metadata
/// service.
pub async fn sdk_config_for(settings: &Settings) -> SdkConfig {
    if !settings.needs_aws() {
        return SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .build();
    }
    load_sdk_config(&settings.deployment).await
}
