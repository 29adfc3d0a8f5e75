//! Response streaming end to end through the local API: a fake function speaks the Lambda
//! Runtime API over plain HTTP (raw sockets, so chunk boundaries, timing and trailers are exactly
//! what a runtime sends), and a real HTTP client calls the gateway.
//!
//! The host's process is a placeholder that only sleeps: the test itself plays the runtime.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use local_api::gateway::Gateway;
use local_api::runtime::{FunctionHost, InvokeResult};
use shared::routes::Function;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PRELUDE: &str = r#"{"statusCode":200,"headers":{"content-type":"text/event-stream","cache-control":"no-cache"},"cookies":["session=1"]}"#;

/// A function host whose process sleeps, and a gateway serving it on an ephemeral port.
struct Setup {
    host: Arc<FunctionHost>,
    gateway_addr: SocketAddr,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn setup(timeout: Duration) -> Setup {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!(
        "local-api-streaming-{}",
        local_api::runtime::fresh_uuid()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("bootstrap");
    std::fs::write(&script, "#!/bin/sh\nexec /bin/sleep 600\n").expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let host = FunctionHost::bind("summarize", script, Vec::new(), timeout)
        .await
        .expect("bind");
    host.start().await.expect("start");
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
        _dir: TempDir(dir),
    }
}

/// Reads one HTTP/1.1 response head (and a `content-length` body) from a raw socket.
async fn read_response(sock: &mut TcpStream) -> (u16, HashMap<String, String>, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = sock.read(&mut byte).await.expect("read head");
        assert!(n == 1, "connection closed inside a response head");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).expect("ascii head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body).await.expect("read body");
    (status, headers, body)
}

/// Plays the runtime's `GET /next`; returns the request id and the event.
async fn next_invocation(runtime: SocketAddr) -> (String, serde_json::Value) {
    let mut sock = TcpStream::connect(runtime).await.expect("connect");
    sock.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: runtime\r\n\r\n")
        .await
        .expect("write");
    let (status, headers, body) = read_response(&mut sock).await;
    assert_eq!(status, 200);
    let id = headers
        .get("lambda-runtime-aws-request-id")
        .expect("request id")
        .clone();
    (id, serde_json::from_slice(&body).expect("event"))
}

/// Opens the streamed `POST .../response` the way `lambda_runtime` does.
async fn start_stream(runtime: SocketAddr, id: &str) -> TcpStream {
    let mut sock = TcpStream::connect(runtime).await.expect("connect");
    let head = format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nhost: runtime\r\n\
         transfer-encoding: chunked\r\nlambda-runtime-function-response-mode: streaming\r\n\
         trailer: Lambda-Runtime-Function-Error-Type\r\ntrailer: Lambda-Runtime-Function-Error-Body\r\n\
         content-type: application/vnd.awslambda.http-integration-response\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.expect("write head");
    sock
}

async fn write_chunk(sock: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    sock.write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    sock.write_all(data).await?;
    sock.write_all(b"\r\n").await?;
    sock.flush().await
}

async fn write_prelude(sock: &mut TcpStream, prelude: &str) {
    write_chunk(sock, prelude.as_bytes())
        .await
        .expect("prelude");
    write_chunk(sock, &[0u8; 8]).await.expect("delimiter");
}

/// An HTTP/1.1 client connection to the gateway.
async fn call(addr: SocketAddr, body: &str) -> Response<Incoming> {
    let sock = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(sock))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = Request::post("/v1/summarize")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    sender.send_request(req).await.expect("response head")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_first_then_chunks_one_by_one() {
    let s = setup(Duration::from_secs(29)).await;
    let runtime = s.host.runtime_api_addr();
    let function = tokio::spawn(async move {
        let (id, event) = next_invocation(runtime).await;
        assert_eq!(event["path"], "/v1/summarize");
        let mut sock = start_stream(runtime, &id).await;
        write_prelude(&mut sock, PRELUDE).await;
        for i in 0..4 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            write_chunk(&mut sock, format!("data: {i}\n\n").as_bytes())
                .await
                .expect("chunk");
        }
        sock.write_all(b"0\r\n\r\n").await.expect("end");
        let (status, _, _) = read_response(&mut sock).await;
        status
    });

