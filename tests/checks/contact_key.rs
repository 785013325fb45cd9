//! The analysts' Python reference of the contact key (docs/reference/contact_key.py) computes the
//! `by-contact` keys the receiver writes, and reads the key only from the environment.

use std::io::Write as _;
use std::process::{Command, Stdio};

use flowiq_webhooks::contact_key::{ContactKey, LOCAL_DEV_CONTACT_KEY};
use flowiq_webhooks::keys;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference/contact_key.py");

/// Runs the script with `env` and `stdin`: (success, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .args(args)
        .env_remove("CONTACT_KEY")
        .env_remove("CONTACT_KEY_FILE")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("python3 is needed for this test (Debian: apt-get install python3): {e}")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn the_python_reference_computes_the_receivers_contact_keys() {
    let other_key = "an-analysts-copy-of-another-stacks-contact-key";
    let numbers = ["27830000001", "+27830000002", "447700900123", "1"];
    let file = std::env::temp_dir().join(format!("contact-key-{}.txt", std::process::id()));
    std::fs::write(&file, format!("{other_key}\n")).unwrap();
    let file_env = file.to_str().unwrap();
    for (key, env) in [
        (
            LOCAL_DEV_CONTACT_KEY,
            ("CONTACT_KEY", LOCAL_DEV_CONTACT_KEY),
        ),
        (other_key, ("CONTACT_KEY_FILE", file_env)),
    ] {
        let contact_key = ContactKey::new(key).unwrap();
        for org in ["6f1c2b9e-3d4a-4e8b-9c7d-1a2b3c4d5e6f", "org-ü-1"] {
            let (ok, stdout, stderr) = run(&[org], &[env], &numbers.join("\n"));
            assert!(ok, "{stderr}");
            let expected: Vec<String> = numbers
                .iter()
                .map(|n| keys::whatsapp_contact_pk(&contact_key, org, n.trim_start_matches('+')))
                .collect();
            assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "{org}");
        }
    }
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn the_python_reference_refuses_a_missing_or_short_key_without_quoting_it() {
    let short = "short-contact-key";
    for (env, expected) in [
        (vec![], "set CONTACT_KEY_FILE"),
        (vec![("CONTACT_KEY", short)], "is 17 characters long"),
        (
            vec![("CONTACT_KEY_FILE", "/nonexistent/contact-key.txt")],
            "cannot read CONTACT_KEY_FILE",
        ),
    ] {
        let (ok, stdout, stderr) = run(&["org-1"], &env, "27830000001\n");
        assert!(!ok && stdout.is_empty(), "{env:?}: {stdout}");
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
        assert!(!stderr.contains(short), "{stderr}");
    }
}
