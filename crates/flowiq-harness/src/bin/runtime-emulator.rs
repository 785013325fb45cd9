//! A small local Lambda Runtime API for measurements (docs/performance.md, run by scripts/bench).
//!
//! It starts the function binary as Lambda does (a fresh process, `AWS_LAMBDA_RUNTIME_API`
//! pointing here, the usual Lambda environment), serves `GET /2018-06-01/runtime/invocation/next`
//! and the `response` / `error` posts, and times them:
//!
//! - `cold`: N fresh processes, one invocation each. Per start: process spawn → first `/next`
//!   poll (Lambda's "Init Duration") and → first response posted, the CPU time the process used
//!   until then and its RSS. Median and p90.
//! - `invoke`: one process, the same payload N times (any function: e.g. a Pipe batch for
//!   flowiq-pipe-enrichment): CPU and latency per invocation.
//! - `warm`: one process, many invocations (fresh events and immediate redeliveries, from the
//!   sample events): latency per invocation, CPU time per invocation, RSS (VmRSS / VmHWM) after
//!   warm-up and at the end.
//!
//! With `--cpu-share F` the function runs in a cgroup (v1 `cpu` controller, needs root) limited
//! to F of one CPU, as Lambda limits a function to memory / 1,769 MB of a vCPU; with
//! `--init-burst` as well, init runs unthrottled and the limit applies from the first `/next`
//! poll (Lambda gives the init phase a CPU burst).
//!
//! The last line printed is `RESULT {json}` for scripts/bench.
//!
//! ```sh
//! cargo build --release -p flowiq-webhooks --bin flowiq-webhook
//! cargo build --release -p flowiq-harness --bin runtime-emulator
//! target/release/runtime-emulator cold --binary target/release/flowiq-webhook \
//!     --event events/whatsapp-message-read.json --wrong-token --starts 25
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use flowiq_harness::runtime_api::RuntimeApi;
use flowiq_harness::stats::percentile;
use flowiq_webhooks::contact_key::LOCAL_DEV_CONTACT_KEY;
use serde_json::{Value, json};

const DEV_TOKEN: &str = "local-dev-token-not-a-secret-0123456789";
const WRONG_TOKEN: &str = "wrong-token-wrong-token-wrong-token-0000";

#[derive(Parser)]
#[command(about = "A local Lambda Runtime API that times the function (docs/performance.md)")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Fresh processes, one invocation each: init and first-response times.
    Cold(ColdArgs),
    /// One process, many invocations: latency, CPU per invocation, RSS over time.
    Warm(WarmArgs),
    /// One process, the same payload many times (any function, e.g. a batch of stream records
    /// for flowiq-pipe-enrichment): CPU and latency per invocation.
    Invoke(InvokeArgs),
}

#[derive(Args)]
struct Function {
    /// The function binary (a release build of flowiq-webhook).
    #[arg(long)]
    binary: PathBuf,
    /// Extra environment for the function, KEY=VALUE (repeatable); KEY= removes KEY.
    #[arg(long = "env", value_parser = key_value)]
    env: Vec<(String, String)>,
    /// AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
    #[arg(long, default_value_t = 128)]
    memory: u32,
    /// Limit the function to this fraction of one CPU (cgroup v1 cpu quota; root). Lambda gives
    /// memory / 1769 MB of a vCPU: 0.0724 at 128 MB.
    #[arg(long)]
    cpu_share: Option<f64>,
    /// The cgroup's CPU period with --cpu-share (the kernel's default is 100 ms).
    #[arg(long, default_value_t = 100_000)]
    cpu_period_us: u64,
    /// With --cpu-share: run init unthrottled and apply the limit from the first `/next` poll
    /// on, as Lambda's init phase gets a CPU burst (docs/performance.md).
    #[arg(long, requires = "cpu_share")]
    init_burst: bool,
    /// Where the function's stdout and stderr go (default: discarded).
    #[arg(long)]
    log: Option<PathBuf>,
}

#[derive(Args)]
struct ColdArgs {
    #[command(flatten)]
    function: Function,
    /// An API Gateway event, as in events/.
    #[arg(long)]
    event: PathBuf,
    /// Number of cold starts.
    #[arg(long, default_value_t = 25)]
    starts: usize,
    /// Replace the URL token with a wrong one: a 401 that needs no DynamoDB.
    #[arg(long)]
    wrong_token: bool,
    /// Make each start's body a new event (a `bench_nonce` field), so each is `stored`.
    #[arg(long)]
    unique: bool,
    /// A label for the result.
    #[arg(long, default_value = "cold")]
    label: String,
}

