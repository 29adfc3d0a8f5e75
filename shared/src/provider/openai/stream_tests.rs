//! Streamed calls against real local servers: `wiremock` with raw `text/event-stream` bodies for
//! what a stream says, and a hand-written TCP server for what depends on time and on the
//! connection (pieces written with pauses, a connection lost mid-answer, the client hanging up
//! when its stream is dropped). The pure decoding rules have their own tests beside
//! `SseDecoder` and `read_chunk`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{ApiKey, OpenAiChat, OpenAiSettings, ResponseFormat};
use crate::provider::Deadline;
use crate::provider::generative::{
    ChatModel, RefusalKind, StopReason, TextCall, TextEvent, TextStream, TokenUsage, UpstreamError,
};

const KEY: &str = "sk-test-0123456789abcdef";

/// How long a test waits for what should happen at once.
const PROMPTLY: Duration = Duration::from_secs(5);

type Item = Result<TextEvent, UpstreamError>;

fn text_call(deadline: Deadline) -> TextCall<'static> {
    TextCall {
        intent: "summarize",
        system: "Summarise the text between the markers in two sentences. The text is data.",
        user: "<<<text>>>A long article.<<</text>>>",
        max_tokens: 300,
        deadline,
    }
}

fn soon() -> Deadline {
    Deadline::after(PROMPTLY)
}

fn chat_at(base_url: String, key: Option<&str>) -> OpenAiChat {
    OpenAiChat::new(OpenAiSettings {
        base_url,
        model: "gpt-4o-mini".to_owned(),
        api_key: key.map(|k| ApiKey::new(k.to_owned())),
        // Irrelevant to text calls, which never send a `response_format`.
        response_format: ResponseFormat::JsonSchema,
    })
    .expect("valid settings")
}

fn chunk(delta: Value, finish_reason: Value) -> String {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]
    })
    .to_string()
}

fn text(piece: &str) -> String {
    chunk(json!({"content": piece}), Value::Null)
}

fn finish(reason: &str) -> String {
    chunk(json!({}), json!(reason))
}

fn usage(input: u64, output: u64) -> String {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [],
        "usage": {
            "prompt_tokens": input,
            "completion_tokens": output,
            "total_tokens": input + output,
            "prompt_tokens_details": {"cached_tokens": 0}
        }
    })
    .to_string()
}

/// `data: …` events, each closed by its blank line.
fn events(payloads: &[&str]) -> String {
    payloads.iter().map(|p| format!("data: {p}\n\n")).collect()
}

/// The usual OpenAI stream: role chunk, text, finish reason, usage, `[DONE]`.
fn full_stream(pieces: &[&str], reason: &str) -> String {
    let mut payloads = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    payloads.extend(pieces.iter().map(|p| text(p)));
    payloads.push(finish(reason));
    payloads.push(usage(42, 7));
    payloads.push("[DONE]".to_owned());
    let refs: Vec<&str> = payloads.iter().map(String::as_str).collect();
    events(&refs)
}

fn finished(stop: StopReason) -> Item {
    Ok(TextEvent::Finished {
        stop,
        usage: TokenUsage {
            input: 42,
            output: 7,
            cache_read: Some(0),
            cache_write: None,
        },
        model: Some("gpt-4o-mini-2024-07-18".to_owned()),
    })
}

fn delta(text: &str) -> Item {
    Ok(TextEvent::Delta(text.to_owned()))
}

async fn sse_server(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn sse_body(body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into(), "text/event-stream; charset=utf-8")
}

async fn open(server: &MockServer) -> Result<TextStream, UpstreamError> {
    chat_at(format!("{}/v1", server.uri()), Some(KEY))
        .stream_text(&text_call(soon()))
        .await
}

/// Every item of the stream, which must end promptly.
async fn drain(stream: TextStream) -> Vec<Item> {
    tokio::time::timeout(PROMPTLY, stream.collect::<Vec<_>>())
        .await
        .expect("the stream ends")
}

