//! The benchmark harness: every contender runs as a real process behind the project's own Lambda
//! Runtime API emulator (`local_api::runtime::FunctionHost`), so Rust and Python go through the
//! same `/next` → `/response` loop that Lambda runs.
//!
//! It records raw samples only and writes them as JSON; `python/report.py` turns them into the
//! table, the ratios, `BENCHMARKS.md` and the chart. Function processes inherit this process's
//! stdout (their logs), so progress goes to `--progress` (a file, `/dev/fd/3` in `run.sh`).
//!
//! # Sections
//! - `lambda`: cold start (process start → first response, with the init time when the process
//!   first polls `/next`), then warm per-invocation latency and peak RSS, per contender. Cold
//!   starts are interleaved round-robin across contenders so that machine noise hits all alike;
//!   round 0 only warms the page cache and is not recorded.
//! - `ddb`: the same for two contenders with a DynamoDB `PutItem` in the path (DynamoDB Local).
//! - `http`: the local API (the project's `Gateway` in front of the function binaries) under `wrk`
//!   for a cheap and a model-heavy route.
//!
//! Every loop is bounded in count and time, and traffic only goes to 127.0.0.1.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use local_api::gateway::Gateway;
use local_api::runtime::{FunctionHost, InvokeResult};
use serde_json::{Value, json};
use shared::routes::Function;

/// Rust functions measured, with the event each is invoked with (`payloads/<name>.json`): the
/// intents, and `health` and `docs` (`GET /v1/openapi.json`), the two that use no model.
const RUST_FUNCTIONS: [&str; 7] = [
    "summarize",
    "classify",
    "extract",
    "recommend",
    "score",
    "health",
    "docs",
];

/// The model directory used when `--model-dir` is not given (what `scripts/setup.sh` fetches).
const DEFAULT_MODEL_DIR: &str = ".tools/model/all-MiniLM-L6-v2";

