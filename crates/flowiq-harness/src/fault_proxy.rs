//! A TCP proxy in front of DynamoDB Local that produces the faults DynamoDB Local cannot:
//! throttling (HTTP 400 `ProvisionedThroughputExceededException`), `InternalServerError` (500),
//! a connection that accepts and never answers, and dropped connections. The test switches the
//! mode at any time; connections opened under an earlier mode are closed when it changes, so
//! the SDK's pooled connections see the new mode at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Everything passes through to DynamoDB Local.
    None,
    /// Every request is answered `ProvisionedThroughputExceededException` (HTTP 400).
    Throttling,
    /// Every request is answered `InternalServerError` (HTTP 500).
    ServerError,
    /// Connections are accepted and never answered.
    Hang,
    /// Connections are closed as soon as a request arrives.
    Drop,
}

impl Fault {
    pub const ALL: [Fault; 4] = [
        Fault::Throttling,
        Fault::ServerError,
        Fault::Hang,
        Fault::Drop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Throttling => "throttling",
            Fault::ServerError => "500s",
            Fault::Hang => "hanging connection",
            Fault::Drop => "dropped connections",
        }
    }
}

pub struct FaultProxy {
    address: SocketAddr,
    mode: watch::Sender<Fault>,
    requests_refused: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`). Runs on the
    /// current tokio runtime until dropped.
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("a local address");
        let (mode, _) = watch::channel(Fault::None);
        let requests_refused = Arc::new(AtomicUsize::new(0));
        let upstream = upstream.to_owned();
        let (modes, refused) = (mode.clone(), Arc::clone(&requests_refused));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (modes, refused) = (modes.subscribe(), Arc::clone(&refused));
                tokio::spawn(serve(client, upstream.clone(), modes, refused));
            }
        });
        FaultProxy {
            address,
            mode,
            requests_refused,
        }
    }

    /// The endpoint to give the SDK (`http://127.0.0.1:<port>`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Switches the mode; a change closes the connections opened under the old one.
    pub fn set(&self, fault: Fault) {
        self.mode.send_if_modified(|mode| {
            let changed = *mode != fault;
            *mode = fault;
            changed
        });
    }

    /// Requests answered with an error or dropped so far.
    pub fn requests_refused(&self) -> usize {
        self.requests_refused.load(Ordering::Relaxed)
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: String,
    mut modes: watch::Receiver<Fault>,
    refused: Arc<AtomicUsize>,
) {
    let fault = *modes.borrow_and_update();
    let work = async {
        match fault {
            Fault::None => {
                if let Ok(mut upstream) = TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            }
            Fault::Hang => std::future::pending::<()>().await,
            Fault::Drop => {
                let mut buffer = [0; 1];
                let _ = client.read(&mut buffer).await;
                refused.fetch_add(1, Ordering::Relaxed);
            }
            Fault::Throttling | Fault::ServerError => {
                while read_request(&mut client).await.is_some() {
                    refused.fetch_add(1, Ordering::Relaxed);
                    if client
                        .write_all(error_response(fault).as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    // A change of mode ends the connection: the client opens a new one under the new mode.
    tokio::select! {
        () = work => {}
        _ = modes.changed() => {}
    }
}

/// Reads one HTTP/1.1 request (headers and a `Content-Length` body); `None` at the end.
async fn read_request(client: &mut TcpStream) -> Option<()> {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    client.read_exact(&mut body).await.ok()?;
    Some(())
}

fn error_response(fault: Fault) -> String {
    let (status, error_type, message) = match fault {
        Fault::Throttling => (
            "400 Bad Request",
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        _ => (
            "500 Internal Server Error",
            "InternalServerError",
            "Internal server error",
        ),
    };
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"{message}"}}"#
    );
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: fault-proxy\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}
