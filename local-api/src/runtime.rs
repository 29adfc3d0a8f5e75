//! The Lambda Runtime API emulator. Each function gets a listener on an ephemeral loopback port;
//! the function process is started with `AWS_LAMBDA_RUNTIME_API` pointing at it, long-polls
//! `GET /2018-06-01/runtime/invocation/next`, and posts the result back, as in Lambda.
//!
//! The Extensions API is there too, as far as internal extensions use it: `register`, then
//! `event/next` long-polls for `INVOKE` events. As in Lambda, an invocation is handed to the
//! runtime only once every extension has asked for its next event (finished the previous
//! invocation), while the caller gets the response as soon as the runtime posts it.
//!
//! A response comes back in one of Lambda's two modes, told apart per response by the
//! `Lambda-Runtime-Function-Response-Mode` header (so no route or function needs configuring):
//! buffered (one JSON payload) or streaming (a chunked body handed on chunk by chunk through
//! [`crate::stream`]; see [`InvokeOutcome`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use crate::stream::{self, Pumped, ResponseStream};

/// The Runtime API header a runtime sets on `POST .../response` to stream its response.
pub const RESPONSE_MODE_HEADER: &str = "lambda-runtime-function-response-mode";

/// How an invocation ended.
#[derive(Debug)]
pub enum InvokeResult {
    /// The function's response payload.
    Response(Bytes),
    /// The function reported an error (`/error`), or its process died mid-invocation.
    Error(String),
}

/// What an invocation produced, in whichever mode the function answered.
pub enum InvokeOutcome {
    /// A buffered response or an error: the invocation is over.
    Finished(InvokeResult),
    /// The function is streaming its response; the invocation lasts until the stream ends.
    Streaming(ResponseStream),
}

impl std::fmt::Debug for InvokeOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeOutcome::Finished(r) => f.debug_tuple("Finished").field(r).finish(),
            InvokeOutcome::Streaming(_) => f.write_str("Streaming(..)"),
        }
    }
}

/// An extension registered through `POST /2020-01-01/extension/register`.
struct Registered {
    id: String,
    wants_invoke: bool,
    /// Between handing it an event and its next `event/next`: still working on an invocation.
    busy: bool,
    events: mpsc::UnboundedSender<Bytes>,
    inbox: Arc<Mutex<mpsc::UnboundedReceiver<Bytes>>>,
}

struct Pending {
    id: String,
    payload: Bytes,
    deadline_ms: u64,
    reply: oneshot::Sender<InvokeOutcome>,
}

/// One function: its process, its emulator endpoint and its invocation queue.
pub struct FunctionHost {
    pub name: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    addr: SocketAddr,
    queue_tx: mpsc::Sender<Pending>,
    queue_rx: Mutex<mpsc::Receiver<Pending>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<InvokeOutcome>>>,
    child: Mutex<Option<Child>>,
    /// Set when the function first asks for an invocation after a start: its init is done.
    ready: AtomicBool,
    /// The runtime is waiting in `/next` for an invocation.
    polling: AtomicBool,
    /// Extensions registered by the current process.
    extensions: std::sync::Mutex<Vec<Registered>>,
    /// Signalled whenever an extension finishes an invocation or the runtime starts polling.
    state_changed: Notify,
    pub timeout: Duration,
}