struct Args {
    bench_dir: PathBuf,
    bin_dir: PathBuf,
    bench_bin_dir: PathBuf,
    python: PathBuf,
    out: PathBuf,
    progress: Option<PathBuf>,
    cold: usize,
    warm: usize,
    ddb_endpoint: Option<String>,
    ddb_warm: usize,
    wrk_seconds: u64,
    model_dir: Option<String>,
    only: Option<Vec<String>>,
    sections: Vec<String>,
    smoke: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let bench_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut a = Args {
        bin_dir: bench_dir.join("target/release"),
        bench_bin_dir: bench_dir.join("target/release"),
        python: bench_dir.join(".venv/bin/python"),
        out: bench_dir.join("results/harness.json"),
        bench_dir,
        progress: None,
        cold: 15,
        warm: 1000,
        ddb_endpoint: None,
        ddb_warm: 300,
        wrk_seconds: 10,
        model_dir: None,
        only: None,
        sections: vec!["lambda".into(), "ddb".into(), "http".into()],
        smoke: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bench-dir" => a.bench_dir = PathBuf::from(value()?),
            "--bin-dir" => a.bin_dir = PathBuf::from(value()?),
            "--bench-bin-dir" => a.bench_bin_dir = PathBuf::from(value()?),
            "--python" => a.python = PathBuf::from(value()?),
            "--out" => a.out = PathBuf::from(value()?),
            "--progress" => a.progress = Some(PathBuf::from(value()?)),
            "--cold" => a.cold = value()?.parse()?,
            "--warm" => a.warm = value()?.parse()?,
            "--ddb-endpoint" => a.ddb_endpoint = Some(value()?),
            "--ddb-warm" => a.ddb_warm = value()?.parse()?,
            "--wrk-seconds" => a.wrk_seconds = value()?.parse()?,
            "--model-dir" => a.model_dir = Some(value()?),
            "--only" => a.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--sections" => a.sections = value()?.split(',').map(str::to_owned).collect(),
            "--smoke" => a.smoke = true,
            "-h" | "--help" => {
                println!(
                    "usage: bench-harness [--bin-dir DIR] [--bench-bin-dir DIR] [--python PY] [--out JSON]\n\
                     \x20      [--cold N] [--warm N] [--sections lambda,ddb,http] [--only a,b]\n\
                     \x20      [--ddb-endpoint URL] [--ddb-warm N] [--wrk-seconds S] [--model-dir DIR]\n\
                     \x20      [--progress FILE] [--smoke]\n\
                     --model-dir defaults to ../{DEFAULT_MODEL_DIR} (from --bench-dir) when it exists, except with --smoke."
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (see --help)"),
        }
    }
    // The model functions and `py-score` load the model as deployed (`MODEL_DIR` in
    // template.yaml); a full run without `--model-dir` still gives it to both sides, so that
    // Rust and Python do the same (hybrid) work. The smoke check stays without it.
    if a.model_dir.is_none() && !a.smoke {
        let dir = a.bench_dir.join("..").join(DEFAULT_MODEL_DIR);
        if dir.join("model.safetensors").is_file() {
            a.model_dir = Some(dir.display().to_string());
        }
    }
    Ok(a)
}

/// Progress lines for the person running the bench (stdout belongs to the function processes).
#[derive(Clone)]
struct Progress(Arc<Mutex<Box<dyn Write + Send>>>);

impl Progress {
    fn open(path: Option<&Path>) -> Progress {
        let sink: Box<dyn Write + Send> = match path.and_then(|p| {
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(p)
                .ok()
        }) {
            Some(f) => Box::new(f),
            None => Box::new(std::io::stderr()),
        };
        Progress(Arc::new(Mutex::new(sink)))
    }
    fn say(&self, line: impl AsRef<str>) {
        if let Ok(mut w) = self.0.lock() {
            let _ = writeln!(w, "  {}", line.as_ref());
            let _ = w.flush();
        }
    }
}

/// One process under test.
struct Contender {
    name: String,
    /// `rust` or `python`.
    lang: &'static str,
    /// What it stands for in the comparison: `floor`, `intent`, `ddb`.
    role: &'static str,
    binary: PathBuf,
    env: Vec<(String, String)>,
    payload: Bytes,
}

impl Contender {
    /// The event with every `__UNIQUE__` replaced by a fresh id, so that each invocation has its
    /// own API Gateway request id (and each feedback write is a new item), as in production.
    fn unique_payload(&self) -> Bytes {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let text = String::from_utf8_lossy(&self.payload);
        if !text.contains("__UNIQUE__") {
            return self.payload.clone();
        }
        Bytes::from(text.replace("__UNIQUE__", &format!("{}-{n}", std::process::id())))
    }
}

#[derive(Default)]
struct Samples {
    cold_ms: Vec<f64>,
    ready_ms: Vec<f64>,
    warm_us: Vec<f64>,
    /// Per warm invocation: response → environment free again (work after answering, billed).
    after_us: Vec<f64>,
    rss_after_first_kib: Vec<u64>,
    peak_rss_kib: Option<u64>,
    statuses: HashMap<u16, u64>,
    errors: Vec<String>,
}

fn status_of(result: &InvokeResult) -> Result<u16, String> {
    match result {
        InvokeResult::Response(body) => serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("statusCode").and_then(Value::as_u64))
            .map(|s| s as u16)
            .ok_or_else(|| {
                format!(
                    "not an API Gateway response: {}",
                    String::from_utf8_lossy(body)
                )
            }),
        InvokeResult::Error(e) => Err(e.clone()),
    }
}

fn read_payload(bench_dir: &Path, name: &str) -> anyhow::Result<Bytes> {
    let path = bench_dir.join("payloads").join(format!("{name}.json"));
    Ok(Bytes::from(
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    ))
}