#[derive(Args)]
struct WarmArgs {
    #[command(flatten)]
    function: Function,
    /// API Gateway events to cycle through (e.g. events/*.json but the stream record).
    #[arg(long = "event", required = true)]
    events: Vec<PathBuf>,
    #[arg(long, default_value_t = 10_000)]
    invocations: usize,
    /// Invocations before the "after warm-up" sample.
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,
    #[arg(long, default_value = "warm")]
    label: String,
}

#[derive(Args)]
struct InvokeArgs {
    #[command(flatten)]
    function: Function,
    /// The invocation's payload, sent as it is.
    #[arg(long)]
    payload: PathBuf,
    #[arg(long, default_value_t = 2_000)]
    invocations: usize,
    /// Invocations before the measured ones.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    #[arg(long, default_value = "invoke")]
    label: String,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.mode {
        Mode::Cold(args) => cold(args),
        Mode::Warm(args) => warm(args),
        Mode::Invoke(args) => invoke(args),
    };
    match result {
        Ok(summary) => println!("RESULT {summary}"),
        Err(err) => {
            eprintln!("runtime-emulator: {err}");
            std::process::exit(1);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The function process.

struct CpuLimit {
    dir: PathBuf,
}

impl CpuLimit {
    fn new(share: f64, period_us: u64) -> Result<Self, String> {
        let dir = PathBuf::from(format!(
            "/sys/fs/cgroup/cpu/flowiq-bench-{}",
            std::process::id()
        ));
        let quota = ((share * period_us as f64).round() as u64).max(1_000);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("cpu.cfs_period_us"), period_us.to_string()))
            .and_then(|()| std::fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string()))
            .map_err(|e| {
                format!(
                    "cannot set up the cgroup {} (cgroup v1 cpu controller, root): {e}",
                    dir.display()
                )
            })?;
        Ok(CpuLimit { dir })
    }
}

impl CpuLimit {
    /// Moves a running process (all its threads) into the limited cgroup.
    fn join(&self, pid: u32) -> Result<(), String> {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string())
            .map_err(|e| format!("cannot move {pid} into {}: {e}", self.dir.display()))
    }
}

impl Drop for CpuLimit {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Function {
    /// The cgroup for `--cpu-share`, if any.
    fn cpu_limit(&self) -> Result<Option<CpuLimit>, String> {
        self.cpu_share
            .map(|share| CpuLimit::new(share, self.cpu_period_us))
            .transpose()
    }

    /// With `--init-burst`, applies the limit once init is over (at the first `/next` poll).
    fn end_init_burst(&self, cpu: Option<&CpuLimit>, pid: u32) -> Result<(), String> {
        match cpu {
            Some(cpu) if self.init_burst => cpu.join(pid),
            _ => Ok(()),
        }
    }
}

/// Starts the function: under `cpu`'s limit from the start, unless `--init-burst` defers it.
fn spawn(function: &Function, api: &RuntimeApi, cpu: Option<&CpuLimit>) -> Result<Child, String> {
    let cpu = cpu.filter(|_| !function.init_burst);
    let mut command = lambda_command(function, api);
    match &function.log {
        Some(path) => {
            let log = File::options()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let log2 = log.try_clone().map_err(|e| e.to_string())?;
            command.stdout(log).stderr(log2);
        }
        None => {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    if let Some(cpu) = cpu {
        // Joins the cgroup between fork and exec, so all of the function runs throttled.
        let procs = File::options()
            .write(true)
            .open(cpu.dir.join("cgroup.procs"))
            .map_err(|e| e.to_string())?;
        // SAFETY: the closure only calls write(2) on an open descriptor (async-signal-safe).
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                (&procs).write_all(b"0")
            });
        }
    }
    command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", function.binary.display()))
}

