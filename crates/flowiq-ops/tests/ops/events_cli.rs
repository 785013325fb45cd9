//! The built `flowiq-events` binary: exit codes and messages for bad input, run once each,
//! Ctrl-C during a replay, and a receiver's URL (its token) given by flag, environment or file
//! never printed, whatever the outcome.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use flowiq_harness::dynamodb_local;
use flowiq_harness::test_table::TestTable;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The binary with a clean AWS environment: DynamoDB Local's dummy key and region, no profile,
/// no instance metadata; run to its end.
fn flowiq_events(table: Option<&TestTable>, args: &[&str]) -> Output {
    flowiq_events_command(table, args).output().unwrap()
}

fn flowiq_events_command(table: Option<&TestTable>, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowiq-events"));
    for name in [
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "TABLE_NAME",
        "AWS_DEFAULT_REGION",
        "FLOWIQ_REPLAY_TO_URL",
        "CONTACT_KEY",
        "CONTACT_KEY_FILE",
        "CONTACT_KEY_SECRET",
    ] {
        command.env_remove(name);
    }
    command
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("RUST_LOG", "warn");
    if let Some(table) = table {
        command
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local::endpoint())
            .env("TABLE_NAME", &table.name);
    } else {
        // Nothing may be read: any AWS call would fail here.
        command
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("TABLE_NAME", "no-such-table");
    }
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_malformed_time_names_the_flag_and_the_expected_format() {
    let output = flowiq_events(None, &["list", "--org", "org-1", "--since", "yesterday"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("--since"), "{message}");
    assert!(
        message.contains("RFC 3339") && message.contains("2h"),
        "{message}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn an_http_target_needs_allow_http() {
    let output = flowiq_events(
        None,
        &[
            "replay",
            "message",
            "wamid.x",
            "--to-url",
            "http://127.0.0.1:9/hook",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--allow-http"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn an_unknown_organization_is_not_found() {
    let table = TestTable::new().await;
    let output = tokio::task::spawn_blocking(move || {
        flowiq_events(
            Some(&table),
            &["list", "--org", "org-unknown", "--since", "7d"],
        )
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("no events") && message.contains("\"org-unknown\""),
        "{message}"
    );
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn an_unreachable_target_exits_5_with_a_clear_message_and_no_cursor() {
    let table = TestTable::new().await;
    let body = json!({"event_type": "message_read", "whatsapp_message_id": "wamid.u",
        "organization_id": "org-u", "status": "read", "timestamp": "2026-03-07T10:00:00Z",
        "whatsapp_id": "27830000099"})
    .to_string();
    table.store_delivery(&body).await;
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let output = tokio::task::spawn_blocking(move || {
        flowiq_events(
            Some(&table),
            &[
                "replay",
                "message",
                "wamid.u",
                "--to-url",
                &url,
                "--allow-http",
                "--max-attempts",
                "2",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(&format!("cannot connect to http://127.0.0.1:{port}")),
        "{message}"
    );
    // stdout is not a terminal: one JSON summary line.
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (&summary["sent"], &summary["cursor"]),
        (&json!(0), &Value::Null)
    );
    assert!(
        summary["error"]
            .as_str()
            .unwrap()
            .contains("after 2 attempts"),
        "{summary}"
    );
}

#[test]
fn help_describes_this_tool_and_its_exit_codes() {
    let output = flowiq_events(None, &["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(
        help.contains("DynamoDB table of the stored events"),
        "{help}"
    );
    for bootstrap_only in ["registration records", "base URL", "token's secret"] {
        assert!(!help.contains(bootstrap_only), "{bootstrap_only}: {help}");
    }
    assert!(
        help.contains("  2  usage or configuration error:"),
        "{help}"
    );
    assert!(help.contains("no AWS region"), "{help}");
}

#[test]
fn no_region_exits_2_as_the_help_says() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowiq-events"));
    for name in ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"] {
        command.env_remove(name);
    }
    let output = command
        .args(["message", "wamid.x"])
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TABLE_NAME", "t")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no AWS region"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn ctrl_c_during_a_replay_stops_it_and_prints_the_cursor_to_resume_from() {
    let table = TestTable::new().await;
    for n in 0..5 {
        let body = json!({"event_type": "message_read", "whatsapp_message_id": "wamid.int",
            "organization_id": "org-int", "status": "read",
            "timestamp": format!("2026-03-07T10:00:0{n}Z"), "whatsapp_id": "27830000098"});
        table.store_delivery(&body.to_string()).await;
    }
    // A slow target: each answer takes 500 ms.
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(500)))
        .mount(&slow)
        .await;
    let url = format!("{}/hook", slow.uri());
    let args = [
        "replay",
        "message",
        "wamid.int",
        "--to-url",
        &url,
        "--allow-http",
        "--rate",
        "1000",
    ];
    let child = flowiq_events_command(Some(&table), &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The first event answered, the second one in flight: Ctrl-C (SIGINT, as a terminal sends).
    let deadline = Instant::now() + Duration::from_secs(30);
    while slow.received_requests().await.unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the replay never got to the second event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();

    // It ended by itself (not killed by the signal), as a stopped replay: exit 4, the cursor
    // after the one event that was answered.
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["interrupted"], true, "{summary}");
    assert_eq!(summary["sent"], 1, "{summary}");
    assert!(
        summary["cursor"]
            .as_str()
            .unwrap()
            .starts_with("2026-03-07T10:00:00.000Z#"),
        "{summary}"
    );
    assert_eq!(summary["error"], Value::Null, "{summary}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        slow.received_requests().await.unwrap().len(),
        2,
        "nothing sent after Ctrl-C"
    );
}

// ------------------------------------------------------------------ secrets on command lines

const TOKEN: &str = "ReceiversToken0123456789abcdefghijklmnopqrstuvwx";

/// Neither stream of the run holds the token.
fn assert_no_token(output: &Output) {
    for (name, stream) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains(TOKEN), "the token in {name}: {text}");
        assert!(
            !text.contains(&TOKEN[..16]),
            "part of the token in {name}: {text}"
        );
    }
}

/// A file only this test reads, holding `text`.
fn url_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("flowiq-events-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_bad_target_url_is_refused_without_showing_it_from_a_flag_the_environment_or_a_file() {
    let cases = [
        (
            format!("https://exa mple.com/webhooks/whatsapp/{TOKEN}"),
            "not a URL",
        ),
        (
            format!("ftp://example.com/webhooks/whatsapp/{TOKEN}"),
            "https://",
        ),
        (format!("{TOKEN}:opaque"), "https://"),
        (
            format!("http://127.0.0.1:9/webhooks/whatsapp/{TOKEN}"),
            "--allow-http",
        ),
    ];
    for (url, says) in &cases {
        let file = url_file("bad", &format!("{url}\n"));
        let file = file.to_str().unwrap();
        let by_flag = flowiq_events(None, &["replay", "message", "wamid.x", "--to-url", url]);
        let by_file = flowiq_events(
            None,
            &["replay", "message", "wamid.x", "--to-url-file", file],
        );
        let by_env = flowiq_events_command(None, &["replay", "message", "wamid.x"])
            .env("FLOWIQ_REPLAY_TO_URL", url)
            .output()
            .unwrap();
        for (how, output) in [("flag", by_flag), ("file", by_file), ("env", by_env)] {
            assert_eq!(
                output.status.code(),
                Some(2),
                "{how} {says}: {}",
                stderr(&output)
            );
            assert!(stderr(&output).contains(says), "{how}: {}", stderr(&output));
            assert_no_token(&output);
        }
    }
    // A file that cannot be read, or holds nothing, is named; its content never is.
    let missing = flowiq_events(
        None,
        &[
            "replay",
            "message",
            "wamid.x",
            "--to-url-file",
            "/nonexistent/flowiq-url",
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read --to-url-file /nonexistent/flowiq-url"));
    let empty = url_file("empty", "\n");
    let empty = flowiq_events(
        None,
        &[
            "replay",
            "message",
            "wamid.x",
            "--to-url-file",
            empty.to_str().unwrap(),
        ],
    );
    assert_eq!(empty.status.code(), Some(2));
    assert!(stderr(&empty).contains("is empty"), "{}", stderr(&empty));
    // Given twice: refused, not guessed.
    let file = url_file(
        "twice",
        &format!("https://example.com/webhooks/whatsapp/{TOKEN}"),
    );
    let twice = flowiq_events_command(
        None,
        &[
            "replay",
            "message",
            "wamid.x",
            "--to-url-file",
            file.to_str().unwrap(),
        ],
    )
    .env(
        "FLOWIQ_REPLAY_TO_URL",
        format!("https://example.com/webhooks/web/{TOKEN}"),
    )
    .output()
    .unwrap();
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        stderr(&twice).contains("give the URL once"),
        "{}",
        stderr(&twice)
    );
    assert_no_token(&twice);
}

#[test]
fn help_shows_the_environment_and_file_forms_of_the_target_url_but_no_value() {
    let output = flowiq_events_command(None, &["replay", "--help"])
        .env(
            "FLOWIQ_REPLAY_TO_URL",
            format!("https://example.com/webhooks/whatsapp/{TOKEN}"),
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(help.contains("FLOWIQ_REPLAY_TO_URL"), "{help}");
    assert!(help.contains("--to-url-file <PATH>"), "{help}");
    assert_no_token(&output);
}

/// A replay that succeeds (the URL from a file) and one that fails (the URL from the
/// environment, nothing listening): the events arrive at the token's path, and neither run
/// prints the token.
#[tokio::test]
async fn a_replay_to_a_receivers_url_never_prints_its_token() {
    let table = TestTable::new().await;
    let body = json!({"event_type": "message_read", "whatsapp_message_id": "wamid.s",
        "organization_id": "org-s", "status": "read", "timestamp": "2026-03-07T10:00:00Z",
        "whatsapp_id": "27830000098"})
    .to_string();
    table.store_delivery(&body).await;
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path(format!(
            "/webhooks/whatsapp/{TOKEN}"
        )))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&sink)
        .await;
    let file = url_file("ok", &format!("{}/webhooks/whatsapp/{TOKEN}\n", sink.uri()));
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("http://127.0.0.1:{closed}/webhooks/whatsapp/{TOKEN}");
    let (sent, failed) = tokio::task::spawn_blocking(move || {
        let args = [
            "replay",
            "message",
            "wamid.s",
            "--allow-http",
            "--max-attempts",
            "2",
        ];
        let sent = flowiq_events_command(Some(&table), &args)
            .args(["--to-url-file", file.to_str().unwrap()])
            .output()
            .unwrap();
        let failed = flowiq_events_command(Some(&table), &args)
            .env("FLOWIQ_REPLAY_TO_URL", &unreachable)
            .output()
            .unwrap();
        (sent, failed)
    })
    .await
    .unwrap();
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    let summary: Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(summary["sent"], 1, "{summary}");
    assert_eq!(failed.status.code(), Some(5), "{}", stderr(&failed));
    assert!(stderr(&failed).contains(&format!("cannot connect to http://127.0.0.1:{closed}")));
    for output in [&sent, &failed] {
        assert_no_token(output);
    }
}

/// A number's conversation needs the contact key: from the environment or a file (never a flag's
/// value), refused with exit 2 when short or given twice, and never printed; a contact id's needs
/// none.
#[tokio::test]
async fn the_contact_key_comes_from_the_environment_or_a_file_and_is_never_printed() {
    use flowiq_webhooks::contact_key::LOCAL_DEV_CONTACT_KEY;
    let table = TestTable::new().await;
    let body = json!({"event_type": "message_received", "whatsapp_message_id": "wamid.key",
        "organization_id": "org-key", "timestamp": "2026-03-07T10:00:00Z",
        "whatsapp_id": "27830000001", "message": "Hi", "message_type": "text"});
    table.store_delivery(&body.to_string()).await;
    let file = std::env::temp_dir().join(format!("events-cli-key-{}", std::process::id()));
    std::fs::write(&file, format!("{LOCAL_DEV_CONTACT_KEY}\n")).unwrap();
    let args = [
        "conversation",
        "--org",
        "org-key",
        "--contact",
        "27830000001",
        "--json",
    ];
    let short = "short-contact-key-value";
    let run = |env: Vec<(&'static str, String)>, extra: Vec<String>| {
        let mut command = flowiq_events_command(Some(&table), &args);
        command.args(extra).envs(env);
        command.output().unwrap()
    };
    let file_arg = file.to_str().unwrap().to_owned();
    for (env, extra, code, expected) in [
        (
            vec![("CONTACT_KEY", LOCAL_DEV_CONTACT_KEY.to_owned())],
            vec![],
            0,
            "wamid.key",
        ),
        (
            vec![("CONTACT_KEY_FILE", file_arg.clone())],
            vec![],
            0,
            "wamid.key",
        ),
        (
            vec![],
            vec!["--contact-key-file".to_owned(), file_arg.clone()],
            0,
            "wamid.key",
        ),
        (
            vec![("CONTACT_KEY", short.to_owned())],
            vec![],
            2,
            "CONTACT_KEY: the contact key is 23 characters long",
        ),
        (
            vec![("CONTACT_KEY", LOCAL_DEV_CONTACT_KEY.to_owned())],
            vec!["--contact-key-file".to_owned(), file_arg.clone()],
            2,
            "give the contact key once",
        ),
    ] {
        let output = run(env.clone(), extra.clone());
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{env:?} {extra:?}: {stderr}"
        );
        let shown = if code == 0 { &stdout } else { &stderr };
        assert!(
            shown.contains(expected),
            "{env:?} {extra:?}: {stdout} {stderr}"
        );
        for secret in [LOCAL_DEV_CONTACT_KEY, short] {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{env:?}: the key is printed"
            );
        }
    }
    // FlowIQ's contact id is not hashed: no key is read (none is set, and no stack either).
    let output = flowiq_events(
        Some(&table),
        &["conversation", "--org", "org-key", "--contact", "id:c-none"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    std::fs::remove_file(&file).unwrap();
}
