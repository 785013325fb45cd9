//! The function refuses to start with a weak, empty or missing configuration, and says why
//! without echoing any token it was given.

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
    for (vars, expected) in [
        (
            vec![("TABLE_NAME", "t"), ("WEBHOOK_TOKENS", "password1234")],
            "is 12 characters long; tokens need at least 32",
        ),
        (
            // A strong first token does not hide a weak second one, and neither is quoted.
            vec![
                ("TABLE_NAME", "t"),
                (
                    "WEBHOOK_TOKENS",
                    "ZYXWVUTSRQPONMLKJIHGFEDCBA987654,hunter2-hunter2",
                ),
            ],
            "token 2 in WEBHOOK_TOKENS is 15 characters long",
        ),
        (
            vec![("TABLE_NAME", "t"), ("WEBHOOK_TOKENS", " , ")],
            "WEBHOOK_TOKENS has no token",
        ),
        (vec![("TABLE_NAME", "t")], "WEBHOOK_TOKEN_SECRET is not set"),
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
        // This case's own tokens: none of them, nor any 8 characters of one, is in the message.
        if let Some((_, list)) = vars.iter().find(|(name, _)| *name == "WEBHOOK_TOKENS") {
            for token in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                let chars: Vec<char> = token.chars().collect();
                for part in chars.windows(8.min(chars.len())) {
                    let part: String = part.iter().collect();
                    assert!(
                        !stderr.contains(&part),
                        "{vars:?}: {part:?} of a token is echoed: {stderr}"
                    );
                }
            }
        }
    }
}