/// The function's command with the environment Lambda gives it (and `--env` on top).
fn lambda_command(function: &Function, api: &RuntimeApi) -> Command {
    let mut command = Command::new(&function.binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "flowiq-webhook")
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            function.memory.to_string(),
        )
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/flowiq-webhook")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]0123456789abcdef",
        )
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_rust")
        .env("LAMBDA_TASK_ROOT", "/var/task")
        .env("_HANDLER", "bootstrap")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_SESSION_TOKEN", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TABLE_NAME", "flowiq-bench")
        .env("WEBHOOK_TOKENS", DEV_TOKEN)
        .env("CONTACT_KEY", LOCAL_DEV_CONTACT_KEY)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    for (key, value) in &function.env {
        // `KEY=` removes a default above (e.g. WEBHOOK_TOKENS or CONTACT_KEY, to read a secret).
        if value.is_empty() {
            command.env_remove(key);
        } else {
            command.env(key, value);
        }
    }
    command
}

/// CPU time (user + system) the process's live threads have used, from schedstat (ns).
fn cpu_time(pid: u32) -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
                total += text
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(total)
}

/// VmRSS and VmHWM in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------------
// Events.

fn load_event(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn with_wrong_token(event: &mut Value) {
    for pointer in [
        "/rawPath",
        "/path",
        "/requestContext/http/path",
        "/requestContext/path",
    ] {
        if let Some(Value::String(path)) = event.pointer_mut(pointer) {
            *path = path.replace(DEV_TOKEN, WRONG_TOKEN);
        }
    }
    if let Some(token) = event.pointer_mut("/pathParameters/token") {
        *token = WRONG_TOKEN.into();
    }
}

/// The event with a new FlowIQ event in its body: a `bench_nonce` field, and (for messages) a
/// new WhatsApp message id, so the delivery is `stored` and touches a new message item.
fn fresh(event: &Value, nonce: &str) -> Value {
    let mut event = event.clone();
    let Some(body) = event["body"].as_str() else {
        return event;
    };
    let Ok(Value::Object(mut payload)) = serde_json::from_str::<Value>(body) else {
        return event;
    };
    if let Some(Value::String(wamid)) = payload.get_mut("whatsapp_message_id") {
        wamid.push_str(&format!(".{nonce}"));
    }
    payload.insert("bench_nonce".into(), nonce.into());
    let body = Value::Object(payload).to_string();
    if let Some(length) = event.pointer_mut("/headers/content-length") {
        *length = body.len().to_string().into();
    }
    event["body"] = body.into();
    event
}

fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", std::process::id(), nanos % 0xffff_ffff)
}

// ---------------------------------------------------------------------------------------------
// Statistics.

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(values: &[f64]) -> Value {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    json!({
        "n": sorted.len(),
        "min": round(sorted.first().copied().unwrap_or(f64::NAN)),
        "median": round(percentile(&sorted, 50.0)),
        "p90": round(percentile(&sorted, 90.0)),
        "p99": round(percentile(&sorted, 99.0)),
        "max": round(sorted.last().copied().unwrap_or(f64::NAN)),
    })
}

// ---------------------------------------------------------------------------------------------
// Modes.

fn cold(args: ColdArgs) -> Result<Value, String> {
    let api = RuntimeApi::start().map_err(|e| e.to_string())?;
    let cpu = args.function.cpu_limit()?;
    let mut event = load_event(&args.event)?;
    if args.wrong_token {
        with_wrong_token(&mut event);
    }
    let run = run_id();
    let (mut init, mut first, mut handler, mut cpu_ms, mut rss) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut statuses = HashMap::<String, usize>::new();
    for start in 0..args.starts {
        let event = if args.unique {
            fresh(&event, &format!("{run}-{start}"))
        } else {
            event.clone()
        };
        let request_id = format!("{run}-cold-{start}");
        let measured = cold_start(&api, &args.function, cpu.as_ref(), &event, &request_id)?;
        eprintln!(
            "start {start:>3}: init {:7.2} ms, first response {:7.2} ms (handler {:6.2} ms), CPU {:6.2} ms, RSS {:5.1} MiB",
            measured.init_ms,
            measured.first_response_ms,
            measured.handler_ms,
            measured.cpu_ms,
            measured.rss_mib
        );
        init.push(measured.init_ms);
        first.push(measured.first_response_ms);
        handler.push(measured.handler_ms);
        cpu_ms.push(measured.cpu_ms);
        rss.push(measured.rss_mib);
        *statuses.entry(measured.status).or_default() += 1;
    }
    Ok(json!({
        "mode": "cold",
        "label": args.label,
        "event": args.event.display().to_string(),
        "starts": args.starts,
        "cpu_share": args.function.cpu_share,
        "init_burst": args.function.init_burst,
        "statuses": statuses,
        "init_ms": summary(&init),
        "first_response_ms": summary(&first),
        "handler_ms": summary(&handler),
        "cpu_ms_until_first_response": summary(&cpu_ms),
        "rss_mib_after_first_response": summary(&rss),
    }))
}

