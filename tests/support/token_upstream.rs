//! A local OpenAI-compatible server that writes its answer token by token at a fixed rate, the
//! way a real model does: `stream: true` requests get server-sent events (`data:` chunks, a usage
//! chunk, `[DONE]`), others get one JSON completion after the time the tokens would take. It
//! records whether the client stayed until the end, so tests can check that a client that goes
//! away stops the generation. Used by the streaming tests and the streaming benchmark.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// How the stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `finish_reason: stop`, a usage chunk, `[DONE]`.
    Complete,
    /// `finish_reason: length` (the output token limit).
    Length,
    /// The connection closes after the tokens, with no finish reason and no `[DONE]`.
    Cut,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct TokenStats {
    pub requests: AtomicU64,
    /// Streams whose every token was written.
    pub completed: AtomicU64,
    /// Streams the client left before the end (the body was dropped while writing).
    pub abandoned: AtomicU64,
}

impl TokenStats {
    pub fn get(&self, c: &AtomicU64) -> u64 {
        c.load(Ordering::SeqCst)
    }
}

pub struct TokenUpstream {
    /// Base URL as `OPENAI_BASE_URL` takes it (`http://127.0.0.1:PORT/v1`).
    pub base_url: String,
    pub stats: Arc<TokenStats>,
}

#[derive(Clone)]
struct Script {
    tokens: Arc<Vec<String>>,
    interval: Duration,
    ending: Ending,
    stats: Arc<TokenStats>,
}

/// Marks a stream abandoned when it is dropped before its end.
struct EndGuard {
    stats: Arc<TokenStats>,
    finished: bool,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        let counter = if self.finished {
            &self.stats.completed
        } else {
            &self.stats.abandoned
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

impl TokenUpstream {
    /// Serves `tokens`, one every `interval`, ending as `ending` says.
    pub async fn start(tokens: &[&str], interval: Duration, ending: Ending) -> TokenUpstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("an address");
        let stats = Arc::new(TokenStats::default());
        let script = Script {
            tokens: Arc::new(tokens.iter().map(|t| (*t).to_owned()).collect()),
            interval,
            ending,
            stats: stats.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let script = script.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(script.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        TokenUpstream {
            base_url: format!("http://{addr}/v1"),
            stats,
        }
    }
}

type AnyBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn answer(script: Script, req: Request<Incoming>) -> Result<Response<AnyBody>, Infallible> {
    script.stats.requests.fetch_add(1, Ordering::SeqCst);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if request["stream"] == true {
        Ok(sse(script))
    } else {
        // A buffered call waits for the whole answer, as it would with a real model.
        let n = script.tokens.len() as u32;
        tokio::time::sleep(script.interval * n).await;
        let content = json!({
            "summary": script.tokens.concat().trim(),
            "source_sentences": [0]
        })
        .to_string();
        let completion = json!({
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 400, "completion_tokens": n, "total_tokens": 400 + n}
        });
        let mut response = Response::new(
            Full::new(Bytes::from(completion.to_string()))
                .map_err(|never| match never {})
                .boxed(),
        );
        response.headers_mut().insert(
            "content-type",
            "application/json".parse().expect("a header"),
        );
        script.stats.completed.fetch_add(1, Ordering::SeqCst);
        Ok(response)
    }
}

fn chunk(value: Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn sse(script: Script) -> Response<AnyBody> {
    let n = script.tokens.len();
    let guard = EndGuard {
        stats: script.stats.clone(),
        finished: false,
    };
    // Step i < n writes token i after the interval; then the ending.
    let frames = futures_util::stream::unfold((0usize, guard), move |(i, mut guard)| {
        let script = script.clone();
        async move {
            if i > n {
                return None;
            }
            if i < n {
                tokio::time::sleep(script.interval).await;
                let delta = json!({"choices": [{"index": 0, "delta": {"content": script.tokens[i]}, "finish_reason": null}]});
                return Some((
                    Ok::<_, Infallible>(Frame::data(chunk(delta))),
                    (i + 1, guard),
                ));
            }
            guard.finished = true;
            let ending = match script.ending {
                Ending::Cut => return None,
                Ending::Complete | Ending::Length => {
                    let reason = if script.ending == Ending::Complete {
                        "stop"
                    } else {
                        "length"
                    };
                    let mut out = Vec::new();
                    out.extend_from_slice(&chunk(
                        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}),
                    ));
                    out.extend_from_slice(&chunk(json!({
                        "choices": [],
                        "usage": {"prompt_tokens": 400, "completion_tokens": n, "total_tokens": 400 + n}
                    })));
                    out.extend_from_slice(b"data: [DONE]\n\n");
                    Bytes::from(out)
                }
            };
            Some((Ok(Frame::data(ending)), (i + 1, guard)))
        }
    });
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    response.headers_mut().insert(
        "content-type",
        "text/event-stream".parse().expect("a header"),
    );
    response
}
