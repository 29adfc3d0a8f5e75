//! A streamed invocation response on its way from the function to whoever invoked it.
//!
//! This module owns the hand-over between the Runtime API emulator and the caller: the emulator
//! reads the function's chunked `POST .../response` (sent with
//! `Lambda-Runtime-Function-Response-Mode: streaming`) frame by frame and pushes each body chunk
//! into a small bounded channel; the caller pulls them out of a [`ResponseStream`]. Nothing
//! buffers the whole body: when the caller is slower than the function, the channel fills, the
//! emulator stops reading, and TCP flow control holds the function back, as in Lambda.
//!
//! How a stream ends is explicit, so that a complete stream can be told from a cut one:
//! - complete: the function finished its chunked body without error trailers;
//! - failed: the function reported an error mid-stream (the `Lambda-Runtime-Function-Error-Type`
//!   and `Lambda-Runtime-Function-Error-Body` trailers), or its connection broke (a crash);
//! - abandoned: the caller dropped its [`ResponseStream`] (the HTTP client went away, or a limit
//!   ran out); the emulator then stops reading and closes the function's connection, so the
//!   function's next write fails and it can stop generating.

use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http_body_util::BodyExt;
use hyper::HeaderMap;
use hyper::body::{Bytes, Incoming};
use tokio::sync::mpsc;

/// How many body chunks may wait between the function and the caller. Small on purpose: it is
/// what makes a slow client slow the function down instead of filling memory.
pub const STREAM_BUFFER_CHUNKS: usize = 8;

/// The trailer naming the error a runtime reports mid-stream (Lambda's custom runtime API).
pub const ERROR_TYPE_TRAILER: &str = "lambda-runtime-function-error-type";
/// The trailer carrying that error's details, base64-encoded.
pub const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";

/// Why a streamed response ended before it was complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// The runtime's error type (`Runtime.StreamError`, ...), or the emulator's own
    /// `Runtime.ConnectionLost` when the function's connection broke.
    pub error_type: String,
    /// The error body, decoded from base64 when it was encoded.
    pub message: String,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for StreamError {}

pub(crate) enum Item {
    Chunk(Bytes),
    Complete,
    Failed(StreamError),
}

/// The caller's end of a streamed response: the body bytes exactly as the function wrote them
/// (for an API Gateway function: the metadata prelude, 8 NUL bytes, then the payload).
/// Dropping it abandons the stream.
pub struct ResponseStream {
    rx: mpsc::Receiver<Item>,
    ended: bool,
}

impl ResponseStream {
    /// The next chunk; `Ok(None)` once the function completed the stream.
    pub async fn next(&mut self) -> Result<Option<Bytes>, StreamError> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// [`ResponseStream::next`] for poll-based consumers (an HTTP body).
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, StreamError>> {
        if self.ended {
            return Poll::Ready(Ok(None));
        }
        let item = match self.rx.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        Poll::Ready(match item {
            Some(Item::Chunk(bytes)) => Ok(Some(bytes)),
            Some(Item::Complete) => {
                self.ended = true;
                Ok(None)
            }
            Some(Item::Failed(e)) => {
                self.ended = true;
                Err(e)
            }
            // The emulator's reader went away without saying how the stream ended.
            None => {
                self.ended = true;
                Err(StreamError {
                    error_type: "Runtime.ConnectionLost".into(),
                    message: "the response stream ended without completing".into(),
                })
            }
        })
    }

    /// Reads the whole stream into one buffer, as Lambda's (buffered) `Invoke` API does when it
    /// invokes a function that streams.
    pub async fn collect(mut self) -> Result<Bytes, StreamError> {
        let mut all = Vec::new();
        while let Some(chunk) = self.next().await? {
            all.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(all))
    }
}

/// A [`ResponseStream`] and the sender that feeds it.
pub(crate) fn channel() -> (mpsc::Sender<Item>, ResponseStream) {
    let (tx, rx) = mpsc::channel(STREAM_BUFFER_CHUNKS);
    (tx, ResponseStream { rx, ended: false })
}

/// How reading a function's streamed body ended, from the emulator's side.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pumped {
    Complete,
    /// The function reported an error in trailers (the caller has been told).
    Reported(StreamError),
    /// The function's connection broke mid-body (the caller has been told).
    Broken(StreamError),
    /// The caller dropped its end; the rest of the body was left unread.
    Abandoned,
}