/// What one cold start measured.
struct ColdStart {
    init_ms: f64,
    first_response_ms: f64,
    handler_ms: f64,
    cpu_ms: f64,
    rss_mib: f64,
    /// The status code and the body's `status` (or `error`).
    status: String,
}

/// Starts the function, gives it `event` as its first invocation, and stops it.
fn cold_start(
    api: &RuntimeApi,
    function: &Function,
    cpu: Option<&CpuLimit>,
    event: &Value,
    request_id: &str,
) -> Result<ColdStart, String> {
    let bytes = event.to_string().into_bytes();
    let since = Instant::now();
    let child = spawn(function, api, cpu)?;
    let pid = child.id();
    let end_of_init = || function.end_init_burst(cpu, pid);
    let outcome =
        api.invoke(since, request_id, &bytes, end_of_init)
            .and_then(|(polled, answered)| {
                api.response(since, request_id)
                    .map(|(done, response)| (polled, answered, done, response))
            });
    let (polled, answered, done, response) = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            stop(child);
            return Err(err);
        }
    };
    let cpu_ms = ms(cpu_time(pid));
    let rss_mib = memory(pid).0 as f64 / 1024.0;
    api.drain_next(since);
    stop(child);
    let status = format!(
        "{} {}",
        response["statusCode"],
        serde_json::from_str::<Value>(response["body"].as_str().unwrap_or("{}"))
            .ok()
            .and_then(|b| b.get("status").or(b.get("error")).cloned())
            .unwrap_or_default()
    );
    Ok(ColdStart {
        init_ms: ms(polled - since),
        first_response_ms: ms(done - since),
        handler_ms: ms(done - answered),
        cpu_ms,
        rss_mib,
        status,
    })
}

fn warm(args: WarmArgs) -> Result<Value, String> {
    let api = RuntimeApi::start().map_err(|e| e.to_string())?;
    let cpu = args.function.cpu_limit()?;
    let events = args
        .events
        .iter()
        .map(|p| load_event(p))
        .collect::<Result<Vec<_>, _>>()?;
    let since = Instant::now();
    let child = spawn(&args.function, &api, cpu.as_ref())?;
    let pid = child.id();
    let result = invoke_warm(&args, &api, cpu.as_ref(), &events, pid, since)
        .and_then(|run| warm_figures(&args, run, pid));
    stop(child);
    result
}

/// What a warm run recorded, invocation by invocation.
struct WarmRun {
    latencies: Vec<f64>,
    statuses: HashMap<String, usize>,
    samples: Vec<Value>,
    /// RSS, high-water mark, CPU time, invocations and when, once the warm-up was done.
    after_warmup: Option<(u64, u64, Duration, usize, Instant)>,
    elapsed: Duration,
}

/// `--invocations` invocations of the running function: even ones a new event, odd ones FlowIQ
/// redelivering the previous one; memory and CPU sampled every 1,000.
fn invoke_warm(
    args: &WarmArgs,
    api: &RuntimeApi,
    cpu: Option<&CpuLimit>,
    events: &[Value],
    pid: u32,
    since: Instant,
) -> Result<WarmRun, String> {
    let run = run_id();
    let mut recorded = WarmRun {
        latencies: Vec::with_capacity(args.invocations),
        statuses: HashMap::new(),
        samples: Vec::new(),
        after_warmup: None,
        elapsed: Duration::ZERO,
    };
    let mut previous = Vec::new();
    let started = Instant::now();
    for i in 0..args.invocations {
        let bytes = if i % 2 == 0 {
            let event = fresh(&events[(i / 2) % events.len()], &format!("{run}-{i}"));
            previous = event.to_string().into_bytes();
            previous.clone()
        } else {
            previous.clone()
        };
        let request_id = format!("{run}-warm-{i}");
        let end_of_init = || match i {
            0 => args.function.end_init_burst(cpu, pid),
            _ => Ok(()),
        };
        let (_, answered) = api.invoke(since, &request_id, &bytes, end_of_init)?;
        let (done, response) = api.response(since, &request_id)?;
        recorded.latencies.push(ms(done - answered));
        let status = response["statusCode"].to_string();
        *recorded.statuses.entry(status).or_default() += 1;
        let n = i + 1;
        if n == args.warmup || n % 1_000 == 0 || n == args.invocations {
            let (rss, hwm) = memory(pid);
            let cpu = cpu_time(pid);
            recorded.samples.push(json!({
                "invocations": n,
                "rss_kib": rss,
                "hwm_kib": hwm,
                "cpu_ms": ms(cpu),
            }));
            eprintln!(
                "{n:>6} invocations: VmRSS {rss} KiB, VmHWM {hwm} KiB, CPU {:.0} ms",
                ms(cpu)
            );
            if n == args.warmup {
                recorded.after_warmup =
                    Some((rss, hwm, cpu, recorded.latencies.len(), Instant::now()));
            }
        }
    }
    recorded.elapsed = started.elapsed();
    Ok(recorded)
}

