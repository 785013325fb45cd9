//! `flowiq-events replay --to-url` against a local HTTP sink (wiremock on 127.0.0.1): stored
//! bodies arrive byte for byte, in time order, within the rate; 5xx is retried (waiting as long
//! as `Retry-After` says), 4xx stops the run (said once on a terminal), and `--resume <cursor>`
//! sends exactly the rest.

use crate::support;
use support::context;

use std::time::{Duration, Instant};

use clap::Parser as _;
use flowiq_harness::test_table::TestTable;
use flowiq_ops::events::cli::Args;
use flowiq_ops::events::commands::run;
use flowiq_ops::events::output::Format;
use flowiq_ops::exit_status::ExitStatus;
use flowiq_webhooks::records::Retention;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Runs `flowiq-events <args>`; returns the exit status and the summary line.
async fn events(table: &TestTable, args: &[&str]) -> (ExitStatus, Value) {
    let args =
        Args::try_parse_from(std::iter::once("flowiq-events").chain(args.iter().copied())).unwrap();
    let mut out = Vec::new();
    let status = run(&args.command, &context(table), Format::JsonLines, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let summary: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["kind"], "replay_summary");
    (status, summary)
}

/// Five events of one message, stored from raw bodies with odd spacing, key order and escapes
/// (a re-serialised copy would differ), delivered out of order. Returns the bodies in time order.
async fn store_message(table: &TestTable, wamid: &str) -> Vec<String> {
    let body = |n: u32, event_type: &str| {
        format!(
            "{{ \"whatsapp_message_id\":\"{wamid}\",  \"event_type\" : \"{event_type}\",\n\
             \"organization_id\":\"org-replay\",\"timestamp\":\"2026-03-07T10:00:0{n}+00:00\",\
             \"whatsapp_id\":\"27830000009\",\"status\":\"x\",\"note\":\"caf\\u00e9 {n}\",\"n\":1.50}}"
        )
    };
    let in_order: Vec<String> = [
        "sent_message",
        "message_sent",
        "message_delivered",
        "message_read",
        "message_read",
    ]
    .iter()
    .enumerate()
    .map(|(n, t)| body(n as u32, t))
    .collect();
    let _receiver = table.receiver(Retention(None));
    for index in [3, 0, 4, 2, 1] {
        table.store_delivery(&in_order[index]).await;
    }
    in_order
}

async fn received_bodies(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect()
}

#[tokio::test]
async fn bodies_arrive_byte_for_byte_in_time_order_within_the_rate() {
    let table = TestTable::new().await;
    let stored = store_message(&table, "wamid.r1").await;
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .expect(5)
        .mount(&sink)
        .await;
    let url = format!("{}/hook", sink.uri());

    let started = Instant::now();
    let (status, summary) = events(
        &table,
        &[
            "replay",
            "message",
            "wamid.r1",
            "--to-url",
            &url,
            "--allow-http",
            "--rate",
            "10",
            "--run-id",
            "run-1",
            "--platform",
            "whatsapp",
        ],
    )
    .await;
    let elapsed = started.elapsed();

    assert_eq!(status, ExitStatus::Success, "{summary}");
    assert_eq!(
        received_bodies(&sink).await,
        stored,
        "byte-identical, in time order"
    );
    for request in sink.received_requests().await.unwrap() {
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["x-flowiq-replay"], "run-1");
    }
    // 5 events at 10 per second: 4 intervals of 100 ms at least (loosely: not much more).
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(
        (summary["sent"].as_u64(), summary["retries"].as_u64()),
        (Some(5), Some(0))
    );
    assert!(
        summary["cursor"]
            .as_str()
            .unwrap()
            .starts_with("2026-03-07T10:00:04.000Z#")
    );

    // A dry run counts and sends nothing.
    let (status, summary) = events(
        &table,
        &[
            "replay",
            "message",
            "wamid.r1",
            "--to-url",
            &url,
            "--allow-http",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(status, ExitStatus::Success);
    assert_eq!(
        (summary["to_send"].as_u64(), summary["sent"].as_u64()),
        (Some(5), Some(0))
    );
    assert_eq!(sink.received_requests().await.unwrap().len(), 5);

    // Several in flight: every event once (arrival order is not promised), the cursor the last.
    let parallel = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(50)))
        .expect(5)
        .mount(&parallel)
        .await;
    let url = format!("{}/hook", parallel.uri());
    let (status, summary) = events(
        &table,
        &[
            "replay",
            "message",
            "wamid.r1",
            "--to-url",
            &url,
            "--allow-http",
            "--rate",
            "1000",
            "--concurrency",
            "3",
        ],
    )
    .await;
    assert_eq!(status, ExitStatus::Success, "{summary}");
    let mut bodies = received_bodies(&parallel).await;
    bodies.sort();
    let mut expected = stored.clone();
    expected.sort();
    assert_eq!(bodies, expected);
    assert!(
        summary["cursor"]
            .as_str()
            .unwrap()
            .starts_with("2026-03-07T10:00:04.000Z#")
    );
}

