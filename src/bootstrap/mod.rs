//! Registering the deployed webhook URL with FlowIQ (the `flowiq-bootstrap` binary).
