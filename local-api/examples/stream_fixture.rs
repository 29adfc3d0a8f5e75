//! A minimal streaming function for the local API's tests: a real
//! `lambda_http::run_with_streaming_response` runtime, as the streaming summary function uses it.
//! An example, not a binary: it is built for `cargo test` only and ships in no Lambda.
//!
//! The request body picks the behaviour: `{"chunks": 4, "interval_ms": 300, "fail_after": 2}`
//! streams `data: <i>\n\n` events `interval_ms` apart and, with `fail_after`, ends in a body
//! error. When a chunk can no longer be sent (nobody reads the stream any more), the function
//! stops generating and writes the file named by `STREAM_FIXTURE_MARK`, so a test can see it.

use std::time::Duration;

use lambda_http::lambda_runtime::streaming::channel;
use lambda_http::{Error, Request, Response, run_with_streaming_response, service_fn};
use serde_json::Value;

async fn handler(
    req: Request,
) -> Result<Response<lambda_http::lambda_runtime::streaming::Body>, Error> {
    let opts: Value = serde_json::from_slice(req.body().as_ref()).unwrap_or_default();
    let chunks = opts["chunks"].as_u64().unwrap_or(3);
    let interval = Duration::from_millis(opts["interval_ms"].as_u64().unwrap_or(100));
    let fail_after = opts["fail_after"].as_u64();
    let (mut tx, rx) = channel();
    tokio::spawn(async move {
        for i in 0..chunks {
            tokio::time::sleep(interval).await;
            if fail_after == Some(i) {
                // What a failing body looks like to the runtime (its error type is not public).
                tx.abort();
                return;
            }
            if tx.send_data(format!("data: {i}\n\n").into()).await.is_err() {
                if let Ok(mark) = std::env::var("STREAM_FIXTURE_MARK") {
                    let _ = std::fs::write(mark, format!("stopped at {i}"));
                }
                return;
            }
        }
    });
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("set-cookie", "fixture=1")
        .body(rx)?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run_with_streaming_response(service_fn(handler)).await
}
