//! The operator CLIs' diagnostics: plain text on stderr (stdout is for results), `RUST_LOG`
//! overrides the level.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // aws_config warns at length about each place it looked for a region or credentials
        // before the CLI itself says what is missing and how to give it.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,aws_config=error,flowiq_ops=info")
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
}