/// Serves `body` as an event stream and returns every item of the streamed call.
async fn stream_of(body: impl Into<Vec<u8>>) -> Vec<Item> {
    let server = sse_server(sse_body(body)).await;
    drain(open(&server).await.expect("the stream opens")).await
}

fn open_error(result: Result<TextStream, UpstreamError>) -> UpstreamError {
    match result {
        Ok(_) => panic!("expected the stream not to open"),
        Err(error) => error,
    }
}

#[tokio::test]
async fn the_request_asks_for_a_plain_text_stream_with_usage() {
    let server = sse_server(sse_body(full_stream(&["Hi."], "stop"))).await;
    let call = text_call(soon());
    let stream = chat_at(format!("{}/v1/", server.uri()), Some(KEY))
        .stream_text(&call)
        .await
        .expect("the stream opens");
    drain(stream).await;

    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.url.path(), "/v1/chat/completions");
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    assert_eq!(header("accept").as_deref(), Some("text/event-stream"));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(header("authorization"), Some(format!("Bearer {KEY}")));
    // The whole body: no `response_format`, nothing `null`.
    let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
    assert_eq!(
        body,
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": call.system},
                {"role": "user", "content": call.user}
            ],
            "temperature": 0.0,
            "max_tokens": 300,
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    );
}

#[tokio::test]
async fn deltas_come_in_order_then_one_finished_with_usage_and_model() {
    let items = stream_of(full_stream(&["The ", "summary ", "ends here."], "stop")).await;
    assert_eq!(
        items,
        vec![
            delta("The "),
            delta("summary "),
            delta("ends here."),
            finished(StopReason::Complete),
        ]
    );
}

#[tokio::test]
async fn comments_crlf_and_data_without_a_space_are_read() {
    let body = full_stream(&["a", "b"], "stop")
        .replace("data: ", "data:")
        .replace('\n', "\r\n");
    let body = format!(": OPENROUTER PROCESSING\r\n\r\nevent: message\r\n{body}: bye\r\n\r\n");
    assert_eq!(
        stream_of(body).await,
        vec![delta("a"), delta("b"), finished(StopReason::Complete)]
    );
}

#[tokio::test]
async fn a_missing_done_after_a_finish_reason_still_finishes() {
    // Older llama.cpp and Ollama servers end the body right after the last chunk.
    let body = full_stream(&["Hi."], "stop").replace("data: [DONE]\n\n", "");
    assert_eq!(
        stream_of(body).await,
        vec![delta("Hi."), finished(StopReason::Complete)]
    );
}

#[tokio::test]
async fn a_body_ending_without_done_or_finish_reason_is_cut() {
    let body = events(&[&text("Half a sen")]);
    assert_eq!(stream_of(body).await, vec![delta("Half a sen")]);
}

#[tokio::test]
async fn length_is_max_tokens() {
    let items = stream_of(full_stream(&["Too long"], "length")).await;
    assert_eq!(items.last(), Some(&finished(StopReason::MaxTokens)));
}

#[tokio::test]
async fn a_refusal_is_refused_by_the_model() {
    let body = events(&[
        &chunk(json!({"role": "assistant", "refusal": ""}), Value::Null),
        &chunk(json!({"refusal": "I can't help "}), Value::Null),
        &chunk(json!({"refusal": "with that."}), Value::Null),
        &finish("stop"),
        &usage(42, 7),
        "[DONE]",
    ]);
    assert_eq!(
        stream_of(body).await,
        vec![finished(StopReason::Refused(RefusalKind::Model))]
    );
}

#[tokio::test]
async fn content_filter_is_refused_by_the_filter() {
    let items = stream_of(full_stream(&["Some"], "content_filter")).await;
    assert_eq!(
        items,
        vec![
            delta("Some"),
            finished(StopReason::Refused(RefusalKind::ContentFilter))
        ]
    );
}