impl FunctionHost {
    /// Binds the emulator endpoint for `name`; the process starts with [`FunctionHost::start`].
    pub async fn bind(
        name: &str,
        binary: PathBuf,
        env: Vec<(String, String)>,
        timeout: Duration,
    ) -> anyhow::Result<Arc<FunctionHost>> {
        if !binary.is_file() {
            bail!(
                "function binary {} not found; build it first (cargo build --workspace)",
                binary.display()
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the runtime API emulator")?;
        let addr = listener.local_addr()?;
        let (queue_tx, queue_rx) = mpsc::channel(1024);
        let host = Arc::new(FunctionHost {
            name: name.to_owned(),
            binary,
            env,
            addr,
            queue_tx,
            queue_rx: Mutex::new(queue_rx),
            in_flight: Mutex::new(HashMap::new()),
            child: Mutex::new(None),
            ready: AtomicBool::new(false),
            polling: AtomicBool::new(false),
            extensions: std::sync::Mutex::new(Vec::new()),
            state_changed: Notify::new(),
            timeout,
        });
        let served = host.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let host = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let host = host.clone();
                        async move { Ok::<_, Infallible>(host.runtime_api(req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(host)
    }

    /// Starts (or restarts) the function process, as Lambda does for a new execution environment.
    pub async fn start(&self) -> anyhow::Result<Instant> {
        let mut child = self.child.lock().await;
        if let Some(mut old) = child.take() {
            let _ = old.kill().await;
        }
        self.ready.store(false, Ordering::SeqCst);
        self.polling.store(false, Ordering::SeqCst);
        self.registered().clear();
        self.state_changed.notify_waiters();
        let started = Instant::now();
        let mut cmd = Command::new(&self.binary);
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        *child = Some(
            cmd.spawn()
                .with_context(|| format!("starting {}", self.binary.display()))?,
        );
        Ok(started)
    }

    /// Waits until the function polls for work (its init is done), or fails if it exits.
    pub async fn wait_ready(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.ready.load(Ordering::SeqCst) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            if let Some(status) = self.exited().await {
                bail!("function {} exited during init ({status})", self.name);
            }
            if Instant::now() > deadline {
                bail!("function {} was not ready after {limit:?}", self.name);
            }
        }
    }

    /// Waits until the function could take an invocation right away: its runtime is polling
    /// `/next` and every extension has finished the previous invocation. The time between a
    /// response and this point is work the environment does after answering (still billed).
    pub async fn wait_idle(&self, limit: Duration) -> anyhow::Result<()> {
        tokio::time::timeout(
            limit,
            self.wait_until(|| self.polling.load(Ordering::SeqCst) && self.extensions_idle()),
        )
        .await
        .with_context(|| format!("function {} was still busy after {limit:?}", self.name))
    }

    fn registered(&self) -> std::sync::MutexGuard<'_, Vec<Registered>> {
        // A panic while holding this lock cannot leave the list inconsistent (single pushes and
        // flag flips), so a poisoned lock is still usable.
        self.extensions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every extension has finished the invocation it was last handed.
    fn extensions_idle(&self) -> bool {
        self.registered().iter().all(|e| !e.busy)
    }

    /// Returns once `condition` holds, re-checking it whenever the host's state changes.
    async fn wait_until(&self, condition: impl Fn() -> bool) {
        loop {
            // Created before the check so a change between the check and the wait is not missed.
            let changed = self.state_changed.notified();
            if condition() {
                return;
            }
            changed.await;
        }
    }

    async fn exited(&self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.lock().await;
        child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    pub async fn stop(&self) {
        if let Some(mut c) = self.child.lock().await.take() {
            let _ = c.kill().await;
        }
    }

    /// Peak resident memory of the function process so far, from /proc (Linux), in KiB.
    pub async fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.lock().await.as_ref()?.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// The address of this function's Runtime API endpoint (what `AWS_LAMBDA_RUNTIME_API` is set
    /// to in the function's environment).
    pub fn runtime_api_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Invokes the function with `payload` and waits for its whole result, restarting the process
    /// if it died (a crash ends only the invocation it happened in, as in Lambda).
    ///
    /// A streamed response is read to its end and returned as one payload (the bytes exactly as
    /// streamed), as Lambda's buffered `Invoke` API does; [`FunctionHost::invoke_streaming`]
    /// hands it over chunk by chunk instead. The timeout covers the whole invocation either way.
    pub async fn invoke(&self, payload: Bytes) -> InvokeResult {
        let started = Instant::now();
        let stream = match self.invoke_streaming(payload).await {
            InvokeOutcome::Finished(result) => return result,
            InvokeOutcome::Streaming(stream) => stream,
        };
        let left = self.timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.collect()).await {
            Ok(Ok(bytes)) => InvokeResult::Response(bytes),
            Ok(Err(e)) => InvokeResult::Error(e.to_string()),
            Err(_) => {
                self.stop().await;
                InvokeResult::Error("Task timed out".into())
            }
        }
    }

    /// Invokes the function with `payload` and returns as soon as the outcome is known: a
    /// buffered response or error, or the start of a streamed response.
    ///
    /// The host's timeout applies until then (Lambda kills an environment that overruns it). Once
    /// a response streams, its duration is up to the caller, which bounds it as API Gateway does
    /// and drops the [`ResponseStream`] to end it: the function's connection is then closed.
    pub async fn invoke_streaming(&self, payload: Bytes) -> InvokeOutcome {
        let needs_start = self.exited().await.is_some() || self.child.lock().await.is_none();
        if needs_start && let Err(e) = self.start().await {
            return failed(format!("could not start the function: {e:#}"));
        }
        let (reply, rx) = oneshot::channel();
        let id = fresh_uuid();
        let deadline_ms = now_ms() + self.timeout.as_millis() as u64;
        if self
            .queue_tx
            .send(Pending {
                id,
                payload,
                deadline_ms,
                reply,
            })
            .await
            .is_err()
        {
            return failed("invocation queue closed".into());
        }
        let crash_watch = async {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Some(status) = self.exited().await {
                    return status;
                }
            }
        };
        tokio::select! {
            r = rx => r.unwrap_or_else(|_| failed("the function dropped the invocation".into())),
            status = crash_watch => failed(format!("the function process exited ({status})")),
            _ = tokio::time::sleep(self.timeout) => {
                // Lambda kills an environment that overruns its timeout.
                self.stop().await;
                failed("Task timed out".into())
            }
        }
    }

    /// `POST .../invocation/{id}/response` in streaming mode: hands the caller a
    /// [`ResponseStream`] at once, then moves the chunked body into it as it arrives. The
    /// function gets its `202` only when its body is over, as from Lambda.
    async fn stream_response(&self, id: &str, body: Incoming) -> Response<Full<Bytes>> {
        let Some(reply) = self.in_flight.lock().await.remove(id) else {
            return plain(StatusCode::BAD_REQUEST, "unknown request id");
        };
        let (tx, stream) = stream::channel();
        if reply.send(InvokeOutcome::Streaming(stream)).is_err() {
            // The caller gave up before the stream began (it timed out): nothing to read for.
            return abandoned();
        }
        match stream::pump(body, tx).await {
            Pumped::Complete => plain(StatusCode::ACCEPTED, ""),
            Pumped::Reported(e) => {
                // The client's stream just ends, as in Lambda; the reason is only in the log.
                eprintln!("local-api: {} failed mid-stream: {e}", self.name);
                plain(StatusCode::ACCEPTED, "")
            }
            Pumped::Broken(e) => {
                eprintln!("local-api: {} stopped streaming: {e}", self.name);
                plain(StatusCode::ACCEPTED, "")
            }
            Pumped::Abandoned => {
                eprintln!(
                    "local-api: {}: the client went away; its response stream is closed",
                    self.name
                );
                abandoned()
            }
        }
    }

    async fn runtime_api(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let method = req.method().clone();
        let streaming = req
            .headers()
            .get(RESPONSE_MODE_HEADER)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"));
        if streaming
            && method == hyper::Method::POST
            && let ["2018-06-01", "runtime", "invocation", id, "response"] =
                path.trim_start_matches('/').split('/').collect::<Vec<_>>()[..]
        {
            // Not collected like every other request body: it is handed on as it arrives.
            return self.stream_response(id, req.into_body()).await;
        }
        let extension_id = req
            .headers()
            .get("lambda-extension-identifier")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method.as_str(), parts.as_slice()) {
            ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => {
                self.ready.store(true, Ordering::SeqCst);
                self.wait_until(|| self.extensions_idle()).await;
                self.polling.store(true, Ordering::SeqCst);
                self.state_changed.notify_waiters();
                let next = self.queue_rx.lock().await.recv().await;
                self.polling.store(false, Ordering::SeqCst);
                let Some(p) = next else {
                    return plain(StatusCode::GONE, "shutting down");
                };
                self.in_flight.lock().await.insert(p.id.clone(), p.reply);
                let event = serde_json::json!({
                    "eventType": "INVOKE",
                    "deadlineMs": p.deadline_ms,
                    "requestId": p.id,
                    "invokedFunctionArn": format!("arn:aws:lambda:local:local:function:{}", self.name),
                    "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_header(&p.id)},
                });
                for extension in self.registered().iter_mut().filter(|e| e.wants_invoke) {
                    extension.busy = true;
                    let _ = extension.events.send(Bytes::from(event.to_string()));
                }
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .header("lambda-runtime-aws-request-id", &p.id)
                    .header("lambda-runtime-deadline-ms", p.deadline_ms.to_string())
                    .header(
                        "lambda-runtime-invoked-function-arn",
                        format!("arn:aws:lambda:local:local:function:{}", self.name),
                    )
                    .header("lambda-runtime-trace-id", trace_header(&p.id))
                    .body(Full::new(p.payload))
                    .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad header"))
            }
            ("POST", ["2018-06-01", "runtime", "invocation", id, kind]) => {
                let Some(reply) = self.in_flight.lock().await.remove(*id) else {
                    return plain(StatusCode::BAD_REQUEST, "unknown request id");
                };
                let result = if *kind == "response" {
                    InvokeResult::Response(body)
                } else {
                    InvokeResult::Error(String::from_utf8_lossy(&body).into_owned())
                };
                let _ = reply.send(InvokeOutcome::Finished(result));
                plain(StatusCode::ACCEPTED, "")
            }
            ("POST", ["2020-01-01", "extension", "register"]) => {
                let events: Vec<String> = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| serde_json::from_value(v["events"].clone()).ok())
                    .unwrap_or_default();
                let (events_tx, inbox) = mpsc::unbounded_channel();
                let id = fresh_uuid();
                self.registered().push(Registered {
                    id: id.clone(),
                    wants_invoke: events.iter().any(|e| e == "INVOKE"),
                    busy: false,
                    events: events_tx,
                    inbox: Arc::new(Mutex::new(inbox)),
                });
                let body = serde_json::json!({
                    "functionName": self.name,
                    "functionVersion": "$LATEST",
                    "handler": "bootstrap",
                });
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .header("lambda-extension-identifier", id)
                    .body(Full::new(Bytes::from(body.to_string())))
                    .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad header"))
            }
            ("GET", ["2020-01-01", "extension", "event", "next"]) => {
                let inbox = {
                    let mut list = self.registered();
                    let Some(extension) = list.iter_mut().find(|e| e.id == extension_id) else {
                        return plain(StatusCode::FORBIDDEN, "unknown extension identifier");
                    };
                    extension.busy = false;
                    extension.inbox.clone()
                };
                self.state_changed.notify_waiters();
                let Some(event) = inbox.lock().await.recv().await else {
                    return plain(StatusCode::GONE, "shutting down");
                };
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(Full::new(event))
                    .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad header"))
            }
            ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
                eprintln!(
                    "local-api: {} failed to initialise: {}",
                    self.name,
                    String::from_utf8_lossy(&body)
                );
                plain(StatusCode::ACCEPTED, "")
            }
            _ => plain(StatusCode::NOT_FOUND, "unknown runtime API path"),
        }
    }
}