/// Moves the function's chunked body into the channel, one frame at a time, until it ends or the
/// caller goes away.
pub(crate) async fn pump(mut body: Incoming, tx: mpsc::Sender<Item>) -> Pumped {
    let mut warned_inline_trailer = false;
    loop {
        // A caller that goes away is noticed at once, not only at the function's next write, so
        // a function that is quiet for a while (waiting on a model) loses its connection too.
        let next = tokio::select! {
            next = body.frame() => next,
            () = tx.closed() => return Pumped::Abandoned,
        };
        let frame = match next {
            None => {
                return finish(&tx, Item::Complete, Pumped::Complete).await;
            }
            Some(Err(e)) => {
                let error = StreamError {
                    error_type: "Runtime.ConnectionLost".into(),
                    message: format!("the function's response stream broke off: {e}"),
                };
                return finish(&tx, Item::Failed(error.clone()), Pumped::Broken(error)).await;
            }
            Some(Ok(frame)) => frame,
        };
        let frame = match frame.into_data() {
            Ok(data) => {
                // The Rust runtime (lambda_runtime 1.x) writes its mid-stream error report as
                // body text instead of trailers; Lambda passes such text on to the client, so it
                // is forwarded unchanged, but said once in the log because it is not payload.
                if !warned_inline_trailer && looks_like_inline_error(&data) {
                    warned_inline_trailer = true;
                    eprintln!(
                        "local-api: the function wrote an error report into its response body (it reaches the client, as in Lambda): {}",
                        String::from_utf8_lossy(&data).trim_end()
                    );
                }
                if data.is_empty() {
                    continue;
                }
                if tx.send(Item::Chunk(data)).await.is_err() {
                    return Pumped::Abandoned;
                }
                continue;
            }
            Err(frame) => frame,
        };
        if let Ok(trailers) = frame.into_trailers() {
            match error_from_trailers(&trailers) {
                Some(error) => {
                    return finish(&tx, Item::Failed(error.clone()), Pumped::Reported(error)).await;
                }
                None => return finish(&tx, Item::Complete, Pumped::Complete).await,
            }
        }
    }
}

async fn finish(tx: &mpsc::Sender<Item>, item: Item, outcome: Pumped) -> Pumped {
    if tx.send(item).await.is_err() {
        return Pumped::Abandoned;
    }
    outcome
}

/// The error a runtime reported in the stream's trailers, if any.
pub(crate) fn error_from_trailers(trailers: &HeaderMap) -> Option<StreamError> {
    let error_type = trailers.get(ERROR_TYPE_TRAILER)?;
    let error_type = String::from_utf8_lossy(error_type.as_bytes())
        .trim()
        .to_owned();
    let body = trailers
        .get(ERROR_BODY_TRAILER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    // Lambda documents the body as base64; a runtime that sends it plain is still understood.
    let message = match BASE64.decode(body) {
        Ok(decoded) => String::from_utf8_lossy(&decoded).into_owned(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    Some(StreamError {
        error_type,
        message,
    })
}

fn looks_like_inline_error(data: &[u8]) -> bool {
    data.len() >= ERROR_TYPE_TRAILER.len()
        && data[..ERROR_TYPE_TRAILER.len()].eq_ignore_ascii_case(ERROR_TYPE_TRAILER.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_decode_base64_and_plain_bodies() {
        let mut t = HeaderMap::new();
        t.insert(
            ERROR_TYPE_TRAILER,
            "Runtime.StreamError".parse().expect("value"),
        );
        t.insert(
            ERROR_BODY_TRAILER,
            BASE64.encode("model went away").parse().expect("value"),
        );
        let e = error_from_trailers(&t).expect("an error");
        assert_eq!(e.error_type, "Runtime.StreamError");
        assert_eq!(e.message, "model went away");

        t.insert(ERROR_BODY_TRAILER, "not base64!".parse().expect("value"));
        assert_eq!(
            error_from_trailers(&t).expect("an error").message,
            "not base64!"
        );
        assert_eq!(error_from_trailers(&HeaderMap::new()), None);
    }

    #[test]
    fn the_rust_runtimes_inline_error_text_is_recognised() {
        assert!(looks_like_inline_error(
            b"Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\nLambda-Runtime-Function-Error-Body: eA==\r\n"
        ));
        assert!(!looks_like_inline_error(b"data: hello\n\n"));
    }

    #[tokio::test]
    async fn a_stream_tells_complete_from_cut() {
        let (tx, mut stream) = channel();
        tx.send(Item::Chunk(Bytes::from_static(b"a")))
            .await
            .expect("send");
        tx.send(Item::Complete).await.expect("send");
        assert_eq!(stream.next().await, Ok(Some(Bytes::from_static(b"a"))));
        assert_eq!(stream.next().await, Ok(None));

        let (tx, mut stream) = channel();
        tx.send(Item::Chunk(Bytes::from_static(b"a")))
            .await
            .expect("send");
        drop(tx);
        assert!(stream.next().await.is_ok());
        assert!(stream.next().await.is_err());
    }
}
