//! The AWS clients the tool uses, built once from one SDK configuration (the user's credentials:
//! the Lambda function's role plays no part). Tests build [`AwsClients`] from mocked or local
//! clients instead.

use aws_config::{BehaviorVersion, Region, SdkConfig};

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

/// The usual AWS configuration (environment, profile, `--region` / `--profile`), loaded only
/// when the run can call AWS at all: a dry run with everything on the command line reads
/// nothing, not even the instance metadata service.
pub async fn load_sdk_config(settings: &Settings) -> SdkConfig {
    if !settings.needs_aws() {
        return SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .build();
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}
