//! The local API as a child process, configured like a deployed stack, plus a minimal client.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{announced_port, target_dir};

pub struct LocalApi {
    pub url: String,
    client: Client<HttpConnector, Full<Bytes>>,
    _child: Child,
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Function and gateway logs of one local API go to `target/test-logs/local-api-<pid>-<n>.log`
/// (the n-th local API this test process started), so test output stays readable and a failure
/// can still be investigated.
fn log_file() -> anyhow::Result<Stdio> {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = target_dir().join("test-logs");
    std::fs::create_dir_all(&dir)?;
    let name = format!("local-api-{}-{n}.log", std::process::id());
    let file = std::fs::File::create(dir.join(name))?;
    Ok(Stdio::from(file))
}

impl LocalApi {
    /// Starts `target/debug/local-api` with `dynamodb_url` as the DynamoDB endpoint and the
    /// template's table names. `extra_env` overrides or adds variables.
    pub async fn start(dynamodb_url: &str, extra_env: &[(&str, &str)]) -> anyhow::Result<LocalApi> {
        let bin_dir = target_dir().join("debug");
        let binary = bin_dir.join("local-api");
        if !binary.is_file() {
            bail!(
                "{} is missing; build the binaries first (cargo build --workspace --bins)",
                binary.display()
            );
        }
        // Port 0: local-api binds a port the system picks and its ready line says which. A port
        // chosen here would be free only when chosen; another test's server could take it
        // while the functions start.
        let mut cmd = Command::new(&binary);
        cmd.args(["--port", "0", "--bin-dir"])
            .arg(&bin_dir)
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("REQUEST_LOG_TABLE", "RequestLogTable")
            .env("FEEDBACK_TABLE", "FeedbackTable")
            .env("RUST_LOG", "warn")
            .env_remove("MODEL_DIR")
            .stdout(Stdio::piped())
            .stderr(log_file()?)
            .kill_on_drop(true);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("starting local-api")?;
        let stdout = child.stdout.take().context("local-api stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        let port = loop {
            let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
                .await
                .context("local-api did not become ready")??;
            match line {
                Some(l) if l.contains("local API listening") => {
                    let port = announced_port(&l)
                        .with_context(|| format!("local-api announced no port: {l:?}"))?;
                    break port;
                }
                Some(_) => {}
                None => bail!("local-api exited before it was ready"),
            }
            if Instant::now() > deadline {
                bail!("local-api did not become ready within 120 s");
            }
        };
        // Keep draining stdout (function logs) so the pipe never fills and blocks them.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(LocalApi {
            url: format!("http://127.0.0.1:{port}"),
            client: Client::builder(TokioExecutor::new()).build_http(),
            _child: child,
        })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<Reply> {
        self.call_with(method, path, body, &[]).await
    }

    /// [`LocalApi::call`] with extra request headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let mut with_key = vec![("x-api-key", "test-key")];
        with_key.extend_from_slice(headers);
        self.request(method, path, body, &with_key).await
    }

    /// A request with exactly these headers (no default `x-api-key`).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let payload = match body {
            Some(b) => {
                request = request.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(b)?)
            }
            None => Bytes::new(),
        };
        let response = self
            .client
            .request(request.body(Full::new(payload))?)
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await?.to_bytes();
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "response body is not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })?
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<Reply> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.call(Method::GET, path, None).await
    }
}
