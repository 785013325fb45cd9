//! A local Lambda Runtime API (the HTTP interface a Lambda runtime polls): the function binary is
//! started with `AWS_LAMBDA_RUNTIME_API` pointing here, takes invocations from `/next` and posts
//! its `response` or `error`. Used by the `runtime-emulator` measurements and by tests that run a
//! function binary as Lambda would ([`invoke_once`]).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// How long to wait for the function before giving up.
pub const PATIENCE: Duration = Duration::from_secs(30);

enum Call {
    Next {
        at: Instant,
        reply: Sender<Vec<u8>>,
    },
    Response {
        at: Instant,
        request_id: String,
        body: Vec<u8>,
        reply: Sender<Vec<u8>>,
    },
    Error {
        at: Instant,
        path: String,
        body: Vec<u8>,
        reply: Sender<Vec<u8>>,
    },
}

pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    calls: Receiver<Call>,
}

impl RuntimeApi {
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let (sender, calls) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sender = sender.clone();
                std::thread::spawn(move || serve(stream, sender));
            }
        });
        Ok(RuntimeApi { address, calls })
    }

    fn next_call(&self, since: Instant) -> Result<Call, String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let call = match self.calls.recv_timeout(left) {
                Ok(call) => call,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "no call from the function within {PATIENCE:?} (see its log)"
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => return Err("server stopped".into()),
            };
            let at = match &call {
                Call::Next { at, .. } | Call::Response { at, .. } | Call::Error { at, .. } => *at,
            };
            // Anything a previous (killed) process sent is ignored.
            if at >= since {
                return Ok(call);
            }
        }
    }

    /// Waits for `/next` and answers it with `event`: when the poll arrived, when it was answered.
    pub fn invoke(
        &self,
        since: Instant,
        request_id: &str,
        event: &[u8],
        on_poll: impl FnOnce() -> Result<(), String>,
    ) -> Result<(Instant, Instant), String> {
        match self.next_call(since)? {
            Call::Next { at, reply } => {
                on_poll()?;
                let answered = Instant::now();
                let deadline_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 15_000;
                let headers = format!(
                    "Lambda-Runtime-Aws-Request-Id: {request_id}\r\n\
                     Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:flowiq-webhook\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\
                     Content-Type: application/json\r\n"
                );
                let _ = reply.send(http_response(200, &headers, event));
                Ok((at, answered))
            }
            Call::Error {
                path, body, reply, ..
            } => Err(error_report(&path, &body, &reply)),
            Call::Response { .. } => Err("a response before any invocation".into()),
        }
    }

    /// Waits for the `/next` poll a runtime sends right after posting a response, and leaves it
    /// unanswered: otherwise a poll still in flight when the process is stopped could be taken
    /// for the next process's first one.
    pub fn drain_next(&self, since: Instant) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.calls.recv_timeout(left) {
                Ok(Call::Next { at, .. }) if at >= since => return,
                Ok(_) => continue,
                Err(_) => return,
            }
        }
    }

    /// Waits for the function's answer to `request_id`: when it arrived, and the response.
    pub fn response(&self, since: Instant, request_id: &str) -> Result<(Instant, Value), String> {
        match self.next_call(since)? {
            Call::Response {
                at,
                request_id: id,
                body,
                reply,
            } => {
                let _ = reply.send(http_response(202, "", b"{\"status\":\"OK\"}"));
                if id != request_id {
                    return Err(format!("response for {id}, expected {request_id}"));
                }
                let response = serde_json::from_slice(&body)
                    .map_err(|e| format!("the function's response is not JSON: {e}"))?;
                Ok((at, response))
            }
            Call::Error {
                path, body, reply, ..
            } => Err(error_report(&path, &body, &reply)),
            Call::Next { .. } => Err("a /next poll before the response".into()),
        }
    }
}

