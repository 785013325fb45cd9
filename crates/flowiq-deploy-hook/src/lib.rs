//! The webhook function's pre-traffic hook. CodeDeploy runs it after `sam deploy` has published a
//! new version of the webhook function and before the `live` alias sends it any delivery: it
//! invokes that version with a synthetic delivery carrying a wrong token ([`probe`]), requires the
//! `401` only a started, configured receiver gives, and reports `Succeeded` or `Failed` to
//! CodeDeploy ([`lifecycle`]). A version that fails at start, cannot read its token secret or
//! answers anything else never gets traffic: FlowIQ does not retry, so every delivery it got
//! would be lost (docs/deployment.md#safe-deploys).

pub mod lifecycle;
pub mod probe;
