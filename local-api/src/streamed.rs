//! The gateway's half of response streaming: what API Gateway (REST, Lambda proxy integration
//! with `responseTransferMode: STREAM`) does with a function's streamed response.
//!
//! This module owns:
//! - reading the metadata prelude (JSON with `statusCode`, `headers`, `multiValueHeaders`,
//!   `cookies`) up to its 8-NUL delimiter, within the first 16 KiB as API Gateway requires;
//!   a stream without a valid prelude is a 502, since no status has been sent yet;
//! - the HTTP body that passes the payload on chunk by chunk, under API Gateway's limits for
//!   streamed routes ([`STREAM_MAX_DURATION`], [`STREAM_IDLE_TIMEOUT`]) instead of the 29 s and
//!   10 MB of buffered ones.
//!
//! Once the status is sent, a failure can only cut the body short: a mid-stream error reported by
//! the function, a broken function connection or an exceeded limit ends the chunked response
//! without its terminating chunk, so an HTTP client can tell a cut stream from a complete one.
//! When the client goes away, hyper drops the body, which drops the [`ResponseStream`]: the
//! emulator then closes the function's connection.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::Value;
use tokio::time::Sleep;

use crate::stream::{ResponseStream, StreamError};

/// How long API Gateway lets a REST API stream a response, in all.
pub const STREAM_MAX_DURATION: Duration = Duration::from_secs(15 * 60);
/// How long a streamed response may go without a byte on a REGIONAL (or private) endpoint.
/// (Edge-optimised endpoints allow 30 s.)
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The metadata prelude and its delimiter must come within this many bytes.
pub const PRELUDE_MAX_BYTES: usize = 16 * 1024;
/// What ends the metadata prelude.
pub const PRELUDE_DELIMITER: [u8; 8] = [0; 8];

/// The time limits of one streamed response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    pub max_duration: Duration,
    pub idle_timeout: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            max_duration: STREAM_MAX_DURATION,
            idle_timeout: STREAM_IDLE_TIMEOUT,
        }
    }
}

/// Why a streamed response could not start (the gateway answers 502 or 504).
#[derive(Debug)]
pub enum PreludeError {
    /// No delimiter within [`PRELUDE_MAX_BYTES`], the stream ended first, or the JSON is invalid.
    Malformed(String),
    /// The function's stream failed before the prelude was complete.
    Failed(StreamError),
    /// A limit ran out before the prelude was complete.
    TimedOut,
}

