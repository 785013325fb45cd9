//! moto's server mode (`moto_server`, pip `moto[server]`): AWS wire protocols (EventBridge, SQS,
//! CloudFormation, …) on 127.0.0.1 without AWS. One private instance per caller, on a free port,
//! under a small shell that stops it when our end of its stdin closes (also when the test
//! process dies), so nothing outlives the tests.

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::dynamodb_local::free_port;

const INSTALL_HINT: &str = "install it with `pip install \"moto[server]\"` (moto 5.x; puts \
     `moto_server` on PATH), or set MOTO_SERVER to the path of a moto_server executable";

pub struct MotoServer {
    port: u16,
    process: Option<Child>,
    log: PathBuf,
}

impl MotoServer {
    /// Starts `moto_server -p <free port>` and waits until it answers. Panics with an install
    /// hint when moto is not installed: a missing component fails the test, never skips it.
    pub fn start() -> Self {
        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
        match Command::new(&program)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(status) if status.success() => {}
            Ok(status) => panic!("`{program} --help` failed ({status}): {INSTALL_HINT}"),
            Err(err) => panic!("cannot run `{program}` ({err}): {INSTALL_HINT}"),
        }
        let port = free_port();
        let log = std::env::temp_dir().join(format!("flowiq-moto-{port}.log"));
        // `read` returns when this process exits (or drops the pipe): then the shell stops moto.
        let script = r#"program=$1 port=$2 log=$3
"$program" -H 127.0.0.1 -p "$port" </dev/null >"$log" 2>&1 &
m=$!
read -r _
kill "$m" 2>/dev/null
wait "$m""#;
        let mut process = Command::new("sh")
            .args(["-c", script, "sh", &program, &port.to_string()])
            .arg(&log)
            .stdin(Stdio::piped())
            .spawn()
            .expect("cannot start sh for moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = process.try_wait() {
                panic!(
                    "moto_server exited ({status}) before answering: {}",
                    read_log(&log)
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer within 60 s: {}",
                read_log(&log)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        MotoServer {
            port,
            process: Some(process),
            log,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What moto printed so far (for assertion messages).
    pub fn log(&self) -> String {
        read_log(&self.log)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            drop(process.stdin.take());
            let _ = process.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    let _ = std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    text
}