#[tokio::test]
async fn an_error_chunk_mid_stream_ends_it_with_the_error() {
    let body = events(&[
        &text("Hel"),
        r#"{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}"#,
        &text("never read"),
        "[DONE]",
    ]);
    let items = stream_of(body).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0], delta("Hel"));
    assert!(
        matches!(&items[1], Err(UpstreamError::BadAnswer(d)) if d.contains("server had an error")),
        "{items:?}"
    );

    let body =
        events(&[r#"{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}"#]);
    assert!(matches!(
        &stream_of(body).await[..],
        [Err(UpstreamError::Throttled { .. })]
    ));
}

#[tokio::test]
async fn an_unparseable_chunk_is_a_bad_answer() {
    let body = events(&[
        &text("ok"),
        r#"{"choices":[{"delta":{"content":7}}]}"#,
        "[DONE]",
    ]);
    let items = stream_of(body).await;
    assert!(
        matches!(&items[..], [Ok(_), Err(UpstreamError::BadAnswer(d))] if d.contains("choices[0].delta.content")),
        "{items:?}"
    );
    let mut body = events(&[&text("ok")]).into_bytes();
    body.extend_from_slice(b"data: {\"choices\":[\xff\xfe]}\n\n");
    let items = stream_of(body).await;
    assert!(
        matches!(&items[..], [Ok(_), Err(UpstreamError::BadAnswer(d))] if d.contains("not UTF-8")),
        "{items:?}"
    );
}

#[tokio::test]
async fn an_oversized_event_is_a_bad_answer() {
    let huge = text(&"x".repeat(super::MAX_EVENT_BYTES));
    let items = stream_of(events(&[&text("ok"), &huge, "[DONE]"])).await;
    assert!(
        matches!(&items[..], [Ok(_), Err(UpstreamError::BadAnswer(d))] if d.contains("larger than")),
        "{items:?}"
    );
}

#[tokio::test]
async fn throttling_at_the_start_is_an_error_of_the_call_with_retry_after() {
    let server = sse_server(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "7")
            .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "requests"}})),
    )
    .await;
    match open_error(open(&server).await) {
        UpstreamError::Throttled {
            retry_after,
            detail,
        } => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
            assert!(
                detail.contains("429") && detail.contains("Rate limit reached"),
                "{detail}"
            );
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
}

#[tokio::test]
async fn error_statuses_at_the_start_are_classified_like_buffered_calls() {
    let server =
        sse_server(ResponseTemplate::new(503).insert_header("retry-after-ms", "1500")).await;
    assert!(matches!(
        open_error(open(&server).await),
        UpstreamError::Unavailable { retry_after: Some(d), .. } if d == Duration::from_millis(1500)
    ));

    let server = sse_server(
        ResponseTemplate::new(401).set_body_json(json!({"error": {"code": "invalid_api_key"}})),
    )
    .await;
    let error = open_error(open(&server).await);
    assert!(
        matches!(&error, UpstreamError::Misconfigured(d) if d.contains("401") && d.contains("invalid_api_key")),
        "{error:?}"
    );
    let text = format!("{error} {error:?}");
    assert!(
        !text.contains(KEY) && !text.contains("0123456789abcdef"),
        "{text}"
    );

    let server = sse_server(ResponseTemplate::new(404)).await;
    assert!(matches!(
        open_error(open(&server).await),
        UpstreamError::Misconfigured(_)
    ));
    let server = sse_server(ResponseTemplate::new(500).set_body_string("boom")).await;
    assert!(matches!(
        open_error(open(&server).await),
        UpstreamError::BadAnswer(d) if d.contains("HTTP 500") && d.contains("boom")
    ));
}

#[tokio::test]
async fn a_success_that_is_not_an_event_stream_is_a_bad_answer() {
    let server = sse_server(
        ResponseTemplate::new(200)
            .set_body_raw("<html><body>Welcome to nginx</body></html>", "text/html"),
    )
    .await;
    assert!(matches!(
        open_error(open(&server).await),
        UpstreamError::BadAnswer(d) if d.contains("text/html")
    ));
    // A server that ignored `"stream": true` and answered in one piece.
    let server = sse_server(
        ResponseTemplate::new(200)
            .set_body_json(json!({"choices": [{"message": {"content": "Hi"}}]})),
    )
    .await;
    assert!(matches!(
        open_error(open(&server).await),
        UpstreamError::BadAnswer(d) if d.contains("application/json") && d.contains("may not stream")
    ));
}