/// The status and headers of a streamed response, from its metadata prelude.
#[derive(Debug)]
pub struct Prelude {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Reads the metadata prelude off the front of `stream`; returns it with the payload bytes that
/// came in the same chunks after the delimiter.
pub async fn read_prelude(
    stream: &mut ResponseStream,
    started: Instant,
    limits: StreamLimits,
) -> Result<(Prelude, Bytes), PreludeError> {
    let deadline = started + limits.max_duration;
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let wait = limits
            .idle_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let chunk = match tokio::time::timeout(wait, stream.next()).await {
            Err(_) => return Err(PreludeError::TimedOut),
            Ok(Err(e)) => return Err(PreludeError::Failed(e)),
            Ok(Ok(None)) => {
                return Err(PreludeError::Malformed(
                    "the stream ended before the metadata prelude's delimiter".into(),
                ));
            }
            Ok(Ok(Some(chunk))) => chunk,
        };
        // Search only where the delimiter can newly appear (it may straddle two chunks).
        let from = buffer.len().saturating_sub(PRELUDE_DELIMITER.len() - 1);
        buffer.extend_from_slice(&chunk);
        if let Some(at) = find(&buffer[from..], &PRELUDE_DELIMITER).map(|i| i + from) {
            if at > PRELUDE_MAX_BYTES {
                break;
            }
            let rest = Bytes::copy_from_slice(&buffer[at + PRELUDE_DELIMITER.len()..]);
            return Ok((parse_prelude(&buffer[..at])?, rest));
        }
        if buffer.len() > PRELUDE_MAX_BYTES + PRELUDE_DELIMITER.len() {
            break;
        }
    }
    Err(PreludeError::Malformed(format!(
        "no metadata prelude delimiter within the first {PRELUDE_MAX_BYTES} bytes"
    )))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses the prelude's JSON as API Gateway reads it: `headers` values may be strings or (as
/// `lambda_runtime` writes repeated headers) arrays, `multiValueHeaders` adds values for names
/// `headers` does not have, and each of `cookies` becomes a `set-cookie` header.
pub fn parse_prelude(json: &[u8]) -> Result<Prelude, PreludeError> {
    let v: Value = serde_json::from_slice(json)
        .map_err(|e| PreludeError::Malformed(format!("the metadata prelude is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(PreludeError::Malformed(
            "the metadata prelude is not a JSON object".into(),
        ));
    }
    let status = match v.get("statusCode") {
        None | Some(Value::Null) => StatusCode::OK,
        Some(code) => code
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or_else(|| PreludeError::Malformed(format!("invalid statusCode {code}")))?,
    };
    let mut headers = Vec::new();
    let mut push = |name: &str, value: &Value| {
        let (Ok(name), Some(value)) = (HeaderName::try_from(name), value.as_str()) else {
            return;
        };
        // Framing is the gateway's business on a streamed response (always chunked).
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            return;
        }
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.push((name, value));
        }
    };
    let single = v.get("headers").and_then(Value::as_object);
    for (name, value) in single.into_iter().flatten() {
        match value {
            Value::Array(values) => values.iter().for_each(|x| push(name, x)),
            other => push(name, other),
        }
    }
    if let Some(multi) = v.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in multi {
            if single.is_some_and(|h| h.contains_key(name)) {
                continue;
            }
            for value in values.as_array().into_iter().flatten() {
                push(name, value);
            }
        }
    }
    for cookie in v
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push("set-cookie", cookie);
    }
    Ok(Prelude { status, headers })
}

/// The response head of a streamed response, with its payload as the body.
pub fn response(
    prelude: Prelude,
    first: Bytes,
    stream: ResponseStream,
    started: Instant,
    limits: StreamLimits,
    function: String,
) -> Response<StreamedBody> {
    let mut r = Response::new(StreamedBody::new(first, stream, started, limits, function));
    *r.status_mut() = prelude.status;
    for (name, value) in prelude.headers {
        r.headers_mut().append(name, value);
    }
    r
}

/// A streamed payload as an HTTP body: each chunk is a frame of its own (hyper writes and
/// flushes it as one HTTP/1.1 chunk while waiting for the next), under the stream's limits.
pub struct StreamedBody {
    first: Option<Bytes>,
    stream: ResponseStream,
    idle: Pin<Box<Sleep>>,
    total: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    function: String,
}

impl StreamedBody {
    pub fn new(
        first: Bytes,
        stream: ResponseStream,
        started: Instant,
        limits: StreamLimits,
        function: String,
    ) -> StreamedBody {
        let now = tokio::time::Instant::now();
        let total = tokio::time::Instant::from_std(started + limits.max_duration);
        StreamedBody {
            first: (!first.is_empty()).then_some(first),
            stream,
            idle: Box::pin(tokio::time::sleep_until(now + limits.idle_timeout)),
            total: Box::pin(tokio::time::sleep_until(total)),
            idle_timeout: limits.idle_timeout,
            function,
        }
    }

    fn cut(&self, why: String) -> Poll<Option<Result<Frame<Bytes>, StreamCut>>> {
        eprintln!("local-api: {}: response stream cut: {why}", self.function);
        Poll::Ready(Some(Err(StreamCut(why))))
    }
}

/// Why a streamed body ended early; hyper then closes the connection without the final chunk.
#[derive(Debug)]
pub struct StreamCut(pub String);

impl std::fmt::Display for StreamCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StreamCut {}