#[tokio::test]
async fn a_5xx_is_retried_a_4xx_stops_and_resume_sends_exactly_the_rest() {
    let table = TestTable::new().await;
    let stored = store_message(&table, "wamid.r2").await;

    // First answer 503, then two 200s, then 400 for everything.
    let flaky = MockServer::start().await;
    for (priority, status, times) in [(1, 503, Some(1)), (2, 200, Some(2)), (3, 400, None)] {
        let mock = Mock::given(method("POST")).respond_with(ResponseTemplate::new(status));
        let mock = match times {
            Some(n) => mock.up_to_n_times(n),
            None => mock,
        };
        mock.with_priority(priority).mount(&flaky).await;
    }
    let args = |url: &str| -> Vec<String> {
        [
            "replay",
            "message",
            "wamid.r2",
            "--to-url",
            url,
            "--allow-http",
            "--rate",
            "1000",
        ]
        .map(String::from)
        .to_vec()
    };
    let url = format!("{}/hook", flaky.uri());
    let first_args = args(&url);
    let (status, summary) = events(
        &table,
        &first_args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;

    assert_eq!(status, ExitStatus::Incomplete, "{summary}");
    // Requests: event 1 (503), event 1 again (200), event 2 (200), event 3 (400): no retry of
    // a 2xx, no retry of a 4xx.
    let bodies = received_bodies(&flaky).await;
    assert_eq!(
        bodies,
        [&stored[0], &stored[0], &stored[1], &stored[2]].map(String::clone)
    );
    assert_eq!(summary["sent"], 2);
    assert_eq!(summary["retries"], 1);
    let cursor = summary["cursor"].as_str().unwrap().to_owned();
    assert!(cursor.starts_with("2026-03-07T10:00:01.000Z#"), "{cursor}");
    assert!(
        summary["failed_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-03-07T10:00:02.000Z#")
    );
    assert!(
        summary["error"].as_str().unwrap().contains("400"),
        "{summary}"
    );

    // Resume from the printed cursor on a healthy target: exactly events 3, 4 and 5.
    let healthy = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&healthy)
        .await;
    let mut resume_args = args(&format!("{}/hook", healthy.uri()));
    resume_args.extend(["--resume".to_owned(), cursor]);
    let (status, summary) = events(
        &table,
        &resume_args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(status, ExitStatus::Success, "{summary}");
    assert_eq!(received_bodies(&healthy).await, stored[2..]);
    assert_eq!(
        (
            summary["skipped_by_resume"].as_u64(),
            summary["sent"].as_u64()
        ),
        (Some(2), Some(3))
    );
}

/// Runs `flowiq-events <args>` as on a terminal (tables), with its log lines captured at the
/// tool's default level: the exit status, stdout and the logs (stderr).
async fn on_a_terminal(table: &TestTable, args: &[&str]) -> (ExitStatus, String, String) {
    support::run_events(&context(table), Format::Table, args).await
}

#[tokio::test]
async fn a_refusal_is_reported_once_on_a_terminal() {
    let table = TestTable::new().await;
    store_message(&table, "wamid.r3").await;
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400))
        .mount(&refusing)
        .await;
    let url = format!("{}/hook", refusing.uri());
    let (status, stdout, logs) = on_a_terminal(
        &table,
        &[
            "replay",
            "message",
            "wamid.r3",
            "--to-url",
            &url,
            "--allow-http",
        ],
    )
    .await;
    assert_eq!(status, ExitStatus::Incomplete, "{stdout}");
    let said = stdout.matches("HTTP 400").count() + logs.matches("HTTP 400").count();
    assert_eq!(said, 1, "stdout:\n{stdout}\nlogs:\n{logs}");
    assert!(
        stdout.contains("stopped at 2026-03-07T10:00:00.000Z#"),
        "{stdout}"
    );
    assert!(!stdout.contains("cursor:"), "nothing was sent: {stdout}");
}

/// A target that answers 503 with this `Retry-After` once, then 200.
async fn busy_once(retry_after: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", retry_after))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// Replays wamid.r4's five events to a target that is busy once with this `Retry-After`; the
/// time the run took.
async fn replay_past_busy_once(table: &TestTable, retry_after: &str) -> Duration {
    let target = busy_once(retry_after).await;
    let url = format!("{}/hook", target.uri());
    let started = Instant::now();
    let (status, summary) = events(
        table,
        &[
            "replay",
            "message",
            "wamid.r4",
            "--to-url",
            &url,
            "--allow-http",
            "--rate",
            "1000",
        ],
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(status, ExitStatus::Success, "{summary}");
    assert_eq!(summary["retries"], 1, "{summary}");
    assert_eq!(received_bodies(&target).await.len(), 5 + 1);
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    elapsed
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_an_http_date() {
    let table = TestTable::new().await;
    store_message(&table, "wamid.r4").await;
    // Without Retry-After the first retry waits at most 500 ms (full jitter); each header here
    // asks for well over that.
    let waited = replay_past_busy_once(&table, "2").await;
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    // An HTTP date is whole seconds: 3 s from now is more than 2 s away.
    let http_date = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let in_3_s = (OffsetDateTime::now_utc() + Duration::from_secs(3))
        .format(http_date)
        .unwrap();
    let waited = replay_past_busy_once(&table, &in_3_s).await;
    assert!(waited >= Duration::from_secs(2), "{in_3_s}: {waited:?}");
}