/// Accepts an error report (init or invocation error) and describes it.
fn error_report(path: &str, body: &[u8], reply: &Sender<Vec<u8>>) -> String {
    let _ = reply.send(http_response(202, "", b"{\"status\":\"OK\"}"));
    format!(
        "the function reported an error on {path}: {}",
        String::from_utf8_lossy(body)
    )
}

fn http_response(status: u16, headers: &str, body: &[u8]) -> Vec<u8> {
    let reason = if status == 200 { "OK" } else { "Accepted" };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Serves one keep-alive connection of the runtime client.
fn serve(stream: TcpStream, calls: Sender<Call>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some((at, method, path, body)) = read_request(&mut reader) {
        let (reply, answer) = mpsc::channel();
        if calls.send(call(at, &method, path, body, reply)).is_err() {
            return;
        }
        // The controller drops the sender when it gives up on this call (a killed process).
        let Ok(bytes) = answer.recv() else {
            return;
        };
        if writer.write_all(&bytes).is_err() {
            return;
        }
    }
}

/// The next request on the connection: when its first line arrived, its method, path and body
/// (`None` once the connection closes or sends something that is not HTTP/1.1).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(Instant, String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let at = Instant::now();
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let body = read_body(reader, &headers)?;
    Some((at, method, path, body))
}

/// Which Runtime API call a request is.
fn call(at: Instant, method: &str, path: String, body: Vec<u8>, reply: Sender<Vec<u8>>) -> Call {
    if method == "GET" && path.ends_with("/runtime/invocation/next") {
        Call::Next { at, reply }
    } else if method == "POST" && path.ends_with("/response") {
        let request_id = path
            .trim_end_matches("/response")
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Call::Response {
            at,
            request_id,
            body,
            reply,
        }
    } else {
        Call::Error {
            at,
            path,
            body,
            reply,
        }
    }
}

fn read_body(
    reader: &mut BufReader<TcpStream>,
    headers: &HashMap<String, String>,
) -> Option<Vec<u8>> {
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                return Some(body);
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let length = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// Starts `binary` as Lambda would (a fresh process, the Lambda environment plus `env`), invokes
/// it once with `payload` and returns its response, or the error it reported (an invocation
/// error's JSON, as text). A process that exits before answering is reported as Lambda reports
/// it, a `Runtime.ExitError` (with the last line it wrote to stderr). The process is stopped
/// afterwards.
pub fn invoke_once(binary: &Path, env: &[(&str, &str)], payload: &[u8]) -> Result<Value, String> {
    let api = RuntimeApi::start().map_err(|e| e.to_string())?;
    let since = Instant::now();
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "function")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let child = Arc::new(Mutex::new(child));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (child, done, address) = (child.clone(), done.clone(), api.address.clone());
        std::thread::spawn(move || report_exit(&child, &done, &address))
    };
    let outcome = api
        .invoke(since, "invoke-once", payload, || Ok(()))
        .and_then(|_| api.response(since, "invoke-once"))
        .map(|(_, response)| response);
    done.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    let mut child = child.lock().unwrap_or_else(|e| e.into_inner());
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

/// Until `done`: when the process exits, posts the init error Lambda records for a runtime that
/// exits (`Runtime.ExitError`), so the invocation fails at once rather than after [`PATIENCE`].
fn report_exit(child: &Mutex<Child>, done: &AtomicBool, address: &str) {
    while !done.load(Ordering::Relaxed) {
        let mut process = child.lock().unwrap_or_else(|e| e.into_inner());
        let status = match process.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => {
                drop(process);
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => return,
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = process.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        let body = serde_json::json!({
            "errorType": "Runtime.ExitError",
            "errorMessage": format!("Runtime exited with error: {status}: {}", last.unwrap_or("")),
        })
        .to_string();
        // Not waiting for the answer: the server holds it until the controller takes the call.
        if let Ok(mut stream) = TcpStream::connect(address) {
            let _ = write!(
                stream,
                "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {address}\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
        return;
    }
}
