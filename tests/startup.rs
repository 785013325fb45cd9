//! The function refuses to start with a weak, empty or missing configuration, and says why
//! without echoing the secret.

use std::process::Command;

fn start(vars: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_flowiq-webhook"))
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .expect("the function binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn start_up_refuses_weak_or_missing_settings() {
    let weak = "password1234";
    for (vars, expected) in [
        (
            vec![("TABLE_NAME", "t"), ("WEBHOOK_TOKENS", weak)],
            "is 12 characters long; tokens need at least 32",
        ),
        (
            vec![("TABLE_NAME", "t"), ("WEBHOOK_TOKENS", " , ")],
            "WEBHOOK_TOKENS has no token",
        ),
        (vec![("TABLE_NAME", "t")], "WEBHOOK_TOKENS is not set"),
        (
            vec![("WEBHOOK_TOKENS", "0123456789abcdef0123456789abcdef")],
            "TABLE_NAME is not set",
        ),
        (
            vec![
                ("TABLE_NAME", "t"),
                ("WEBHOOK_TOKENS", "0123456789abcdef0123456789abcdef/x"),
            ],
            "characters other than letters",
        ),
    ] {
        let (started, stderr) = start(&vars);
        assert!(!started, "{vars:?} must not start");
        assert!(stderr.contains(expected), "{vars:?}: {stderr}");
        assert!(
            !stderr.contains(weak),
            "the token is never echoed: {stderr}"
        );
    }
}
