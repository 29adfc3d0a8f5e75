//! Response streaming through the local API with a real streaming function: the
//! `stream_fixture` example, built on `lambda_http::run_with_streaming_response` (what the
//! streaming summary function uses), run as a function process behind the emulator.
//!
//! `cargo test -p local-api` builds the example before running the tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use local_api::gateway::Gateway;
use local_api::runtime::FunctionHost;
use shared::routes::Function;
use tokio::net::{TcpListener, TcpStream};

fn fixture() -> PathBuf {
    // Tests run from target/<profile>/deps; examples are built into target/<profile>/examples.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = profile_dir.join("examples").join("stream_fixture");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo test -p local-api` (or `cargo build -p local-api --example stream_fixture`)",
        path.display()
    );
    path
}

struct Setup {
    host: Arc<FunctionHost>,
    gateway_addr: SocketAddr,
    mark: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.mark);
    }
}

async fn setup() -> Setup {
    let mark = std::env::temp_dir().join(format!(
        "local-api-stream-mark-{}",
        local_api::runtime::fresh_uuid()
    ));
    let env = vec![("STREAM_FIXTURE_MARK".to_owned(), mark.display().to_string())];
    let host = FunctionHost::bind("stream_fixture", fixture(), env, Duration::from_secs(29))
        .await
        .expect("bind");
    host.start().await.expect("start");
    host.wait_ready(Duration::from_secs(30))
        .await
        .expect("ready");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let gateway_addr = listener.local_addr().expect("addr");
    let gateway = Arc::new(Gateway {
        stage: "Prod".into(),
        functions: HashMap::from([(Function::Summarize, host.clone())]),
        auth: None,
    });
    tokio::spawn(gateway.serve(listener));
    Setup {
        host,
        gateway_addr,
        mark,
    }
}

async fn call(addr: SocketAddr, body: &str) -> Response<Incoming> {
    let sock = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(sock))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = Request::post("/Prod/v1/summarize")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    sender.send_request(req).await.expect("response head")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_one_by_one_from_a_real_streaming_function() {
    let s = setup().await;
    let t0 = Instant::now();
    let resp = call(s.gateway_addr, r#"{"chunks":4,"interval_ms":300}"#).await;
    let head_at = t0.elapsed();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["set-cookie"], "fixture=1");
    let mut body = resp.into_body();
    let mut arrivals = Vec::new();
    let mut text = String::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("a complete stream").into_data() {
            arrivals.push(t0.elapsed());
            text.push_str(std::str::from_utf8(&data).expect("utf-8"));
        }
    }
    assert_eq!(text, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n");
    assert!(head_at < arrivals[0], "head {head_at:?}, {arrivals:?}");
    assert!(
        head_at + Duration::from_millis(700) < t0.elapsed(),
        "head {head_at:?}"
    );
    assert_eq!(arrivals.len(), 4, "{arrivals:?}");
    assert!(
        arrivals[0] + Duration::from_millis(700) < arrivals[3],
        "{arrivals:?}"
    );
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnect_stops_a_real_streaming_function() {
    let s = setup().await;
    let resp = call(s.gateway_addr, r#"{"chunks":300,"interval_ms":100}"#).await;
    let mut body = resp.into_body();
    assert!(body.frame().await.expect("frame").expect("data").is_data());
    drop(body);
    let dropped = Instant::now();
    while !s.mark.is_file() {
        assert!(
            dropped.elapsed() < Duration::from_secs(10),
            "the function kept generating after the client went away"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The environment serves the next request (restarted if the runtime gave up on its
    // connection, as Lambda would start a new one).
    let resp = call(s.gateway_addr, r#"{"chunks":1,"interval_ms":10}"#).await;
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(body, "data: 0\n\n");
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_error_reaches_the_client_as_text_as_in_lambda() {
    // lambda_runtime 1.x reports a body error by writing the trailer text into the body instead
    // of sending trailers; Lambda passes it on, so the local API does too. This is why the
    // streaming function reports failures as an SSE `error` event instead of a body error.
    let s = setup().await;
    let resp = call(
        s.gateway_addr,
        r#"{"chunks":4,"interval_ms":50,"fail_after":1}"#,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with("data: 0\n\n"), "{text}");
    assert!(
        text.contains("Lambda-Runtime-Function-Error-Type: Runtime.StreamError"),
        "{text}"
    );
    s.host.stop().await;
}
