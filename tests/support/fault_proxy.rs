//! An HTTP proxy in front of DynamoDB Local that injects the failures a Lambda meets in AWS:
//! throttling (400 `ProvisionedThroughputExceededException`), server errors (500), slow answers
//! that arrive after the client gave up (the write *did* commit), and connections dropped after
//! the write committed. Which request fails is decided by a seeded generator, so a run is
//! repeatable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// What happened to each request that reached the proxy.
#[derive(Default, Debug)]
pub struct FaultCounts {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    /// Forwarded (committed), then answered only after the client's attempt timeout.
    pub delayed: AtomicU64,
    /// Forwarded (committed), then the connection was closed without an answer.
    pub dropped_after_commit: AtomicU64,
    pub passed: AtomicU64,
}

impl FaultCounts {
    pub fn get(&self, c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    Throttle,
    ServerError,
    Delay,
    DropAfterCommit,
}

pub struct FaultProxy {
    pub url: String,
    pub counts: Arc<FaultCounts>,
}

struct State {
    upstream: String,
    /// Percentage of requests that fail, 0–100.
    rate: u64,
    /// How long a delayed answer is held: longer than the SDK's attempt timeout.
    delay: Duration,
    seed: u64,
    counts: Arc<FaultCounts>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` failing `rate` percent of requests.
    pub async fn start(
        upstream: &str,
        rate: u64,
        delay: Duration,
        seed: u64,
    ) -> anyhow::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let counts = Arc::new(FaultCounts::default());
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            rate,
            delay,
            seed,
            counts: counts.clone(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { state.handle(req).await }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FaultProxy { url, counts })
    }
}

/// splitmix64: a tiny, well-distributed generator; reproducible from the seed and request number.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn dynamo_error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
        "message": message,
    });
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    r
}

/// Closing the connection without an answer: hyper does that when the service fails.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

impl State {
    fn decide(&self, n: u64) -> Fault {
        let r = splitmix(self.seed ^ n);
        if r % 100 >= self.rate {
            return Fault::None;
        }
        match (r >> 32) % 4 {
            0 => Fault::Throttle,
            1 => Fault::ServerError,
            2 => Fault::Delay,
            _ => Fault::DropAfterCommit,
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
        let n = self.counts.requests.fetch_add(1, Ordering::Relaxed);
        let fault = self.decide(n);
        match fault {
            Fault::Throttle => {
                self.counts.throttled.fetch_add(1, Ordering::Relaxed);
                return Ok(dynamo_error(
                    StatusCode::BAD_REQUEST,
                    "ProvisionedThroughputExceededException",
                    "injected throttling",
                ));
            }
            Fault::ServerError => {
                self.counts.server_errors.fetch_add(1, Ordering::Relaxed);
                return Ok(dynamo_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "injected server error",
                ));
            }
            _ => {}
        }
        let response = self.forward(req).await;
        match fault {
            Fault::Delay => {
                self.counts.delayed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.delay).await;
                Ok(response)
            }
            Fault::DropAfterCommit => {
                self.counts
                    .dropped_after_commit
                    .fetch_add(1, Ordering::Relaxed);
                Err(Dropped)
            }
            _ => {
                self.counts.passed.fetch_add(1, Ordering::Relaxed);
                Ok(response)
            }
        }
    }

    async fn forward(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
            return dynamo_error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "unreadable body",
            );
        };
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut builder = Request::builder()
            .method(parts.method)
            .uri(format!("{}{path}", self.upstream));
        for (k, v) in &parts.headers {
            builder = builder.header(k, v);
        }
        let Ok(upstream_request) = builder.body(Full::new(body)) else {
            return dynamo_error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "bad request",
            );
        };
        match self.client.request(upstream_request).await {
            Ok(resp) => {
                let (parts, body) = resp.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                Response::from_parts(parts, Full::new(bytes))
            }
            Err(_) => dynamo_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "upstream unreachable",
            ),
        }
    }
}