impl Body for StreamedBody {
    type Data = Bytes;
    type Error = StreamCut;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamCut>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        match self.stream.poll_next(cx) {
            Poll::Ready(Ok(Some(chunk))) => {
                let next_idle = tokio::time::Instant::now() + self.idle_timeout;
                self.idle.as_mut().reset(next_idle);
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            Poll::Ready(Ok(None)) => return Poll::Ready(None),
            Poll::Ready(Err(e)) => return self.cut(format!("the function failed: {e}")),
            Poll::Pending => {}
        }
        if self.total.as_mut().poll(cx).is_ready() {
            return self.cut("the stream reached API Gateway's maximum duration".into());
        }
        if self.idle.as_mut().poll(cx).is_ready() {
            return self.cut("the stream was idle for longer than API Gateway allows".into());
        }
        Poll::Pending
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prelude_gives_status_headers_and_cookies() {
        let p = parse_prelude(
            br#"{"statusCode":201,"headers":{"content-type":"text/event-stream","x-many":["a","b"],"content-length":"9"},
                 "multiValueHeaders":{"x-multi":["1","2"],"content-type":["ignored"]},
                 "cookies":["a=1; Path=/","b=2"]}"#,
        )
        .expect("a prelude");
        assert_eq!(p.status, StatusCode::CREATED);
        let got: Vec<(String, String)> = p
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().expect("ascii").to_owned()))
            .collect();
        let want = [
            ("content-type", "text/event-stream"),
            ("x-many", "a"),
            ("x-many", "b"),
            ("x-multi", "1"),
            ("x-multi", "2"),
            ("set-cookie", "a=1; Path=/"),
            ("set-cookie", "b=2"),
        ];
        assert_eq!(
            got,
            want.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
        );
    }

    #[test]
    fn a_bad_prelude_is_malformed() {
        assert!(matches!(
            parse_prelude(b"not json"),
            Err(PreludeError::Malformed(_))
        ));
        assert!(matches!(
            parse_prelude(br#"{"statusCode":99999}"#),
            Err(PreludeError::Malformed(_))
        ));
        assert_eq!(parse_prelude(b"{}").expect("ok").status, StatusCode::OK);
    }

    use crate::stream::{Item, channel};
    use http_body_util::BodyExt;

    fn limits(max_ms: u64, idle_ms: u64) -> StreamLimits {
        StreamLimits {
            max_duration: Duration::from_millis(max_ms),
            idle_timeout: Duration::from_millis(idle_ms),
        }
    }

    #[tokio::test]
    async fn the_prelude_must_come_within_16_kib() {
        let (tx, mut stream) = channel();
        tokio::spawn(async move {
            for _ in 0..20 {
                let chunk = Bytes::from(vec![b' '; 1024]);
                if tx.send(Item::Chunk(chunk)).await.is_err() {
                    return;
                }
            }
        });
        let got = read_prelude(&mut stream, Instant::now(), StreamLimits::default()).await;
        assert!(matches!(got, Err(PreludeError::Malformed(_))), "{got:?}");
    }

    #[tokio::test]
    async fn a_silent_function_gets_no_head() {
        let (_tx, mut stream) = channel();
        let got = read_prelude(&mut stream, Instant::now(), limits(1000, 50)).await;
        assert!(matches!(got, Err(PreludeError::TimedOut)), "{got:?}");
    }

    #[tokio::test]
    async fn an_idle_stream_is_cut() {
        let (tx, stream) = channel();
        tx.send(Item::Chunk(Bytes::from_static(b"data: 1\n\n")))
            .await
            .expect("send");
        let started = Instant::now();
        let mut body = StreamedBody::new(
            Bytes::new(),
            stream,
            started,
            limits(60_000, 100),
            "f".into(),
        );
        assert!(body.frame().await.expect("frame").is_ok());
        assert!(body.frame().await.expect("frame").is_err());
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
        drop(tx);
    }

    #[tokio::test]
    async fn a_stream_is_cut_at_its_maximum_duration_even_when_busy() {
        let (tx, stream) = channel();
        tokio::spawn(async move {
            loop {
                if tx
                    .send(Item::Chunk(Bytes::from_static(b".")))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let started = Instant::now();
        let mut body = StreamedBody::new(
            Bytes::from_static(b"first"),
            stream,
            started,
            limits(250, 100),
            "f".into(),
        );
        let mut frames = 0;
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
            frames += 1;
        }
        let waited = started.elapsed();
        assert!(frames > 5, "{frames} frames");
        assert!(
            waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }
}