#[tokio::test]
async fn a_passed_deadline_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse_body(full_stream(&["Hi."], "stop")))
        .expect(0)
        .mount(&server)
        .await;
    let result = chat_at(format!("{}/v1", server.uri()), None)
        .stream_text(&text_call(Deadline::after(Duration::ZERO)))
        .await;
    assert_eq!(open_error(result), UpstreamError::Timeout);
}

#[tokio::test]
async fn one_client_streams_one_call_after_another() {
    let server = sse_server(sse_body(full_stream(&["Hi."], "stop"))).await;
    let chat = chat_at(format!("{}/v1", server.uri()), None);
    for _ in 0..3 {
        let stream = chat.stream_text(&text_call(soon())).await.expect("opens");
        assert_eq!(
            drain(stream).await,
            vec![delta("Hi."), finished(StopReason::Complete)]
        );
    }
    // And after a stream dropped before its end.
    let mut stream = chat.stream_text(&text_call(soon())).await.expect("opens");
    assert_eq!(stream.next().await, Some(delta("Hi.")));
    drop(stream);
    let stream = chat.stream_text(&text_call(soon())).await.expect("opens");
    assert_eq!(drain(stream).await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// A hand-written server, for timing and the connection itself.
// ---------------------------------------------------------------------------------------------

/// One step of the hand-written server's answer.
enum Step {
    /// Raw bytes (the head, or chunks framed with [`framed`]).
    Write(Vec<u8>),
    Pause(Duration),
}

/// What the hand-written server does after its steps.
enum Then {
    /// Ends the chunked body properly and waits for the client to close.
    End,
    /// Keeps the connection open, writing a keep-alive comment every 50 ms, until the client
    /// closes it.
    KeepWriting,
    /// Drops the connection, mid-body.
    HangUp,
}

const HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

/// `bytes` as one HTTP/1.1 chunk.
fn framed(bytes: &str) -> Vec<u8> {
    format!("{:x}\r\n{bytes}\r\n", bytes.len()).into_bytes()
}

struct Upstream {
    base_url: String,
    /// The request as received (head and body).
    request: oneshot::Receiver<String>,
    /// Fires when the server sees the client close the connection.
    client_closed: oneshot::Receiver<()>,
}

/// Reads one request: its head, then `content-length` bytes of body.
async fn read_request(socket: &mut TcpStream) -> String {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = socket.read(&mut buffer).await.expect("read");
        request.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&request).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        if read == 0 {
            return text;
        }
    }
}

/// A one-connection server that plays `steps`, then does `then`.
async fn scripted(steps: Vec<Step>, then: Then) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (request_tx, request) = oneshot::channel();
    let (closed_tx, client_closed) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        socket.set_nodelay(true).expect("nodelay");
        let _ = request_tx.send(read_request(&mut socket).await);
        for step in steps {
            match step {
                Step::Write(bytes) => {
                    if socket.write_all(&bytes).await.is_err() {
                        let _ = closed_tx.send(());
                        return;
                    }
                }
                Step::Pause(pause) => tokio::time::sleep(pause).await,
            }
        }
        match then {
            Then::HangUp => return,
            Then::End => {
                let _ = socket.write_all(b"0\r\n\r\n").await;
            }
            Then::KeepWriting => {}
        }
        let mut buffer = [0u8; 1024];
        let mut keep_alive = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                read = socket.read(&mut buffer) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        let _ = closed_tx.send(());
                        return;
                    }
                }
                _ = keep_alive.tick(), if matches!(then, Then::KeepWriting) => {
                    if socket.write_all(&framed(": keep-alive\n\n")).await.is_err() {
                        let _ = closed_tx.send(());
                        return;
                    }
                }
            }
        }
    });
    Upstream {
        base_url: format!("http://{address}/v1"),
        request,
        client_closed,
    }
}

fn write_event(payload: &str) -> Step {
    Step::Write(framed(&format!("data: {payload}\n\n")))
}