fn failed(message: String) -> InvokeOutcome {
    InvokeOutcome::Finished(InvokeResult::Error(message))
}

/// The answer to a streamed response nobody reads any more. `connection: close` makes the
/// server drop the connection right after it (the rest of the body is never read), so the
/// function's next write fails: its signal to stop generating.
fn abandoned() -> Response<Full<Bytes>> {
    let mut r = plain(StatusCode::GONE, "the caller stopped reading this response");
    r.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    r
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
    *r.status_mut() = status;
    r
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// A random v4-style UUID from the std hasher's per-process random keys (no extra dependency).
/// The X-Ray trace header of an invocation, in the form Lambda sends with active tracing: a
/// trace id stamped with the current time, the invocation's segment as parent, and sampled (a
/// function with `INTENT_TRACING=xray` traces every local invocation). Both ids come from the
/// invocation's request id (a UUID, so hex).
fn trace_header(request_id: &str) -> String {
    let hex: String = request_id.chars().filter(char::is_ascii_hexdigit).collect();
    let hex = format!("{hex:0>32}");
    format!(
        "Root=1-{:08x}-{};Parent={};Sampled=1",
        now_ms() / 1000,
        &hex[..24],
        &hex[16..32]
    )
}

pub fn fresh_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = std::collections::hash_map::RandomState::new();
    let mut words = [0u64; 2];
    for (i, w) in words.iter_mut().enumerate() {
        let mut h = state.build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u64(now_ms());
        h.write_usize(i);
        *w = h.finish();
    }
    let hex = format!("{:016x}{:016x}", words[0], words[1]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}
