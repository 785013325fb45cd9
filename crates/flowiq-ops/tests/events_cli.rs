//! The built `flowiq-events` binary: exit codes and messages for bad input, run once each, and
//! Ctrl-C during a replay.

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