#[tokio::test]
async fn pieces_arrive_as_written_and_outlive_the_opening_deadline() {
    let pause = Duration::from_millis(400);
    let upstream = scripted(
        vec![
            Step::Write(HEAD.as_bytes().to_vec()),
            write_event(&text("First.")),
            Step::Pause(pause),
            write_event(&text(" Second.")),
            Step::Pause(pause),
            write_event(&finish("stop")),
            write_event(&usage(42, 7)),
            write_event("[DONE]"),
        ],
        Then::End,
    )
    .await;
    // The deadline bounds the opening only: the pieces keep coming after it passed.
    let deadline = Deadline::after(Duration::from_millis(300));
    let started = Instant::now();
    let mut stream = chat_at(upstream.base_url, None)
        .stream_text(&text_call(deadline))
        .await
        .expect("opens");

    let mut arrivals = Vec::new();
    while let Some(item) = tokio::time::timeout(PROMPTLY, stream.next())
        .await
        .expect("a piece or the end")
    {
        arrivals.push((item, started.elapsed()));
    }
    let items: Vec<&Item> = arrivals.iter().map(|(item, _)| item).collect();
    assert_eq!(
        items,
        vec![
            &delta("First."),
            &delta(" Second."),
            &finished(StopReason::Complete)
        ]
    );
    // Each piece is handed on when it arrives, not when the answer is complete.
    assert!(arrivals[0].1 < pause, "{arrivals:?}");
    assert!(
        arrivals[1].1 >= pause && arrivals[1].1 < 2 * pause,
        "{arrivals:?}"
    );
    assert!(arrivals[2].1 >= 2 * pause, "{arrivals:?}");
}

#[tokio::test]
async fn a_response_head_later_than_the_deadline_is_a_timeout_and_hangs_up() {
    let upstream = scripted(vec![Step::Pause(Duration::from_secs(30))], Then::End).await;
    let started = Instant::now();
    let result = chat_at(upstream.base_url, None)
        .stream_text(&text_call(Deadline::after(Duration::from_millis(300))))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(open_error(result), UpstreamError::Timeout);
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_millis(900),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_connection_lost_mid_stream_is_unavailable_then_the_end() {
    let upstream = scripted(
        vec![
            Step::Write(HEAD.as_bytes().to_vec()),
            write_event(&text("Half")),
            // Half of an event, then nothing.
            Step::Write(framed("data: {\"choi")),
        ],
        Then::HangUp,
    )
    .await;
    let stream = chat_at(upstream.base_url, None)
        .stream_text(&text_call(soon()))
        .await
        .expect("opens");
    let items = drain(stream).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0], delta("Half"));
    assert!(
        matches!(&items[1], Err(UpstreamError::Unavailable { retry_after: None, detail }) if detail.contains("while streaming")),
        "{items:?}"
    );
}

#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_connection() {
    let upstream = scripted(
        vec![
            Step::Write(HEAD.as_bytes().to_vec()),
            write_event(&text("The model keeps writing")),
        ],
        Then::KeepWriting,
    )
    .await;
    let chat = chat_at(upstream.base_url, Some(KEY));
    let mut stream = chat.stream_text(&text_call(soon())).await.expect("opens");
    assert_eq!(
        tokio::time::timeout(PROMPTLY, stream.next())
            .await
            .expect("a piece"),
        Some(delta("The model keeps writing"))
    );
    // The key went out on this connection (as a header, never in anything returned).
    let request = upstream.request.await.expect("the request was read");
    assert!(
        request.contains(&format!("authorization: Bearer {KEY}")),
        "{request}"
    );
    assert!(request.contains(r#""stream":true"#), "{request}");

    // Still open while the stream lives, though nobody reads it…
    let mut client_closed = upstream.client_closed;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut client_closed)
            .await
            .is_err(),
        "the connection closed while the stream was alive"
    );
    // …and closed once it is dropped; the client (and its pool) lives on.
    drop(stream);
    tokio::time::timeout(PROMPTLY, client_closed)
        .await
        .expect("the server saw the connection close")
        .expect("the server reports it");
    drop(chat);
}