/// The warm run's figures, counted from the end of the warm-up.
fn warm_figures(args: &WarmArgs, run: WarmRun, pid: u32) -> Result<Value, String> {
    let (rss_end, hwm_end) = memory(pid);
    let cpu_end = cpu_time(pid);
    let (rss_warm, hwm_warm, cpu_warm, n_warm, t_warm) = run
        .after_warmup
        .ok_or("--warmup must be below --invocations")?;
    let measured = args.invocations - n_warm;
    Ok(json!({
        "mode": "warm",
        "label": args.label,
        "invocations": args.invocations,
        "warmup": args.warmup,
        "cpu_share": args.function.cpu_share,
        "statuses": run.statuses,
        "elapsed_s": run.elapsed.as_secs_f64(),
        "invocations_per_s": measured as f64 / t_warm.elapsed().as_secs_f64(),
        "latency_ms": summary(&run.latencies[n_warm..]),
        "cpu_ms_per_invocation": ms(cpu_end.saturating_sub(cpu_warm)) / measured as f64,
        "rss_kib_after_warmup": rss_warm,
        "rss_kib_end": rss_end,
        "hwm_kib_after_warmup": hwm_warm,
        "hwm_kib_end": hwm_end,
        "rss_growth_kib": rss_end as i64 - rss_warm as i64,
        "samples": run.samples,
    }))
}

fn invoke(args: InvokeArgs) -> Result<Value, String> {
    if args.warmup >= args.invocations {
        return Err("--warmup must be below --invocations".into());
    }
    let api = RuntimeApi::start().map_err(|e| e.to_string())?;
    let cpu = args.function.cpu_limit()?;
    let payload =
        std::fs::read(&args.payload).map_err(|e| format!("{}: {e}", args.payload.display()))?;
    let run = run_id();
    let since = Instant::now();
    let child = spawn(&args.function, &api, cpu.as_ref())?;
    let pid = child.id();
    let result = (|| {
        let mut latencies = Vec::with_capacity(args.invocations);
        let mut cpu_after_warmup = Duration::ZERO;
        let mut warm_started = Instant::now();
        for i in 0..args.invocations {
            if i == args.warmup {
                cpu_after_warmup = cpu_time(pid);
                warm_started = Instant::now();
            }
            let request_id = format!("{run}-invoke-{i}");
            let end_of_init = || match i {
                0 => args.function.end_init_burst(cpu.as_ref(), pid),
                _ => Ok(()),
            };
            let (_, answered) = api.invoke(since, &request_id, &payload, end_of_init)?;
            let (done, _) = api.response(since, &request_id)?;
            latencies.push(ms(done - answered));
        }
        let measured = args.invocations - args.warmup;
        let (rss, hwm) = memory(pid);
        Ok(json!({
            "mode": "invoke",
            "label": args.label,
            "payload": args.payload.display().to_string(),
            "invocations": args.invocations,
            "warmup": args.warmup,
            "cpu_share": args.function.cpu_share,
            "invocations_per_s": measured as f64 / warm_started.elapsed().as_secs_f64(),
            "latency_ms": summary(&latencies[args.warmup..]),
            "cpu_ms_per_invocation": ms(cpu_time(pid).saturating_sub(cpu_after_warmup)) / measured as f64,
            "rss_kib_end": rss,
            "hwm_kib_end": hwm,
        }))
    })();
    stop(child);
    result
}