    let t0 = Instant::now();
    let resp = call(s.gateway_addr, r#"{"text":"x"}"#).await;
    let head_at = t0.elapsed();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert_eq!(resp.headers()["set-cookie"], "session=1");
    assert_eq!(resp.headers()["transfer-encoding"], "chunked");

    let mut body = resp.into_body();
    let mut arrivals = Vec::new();
    let mut text = String::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("a complete stream");
        if let Ok(data) = frame.into_data() {
            arrivals.push(t0.elapsed());
            text.push_str(std::str::from_utf8(&data).expect("utf-8"));
        }
    }
    let end = t0.elapsed();
    assert_eq!(text, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n");
    // (a) the head came before the payload: well before the last chunk was even written.
    assert!(
        head_at + Duration::from_millis(800) < end,
        "head at {head_at:?}, end at {end:?}"
    );
    // (b) each chunk came on its own, as written, ~300 ms apart.
    assert_eq!(arrivals.len(), 4, "arrivals {arrivals:?}");
    assert!(
        arrivals[0] + Duration::from_millis(700) < arrivals[3],
        "arrivals {arrivals:?}"
    );
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] > Duration::from_millis(150),
            "arrivals {arrivals:?}"
        );
    }
    assert_eq!(function.await.expect("function"), 202);
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mid_stream_error_ends_the_stream() {
    let s = setup(Duration::from_secs(29)).await;
    let runtime = s.host.runtime_api_addr();
    let function = tokio::spawn(async move {
        let (id, _) = next_invocation(runtime).await;
        let mut sock = start_stream(runtime, &id).await;
        write_prelude(&mut sock, PRELUDE).await;
        write_chunk(&mut sock, b"data: first\n\n")
            .await
            .expect("chunk");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let message = base64::engine::general_purpose::STANDARD.encode("the model went away");
        let trailers = format!(
            "0\r\nLambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n\
             Lambda-Runtime-Function-Error-Body: {message}\r\n\r\n"
        );
        sock.write_all(trailers.as_bytes()).await.expect("trailers");
        let (status, _, _) = read_response(&mut sock).await;
        status
    });

    let resp = call(s.gateway_addr, "{}").await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let first = body
        .frame()
        .await
        .expect("a frame")
        .expect("data")
        .into_data()
        .expect("data frame");
    assert_eq!(first, "data: first\n\n");
    // The stream ends for the client: cut short, without the final chunk of a complete one.
    let rest = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the stream ended promptly");
    assert!(
        matches!(rest, Some(Err(_))),
        "a cut stream, not a complete one: {rest:?}"
    );
    assert_eq!(function.await.expect("function"), 202);
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnect_closes_the_functions_stream() {
    let s = setup(Duration::from_secs(29)).await;
    let runtime = s.host.runtime_api_addr();
    let function = tokio::spawn(async move {
        let (id, _) = next_invocation(runtime).await;
        let mut sock = start_stream(runtime, &id).await;
        write_prelude(&mut sock, PRELUDE).await;
        // Generates for up to 20 s unless its writes start failing.
        let started = Instant::now();
        for i in 0..200 {
            let chunk = format!("data: {i} {}\n\n", "x".repeat(1000));
            if write_chunk(&mut sock, chunk.as_bytes()).await.is_err() {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    });

    let resp = call(s.gateway_addr, "{}").await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let first = body.frame().await.expect("a frame").expect("data");
    assert!(first.is_data());
    let dropped_at = Instant::now();
    drop(body);

    let stopped = tokio::time::timeout(Duration::from_secs(15), function)
        .await
        .expect("the function finished")
        .expect("function task");
    let Some(_) = stopped else {
        panic!("the function wrote its whole stream: nobody closed its connection");
    };
    assert!(
        dropped_at.elapsed() < Duration::from_secs(5),
        "the function noticed only after {:?}",
        dropped_at.elapsed()
    );

    // The environment is usable again: the next invocation is served.
    let again = tokio::spawn(async move {
        let (id, _) = next_invocation(runtime).await;
        let mut sock = start_stream(runtime, &id).await;
        write_prelude(&mut sock, PRELUDE).await;
        write_chunk(&mut sock, b"data: again\n\n")
            .await
            .expect("chunk");
        sock.write_all(b"0\r\n\r\n").await.expect("end");
        read_response(&mut sock).await.0
    });
    let resp = call(s.gateway_addr, "{}").await;
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(body, "data: again\n\n");
    assert_eq!(again.await.expect("function"), 202);
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_responses_are_unchanged() {
    let s = setup(Duration::from_secs(29)).await;
    let runtime = s.host.runtime_api_addr();
    let answer = serde_json::json!({
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-request-id": "r1"},
        "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},
        "body": "{\"ok\":true}",
        "isBase64Encoded": false,
    })
    .to_string();
    let function = tokio::spawn(async move {
        for _ in 0..2 {
            let (id, _) = next_invocation(runtime).await;
            let mut sock = TcpStream::connect(runtime).await.expect("connect");
            let req = format!(
                "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nhost: runtime\r\n\
                 content-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            sock.write_all(req.as_bytes()).await.expect("write");
            assert_eq!(read_response(&mut sock).await.0, 202);
        }
    });

    let resp = call(s.gateway_addr, "{}").await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["x-request-id"], "r1");
    let cookies: Vec<_> = resp.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(resp.headers()["content-length"], "11");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(body, "{\"ok\":true}");

    // The direct (buffered) invocation API is unchanged too.
    match s.host.invoke(Bytes::from_static(b"{}")).await {
        InvokeResult::Response(bytes) => {
            let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            assert_eq!(v["statusCode"], 201);
        }
        InvokeResult::Error(e) => panic!("unexpected error {e}"),
    }
    function.await.expect("function");
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_invoke_of_a_streaming_function_collects_the_stream() {
    let s = setup(Duration::from_secs(29)).await;
    let runtime = s.host.runtime_api_addr();
    let function = tokio::spawn(async move {
        let (id, _) = next_invocation(runtime).await;
        let mut sock = start_stream(runtime, &id).await;
        write_prelude(&mut sock, PRELUDE).await;
        write_chunk(&mut sock, b"data: a\n\n").await.expect("chunk");
        sock.write_all(b"0\r\n\r\n").await.expect("end");
        read_response(&mut sock).await.0
    });
    match s.host.invoke(Bytes::from_static(b"{}")).await {
        InvokeResult::Response(bytes) => {
            let mut want = PRELUDE.as_bytes().to_vec();
            want.extend_from_slice(&[0u8; 8]);
            want.extend_from_slice(b"data: a\n\n");
            assert_eq!(bytes, want);
        }
        InvokeResult::Error(e) => panic!("unexpected error {e}"),
    }
    assert_eq!(function.await.expect("function"), 202);
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_prelude_is_a_502_and_the_29s_limit_does_not_cut_a_stream() {
    // A 1 s function timeout stands in for the 29 s one: it bounds the wait for the response to
    // begin, not the stream.
    let s = setup(Duration::from_secs(1)).await;
    let runtime = s.host.runtime_api_addr();
    let function = tokio::spawn(async move {
        let (id, _) = next_invocation(runtime).await;
        let mut sock = start_stream(runtime, &id).await;
        write_chunk(&mut sock, b"no prelude here, just text")
            .await
            .expect("chunk");
        sock.write_all(b"0\r\n\r\n").await.expect("end");
        assert_eq!(read_response(&mut sock).await.0, 202);

        let (id, _) = next_invocation(runtime).await;
        let mut sock = start_stream(runtime, &id).await;
        // The prelude and the first bytes in one chunk, the delimiter split across two.
        let mut first = PRELUDE.as_bytes().to_vec();
        first.extend_from_slice(&[0u8; 3]);
        write_chunk(&mut sock, &first).await.expect("chunk");
        let mut second = vec![0u8; 5];
        second.extend_from_slice(b"data: 0\n\n");
        write_chunk(&mut sock, &second).await.expect("chunk");
        for i in 1..4 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            write_chunk(&mut sock, format!("data: {i}\n\n").as_bytes())
                .await
                .expect("chunk");
        }
        sock.write_all(b"0\r\n\r\n").await.expect("end");
        read_response(&mut sock).await.0
    });

    let resp = call(s.gateway_addr, "{}").await;
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");

    let resp = call(s.gateway_addr, "{}").await;
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.expect("a complete stream");
    assert_eq!(
        body.to_bytes(),
        "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n"
    );
    assert_eq!(function.await.expect("function"), 202);
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_function_loses_its_connection_as_soon_as_the_client_goes() {
    let s = setup(Duration::from_secs(29)).await;
    let runtime = s.host.runtime_api_addr();
    let function = tokio::spawn(async move {
        let (id, _) = next_invocation(runtime).await;
        let mut sock = start_stream(runtime, &id).await;
        write_prelude(&mut sock, PRELUDE).await;
        write_chunk(&mut sock, b"data: thinking\n\n")
            .await
            .expect("chunk");
        // Silent now (a slow model): the emulator answers and closes without waiting for a write.
        let (status, headers, _) = read_response(&mut sock).await;
        let mut rest = Vec::new();
        let _ = sock.read_to_end(&mut rest).await;
        (status, headers.get("connection").cloned())
    });
    let resp = call(s.gateway_addr, "{}").await;
    let mut body = resp.into_body();
    assert!(body.frame().await.expect("frame").expect("data").is_data());
    let dropped = Instant::now();
    drop(body);
    let (status, connection) = tokio::time::timeout(Duration::from_secs(5), function)
        .await
        .expect("the function's connection was closed promptly")
        .expect("function task");
    assert_eq!(status, 410);
    assert_eq!(connection.as_deref(), Some("close"));
    assert!(dropped.elapsed() < Duration::from_secs(2));
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_dies_mid_stream_cuts_the_stream() {
    let s = setup(Duration::from_secs(29)).await;
    let runtime = s.host.runtime_api_addr();
    let function = tokio::spawn(async move {
        let (id, _) = next_invocation(runtime).await;
        let mut sock = start_stream(runtime, &id).await;
        write_prelude(&mut sock, PRELUDE).await;
        write_chunk(&mut sock, b"data: 0\n\n").await.expect("chunk");
        tokio::time::sleep(Duration::from_millis(200)).await;
        // A crash: the connection closes inside the chunked body.
        drop(sock);
    });
    let resp = call(s.gateway_addr, "{}").await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let first = body.frame().await.expect("frame").expect("data");
    assert_eq!(first.into_data().expect("data"), "data: 0\n\n");
    let rest = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the stream ended promptly");
    assert!(matches!(rest, Some(Err(_))), "a cut stream: {rest:?}");
    function.await.expect("function");
    s.host.stop().await;
}
