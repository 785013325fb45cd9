//! The function refuses to start with a weak, empty or missing configuration, and says why
//! without echoing any token it was given.

use std::process::Command;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const SHORT_KEY: &str = "contact-key-too-short";

fn start(vars: &[(&str, &str)]) -> (bool, String) {
    start_binary(env!("CARGO_BIN_EXE_flowiq-webhook"), vars)
}

fn start_binary(binary: &str, vars: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(binary)
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

#[test]
fn start_up_refuses_a_missing_short_or_doubled_contact_key_without_echoing_it() {
    let base = [("TABLE_NAME", "t"), ("WEBHOOK_TOKENS", TOKEN)];
    let drain = env!("CARGO_BIN_EXE_flowiq-spill-drain");
    let webhook = env!("CARGO_BIN_EXE_flowiq-webhook");
    for (extra, expected) in [
        (vec![], "CONTACT_KEY_SECRET is not set"),
        (
            vec![("CONTACT_KEY", SHORT_KEY)],
            "CONTACT_KEY: the contact key is 21 characters long; it needs at least 32",
        ),
        (
            vec![
                (
                    "CONTACT_KEY",
                    "local-dev-contact-key-not-a-secret-0123456789",
                ),
                ("CONTACT_KEY_SECRET", "flowiq-contact-key"),
            ],
            "both CONTACT_KEY_SECRET and CONTACT_KEY are set",
        ),
    ] {
        let vars: Vec<_> = base.iter().copied().chain(extra.iter().copied()).collect();
        // Both functions that write contact keys refuse alike.
        for binary in [webhook, drain] {
            let (started, stderr) = start_binary(binary, &vars);
            assert!(!started, "{binary} {vars:?} must not start");
            assert!(stderr.contains(expected), "{binary} {vars:?}: {stderr}");
            for (_, value) in &extra {
                if value.contains("contact-key") {
                    assert!(
                        !stderr.contains(value),
                        "{binary}: the key is echoed: {stderr}"
                    );
                }
            }
        }
    }
}