/// What every function gets, as `template.yaml` deploys them: the request-log table (every Rust
/// function writes one log item per request, after answering through its internal extension),
/// the feedback table, the model directory.
fn base_env(a: &Args) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("REQUEST_LOG_TABLE", "bench-request-log"),
        ("FEEDBACK_TABLE", "bench-feedback"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    // The fixed variables template.yaml's Globals give every function (allocator settings too).
    env.extend(local_api::template_globals());
    // Without DynamoDB Local, a closed loopback port: the SDKs must never reach for AWS itself.
    let endpoint = a
        .ddb_endpoint
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:9".to_owned());
    env.push(("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint));
    if let Some(dir) = &a.model_dir {
        env.push(("MODEL_DIR".to_owned(), dir.clone()));
    }
    env
}

fn lambda_contenders(a: &Args) -> anyhow::Result<Vec<Contender>> {
    let base_env = base_env(a);
    let mut list = vec![Contender {
        name: "rust-hello".into(),
        lang: "rust",
        role: "floor",
        binary: a.bench_bin_dir.join("hello"),
        env: base_env.clone(),
        payload: read_payload(&a.bench_dir, "generate")?,
    }];
    for f in RUST_FUNCTIONS {
        list.push(Contender {
            name: format!("rust-{f}"),
            lang: "rust",
            role: "intent",
            binary: a.bin_dir.join(f),
            env: base_env.clone(),
            payload: read_payload(&a.bench_dir, f)?,
        });
    }
    // The same binaries with X-Ray tracing on, sending to a local sink: the cost of tracing.
    // Measured only when named in `--only`, so the default suite is unchanged.
    for f in ["health", "classify"] {
        let name = format!("rust-{f}-xray");
        if a.only.as_ref().is_some_and(|only| only.contains(&name)) {
            let mut env = base_env.clone();
            env.push(("AWS_XRAY_DAEMON_ADDRESS".into(), xray_sink()?.to_string()));
            list.push(Contender {
                name,
                lang: "rust",
                role: "intent",
                binary: a.bin_dir.join(f),
                env,
                payload: read_payload(&a.bench_dir, f)?,
            });
        }
    }
    for (name, module, payload, role) in [
        ("py-generate", "generate_app.handler", "generate", "floor"),
        ("py-score", "score_app.handler", "score", "intent"),
    ] {
        list.push(Contender {
            name: name.into(),
            lang: "python",
            role,
            binary: a.bench_dir.join("python/bootstrap"),
            env: python_env(a, module, &base_env),
            payload: read_payload(&a.bench_dir, payload)?,
        });
    }
    Ok(filter(list, &a.only))
}

/// A UDP socket on 127.0.0.1 that stands in for the X-Ray daemon: datagrams queue up unread in
/// the kernel and are dropped when its buffer is full, as a busy daemon would drop them.
fn xray_sink() -> anyhow::Result<std::net::SocketAddr> {
    static SINK: std::sync::OnceLock<std::net::UdpSocket> = std::sync::OnceLock::new();
    if SINK.get().is_none() {
        let _ = SINK.set(std::net::UdpSocket::bind("127.0.0.1:0")?);
    }
    Ok(SINK.get().context("the X-Ray sink socket")?.local_addr()?)
}

fn python_env(a: &Args, handler: &str, base: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = base.to_vec();
    env.push(("BENCH_PYTHON".into(), a.python.display().to_string()));
    env.push(("_HANDLER".into(), handler.into()));
    env.push(("LANG".into(), "C.UTF-8".into()));
    env
}

/// The hard write: the project's feedback function against FastAPI + Mangum + boto3.
fn ddb_contenders(a: &Args) -> anyhow::Result<Vec<Contender>> {
    let env = base_env(a);
    let payload = read_payload(&a.bench_dir, "feedback")?;
    let list = vec![
        Contender {
            name: "rust-feedback".into(),
            lang: "rust",
            role: "ddb",
            binary: a.bin_dir.join("feedback"),
            env: env.clone(),
            payload: payload.clone(),
        },
        Contender {
            name: "py-feedback".into(),
            lang: "python",
            role: "ddb",
            binary: a.bench_dir.join("python/bootstrap"),
            env: python_env(a, "ddb_app.handler", &env),
            payload,
        },
    ];
    Ok(filter(list, &a.only))
}

fn filter(list: Vec<Contender>, only: &Option<Vec<String>>) -> Vec<Contender> {
    match only {
        Some(names) => list
            .into_iter()
            .filter(|c| names.contains(&c.name))
            .collect(),
        None => list,
    }
}

/// Cold starts (interleaved), then warm invocations and peak RSS, for each contender.
async fn measure(
    contenders: &[Contender],
    cold: usize,
    warm: usize,
    progress: &Progress,
) -> anyhow::Result<Vec<Samples>> {
    let mut hosts = Vec::new();
    let mut samples: Vec<Samples> = contenders.iter().map(|_| Samples::default()).collect();
    let mut alive = vec![true; contenders.len()];
    for c in contenders {
        hosts.push(
            FunctionHost::bind(
                &c.name,
                c.binary.clone(),
                c.env.clone(),
                Duration::from_secs(60),
            )
            .await?,
        );
    }
    // Round 0 warms the page cache (and Python's bytecode cache) and is not recorded.
    for round in 0..=cold {
        for (i, c) in contenders.iter().enumerate() {
            if !alive[i] {
                continue;
            }
            let host = &hosts[i];
            let started = host.start().await?;
            let ready_at = Arc::new(Mutex::new(None));
            let ready_slot = ready_at.clone();
            let payload = c.unique_payload();
            let (ready, result) = tokio::join!(
                async {
                    let r = host.wait_ready(Duration::from_secs(60)).await;
                    if let Ok(mut slot) = ready_slot.lock() {
                        *slot = Some(started.elapsed());
                    }
                    r
                },
                host.invoke(payload)
            );
            let cold_start = started.elapsed();
            let s = &mut samples[i];
            if let Err(e) = ready {
                s.errors.push(format!("init: {e:#}"));
            }
            match status_of(&result) {
                Ok(status) if (200..300).contains(&status) => {
                    if round > 0 {
                        s.cold_ms.push(cold_start.as_secs_f64() * 1e3);
                        let ready = ready_at.lock().ok().and_then(|g| *g).unwrap_or(cold_start);
                        s.ready_ms.push(ready.as_secs_f64() * 1e3);
                        if let Some(rss) = host.peak_rss_kib().await {
                            s.rss_after_first_kib.push(rss);
                        }
                    }
                }
                Ok(status) => {
                    s.errors.push(format!("first response had status {status}"));
                    alive[i] = false;
                }
                Err(e) => {
                    s.errors.push(format!("first invocation failed: {e}"));
                    alive[i] = false;
                }
            }
            if !alive[i] {
                progress.say(format!("{}: skipped ({})", c.name, s.errors.join("; ")));
            }
            // The last round's process stays up for the warm phase.
            if round < cold {
                host.stop().await;
            }
        }
        if round > 0 && (round % 5 == 0 || round == cold) {
            progress.say(format!("cold starts: round {round}/{cold}"));
        }
    }
    for (i, c) in contenders.iter().enumerate() {
        if !alive[i] {
            continue;
        }
        let host = &hosts[i];
        let s = &mut samples[i];
        // A short warm-up, as a function that has served a few requests.
        for _ in 0..warm.min(20) {
            let _ = host.invoke(c.unique_payload()).await;
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        for _ in 0..warm {
            let payload = c.unique_payload();
            // Each invocation starts with the environment free, as a request that Lambda routes
            // to an idle environment: work it finishes after answering (the request-log write,
            // see shared::after_response) is timed separately below.
            let _ = host.wait_idle(Duration::from_secs(10)).await;
            let t = Instant::now();
            let result = host.invoke(payload).await;
            let elapsed = t.elapsed();
            if host.wait_idle(Duration::from_secs(10)).await.is_ok() {
                s.after_us.push((t.elapsed() - elapsed).as_secs_f64() * 1e6);
            }
            match status_of(&result) {
                Ok(status) => *s.statuses.entry(status).or_default() += 1,
                Err(e) => {
                    s.errors.push(format!("warm invocation failed: {e}"));
                    break;
                }
            }
            s.warm_us.push(elapsed.as_secs_f64() * 1e6);
            if Instant::now() > deadline {
                s.errors
                    .push("warm phase stopped at its 120 s bound".into());
                break;
            }
        }
        s.peak_rss_kib = host.peak_rss_kib().await;
        host.stop().await;
        let mut sorted = s.warm_us.clone();
        sorted.sort_by(f64::total_cmp);
        let median_cold = {
            let mut v = s.cold_ms.clone();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        progress.say(format!(
            "{:<16} cold p50 {:>8.1} ms   warm p50 {:>8.0} us   peak RSS {:>7} KiB",
            c.name,
            median_cold,
            sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN),
            s.peak_rss_kib.unwrap_or(0)
        ));
    }
    Ok(samples)
}

fn samples_json(contenders: &[Contender], samples: &[Samples]) -> Value {
    Value::Array(
        contenders
            .iter()
            .zip(samples)
            .map(|(c, s)| {
                json!({
                    "name": c.name,
                    "lang": c.lang,
                    "role": c.role,
                    "binary": c.binary.display().to_string(),
                    "cold_ms": s.cold_ms,
                    "ready_ms": s.ready_ms,
                    "warm_us": s.warm_us,
                    "after_us": s.after_us,
                    "rss_after_first_kib": s.rss_after_first_kib,
                    "peak_rss_kib": s.peak_rss_kib,
                    "statuses": s.statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                    "errors": s.errors,
                })
            })
            .collect(),
    )
}

/// The local API (the project's own gateway and emulator) under `wrk`.
async fn http_section(a: &Args, progress: &Progress) -> anyhow::Result<Value> {
    let wrk = which("wrk").context("wrk is not installed (apt-get install wrk)")?;
    let env = base_env(a);
    let mut functions = HashMap::new();
    let mut missing = Vec::new();
    // The jobs functions need a queue and a bucket; they are measured only when configured.
    let jobs_configured = std::env::var_os("JOB_QUEUE_URL").is_some();
    for f in Function::ALL
        .into_iter()
        .filter(|f| jobs_configured || !matches!(f, Function::Jobs | Function::JobWorker))
        // The OIDC authorizer is only hosted when the local API emulates JWT auth.
        .filter(|f| *f != Function::Authorizer)
    {
        let binary = a.bin_dir.join(f.binary());
        if !binary.is_file() {
            missing.push(f.binary());
            continue;
        }
        let host =
            FunctionHost::bind(f.binary(), binary, env.clone(), Duration::from_secs(29)).await?;
        host.start().await?;
        functions.insert(f, host);
    }
    for host in functions.values() {
        host.wait_ready(Duration::from_secs(60)).await?;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let gateway = Arc::new(Gateway {
        stage: "Prod".into(),
        functions,
        auth: None,
    });
    let served = tokio::spawn(gateway.clone().serve(listener));
    let routes: [(&str, &str, Option<&str>); 3] = [
        ("GET /v1/health (cheap)", "/Prod/v1/health", None),
        ("POST /v1/score", "/Prod/v1/score", Some("score")),
        ("POST /v1/classify", "/Prod/v1/classify", Some("classify")),
    ];
    let mut results = Vec::new();
    let scratch = std::env::temp_dir().join(format!("bench-wrk-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    for (label, path, body) in routes {
        let script = scratch.join("request.lua");
        let lua = match body {
            Some(name) => {
                let text = std::fs::read_to_string(
                    a.bench_dir.join(format!("payloads/{name}.body.json")),
                )?;
                format!(
                    "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = {}\n",
                    lua_string(text.trim())
                )
            }
            None => "wrk.method = \"GET\"\n".to_owned(),
        };
        std::fs::write(&script, lua)?;
        let url = format!("http://127.0.0.1:{port}{path}");
        let output = tokio::process::Command::new(&wrk)
            .args([
                "-t1",
                "-c4",
                &format!("-d{}s", a.wrk_seconds),
                "--latency",
                "-s",
            ])
            .arg(&script)
            .arg(&url)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(a.wrk_seconds + 30), output)
            .await
            .context("wrk overran its time bound")??;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let parsed = parse_wrk(&text);
        progress.say(format!(
            "wrk {label}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            parsed.get("rps").and_then(Value::as_f64).unwrap_or(0.0),
            parsed.get("p50_ms").and_then(Value::as_f64).unwrap_or(0.0),
            parsed.get("p99_ms").and_then(Value::as_f64).unwrap_or(0.0)
        ));
        results.push(json!({"route": label, "url_path": path, "wrk": parsed, "raw": text}));
    }
    served.abort();
    for host in gateway.functions.values() {
        host.stop().await;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(json!({
        "tool": "wrk -t1 -c4",
        "seconds": a.wrk_seconds,
        "functions_missing": missing,
        "routes": results,
    }))
}

fn lua_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Requests/sec, latency percentiles and error counts from `wrk --latency` output.
fn parse_wrk(text: &str) -> Value {
    let to_ms = |v: &str| -> Option<f64> {
        let (num, unit) = v
            .trim()
            .split_at(v.trim().find(|c: char| c.is_alphabetic())?);
        let n: f64 = num.parse().ok()?;
        Some(match unit {
            "us" => n / 1e3,
            "ms" => n,
            "s" => n * 1e3,
            "m" => n * 60e3,
            _ => return None,
        })
    };
    let mut out = serde_json::Map::new();
    for line in text.lines() {
        let t = line.trim();
        let mut parts = t.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("Requests/sec:"), Some(v)) => {
                out.insert("rps".into(), json!(v.parse::<f64>().unwrap_or(0.0)));
            }
            (Some("50%"), Some(v)) => {
                out.insert("p50_ms".into(), json!(to_ms(v)));
            }
            (Some("90%"), Some(v)) => {
                out.insert("p90_ms".into(), json!(to_ms(v)));
            }
            (Some("99%"), Some(v)) => {
                out.insert("p99_ms".into(), json!(to_ms(v)));
            }
            (Some("Non-2xx"), _) => {
                out.insert(
                    "non_2xx".into(),
                    json!(t.rsplit(' ').next().and_then(|v| v.parse::<u64>().ok())),
                );
            }
            _ => {}
        }
        if t.contains(" requests in")
            && let Some(n) = t
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        {
            out.insert("requests".into(), json!(n));
        }
    }
    Value::Object(out)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// The smoke check: every binary and script the full run needs is there, and one contender of
/// each language answers one cold and a few warm invocations through the emulator.
async fn smoke(a: &Args, progress: &Progress) -> anyhow::Result<()> {
    let mut contenders = lambda_contenders(a)?;
    contenders.retain(|c| c.binary.is_file() && (c.lang != "python" || a.python.is_file()));
    if contenders.is_empty() {
        bail!(
            "no contender binary found under {} / {}",
            a.bin_dir.display(),
            a.bench_bin_dir.display()
        );
    }
    let samples = measure(&contenders, 1, 5, progress).await?;
    let mut failed = Vec::new();
    for (c, s) in contenders.iter().zip(&samples) {
        if !s.errors.is_empty() || s.cold_ms.is_empty() {
            failed.push(format!("{}: {}", c.name, s.errors.join("; ")));
        }
    }
    if !failed.is_empty() {
        bail!("smoke failed:\n  {}", failed.join("\n  "));
    }
    println!(
        "bench harness smoke: ok ({} contenders answered)",
        contenders.len()
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let progress = Progress::open(a.progress.as_deref());
    if a.smoke {
        return smoke(&a, &progress).await;
    }
    let mut out = serde_json::Map::new();
    out.insert("cold_starts".into(), json!(a.cold));
    out.insert("warm_invocations".into(), json!(a.warm));
    if a.sections.iter().any(|s| s == "lambda") {
        progress.say(format!(
            "lambda: {} cold starts + {} warm invocations per contender",
            a.cold, a.warm
        ));
        progress.say(format!(
            "MODEL_DIR: {}",
            a.model_dir
                .as_deref()
                .unwrap_or("none (no --model-dir, no model under .tools)")
        ));
        let contenders = lambda_contenders(&a)?;
        let samples = measure(&contenders, a.cold, a.warm, &progress).await?;
        out.insert("lambda".into(), samples_json(&contenders, &samples));
    }
    if a.sections.iter().any(|s| s == "ddb") {
        match &a.ddb_endpoint {
            Some(endpoint) => {
                progress.say(format!(
                    "ddb: feedback writes to DynamoDB Local at {endpoint}"
                ));
                let contenders = ddb_contenders(&a)?;
                let samples = measure(&contenders, a.cold, a.ddb_warm, &progress).await?;
                out.insert("ddb".into(), samples_json(&contenders, &samples));
            }
            None => {
                out.insert(
                    "ddb_skipped".into(),
                    json!("no --ddb-endpoint (DynamoDB Local not started)"),
                );
            }
        }
    }
    if a.sections.iter().any(|s| s == "http") {
        progress.say("http: local API under wrk");
        match http_section(&a, &progress).await {
            Ok(v) => {
                out.insert("http".into(), v);
            }
            Err(e) => {
                progress.say(format!("http: skipped ({e:#})"));
                out.insert("http_skipped".into(), json!(format!("{e:#}")));
            }
        }
    }
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&a.out, serde_json::to_vec_pretty(&Value::Object(out))?)?;
    progress.say(format!("raw samples written to {}", a.out.display()));
    Ok(())
}
