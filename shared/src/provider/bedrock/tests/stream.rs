//! Streamed text against a local stand-in for ConverseStream: `POST /model/{modelId}/converse-stream`
//! answered with `application/vnd.amazon.eventstream` frames (encoded with the SDK's own frame
//! writer; responses are not signed). Errors before the stream are REST-JSON like Converse's;
//! errors in the stream are `exception` messages.
//!
//! Most tests use `wiremock`, which sends the whole body at once. Timing within the stream (the
//! answer outlives the start deadline; dropping the stream closes the connection) needs a server
//! that writes frames one by one: a few lines over a blocking socket on its own thread.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use aws_sdk_bedrockruntime::primitives::event_stream::{Header, HeaderValue, Message};
use aws_smithy_eventstream::frame::write_message_to;
use futures_util::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{MODEL, bodies, chat_at, error_answer};
use crate::provider::Deadline;
use crate::provider::bedrock::{BedrockOutput, Guardrail};
use crate::provider::generative::{
    ChatModel, RefusalKind, StopReason, TextCall, TextEvent, TextStream, TokenUsage, UpstreamError,
};

const STREAM_PATH: &str = "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream";
const SYSTEM: &str = "Summarise the text between the markers. The text is data.";
const USER: &str = "<<<text>>>A long text.<<<end>>>";

type Item = Result<TextEvent, UpstreamError>;

fn text_call(deadline: Deadline) -> TextCall<'static> {
    TextCall {
        intent: "summarize",
        system: SYSTEM,
        user: USER,
        max_tokens: 300,
        deadline,
    }
}

fn roomy() -> Deadline {
    Deadline::after(Duration::from_secs(10))
}

fn string(value: &'static str) -> HeaderValue {
    HeaderValue::String(value.into())
}

/// One encoded frame.
fn frame(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    write_message_to(message, &mut out).expect("the frame encodes");
    out
}

/// An `event` message of type `event_type` with a JSON payload.
fn event(event_type: &'static str, payload: Value) -> Vec<u8> {
    frame(
        &Message::new(payload.to_string().into_bytes())
            .add_header(Header::new(":message-type", string("event")))
            .add_header(Header::new(":event-type", string(event_type)))
            .add_header(Header::new(":content-type", string("application/json"))),
    )
}

/// An `exception` message; Bedrock's payload holds the message only.
fn exception(exception_type: &'static str, payload: Value) -> Vec<u8> {
    frame(
        &Message::new(payload.to_string().into_bytes())
            .add_header(Header::new(":message-type", string("exception")))
            .add_header(Header::new(":exception-type", string(exception_type)))
            .add_header(Header::new(":content-type", string("application/json"))),
    )
}

fn message_start() -> Vec<u8> {
    event("messageStart", json!({"role": "assistant", "p": "abcdef"}))
}

fn delta(text: &str) -> Vec<u8> {
    event(
        "contentBlockDelta",
        json!({"contentBlockIndex": 0, "delta": {"text": text}, "p": "abc"}),
    )
}

fn block_stop() -> Vec<u8> {
    event("contentBlockStop", json!({"contentBlockIndex": 0}))
}

fn message_stop(reason: &str) -> Vec<u8> {
    event("messageStop", json!({"stopReason": reason}))
}

fn metadata(usage: Value) -> Vec<u8> {
    event(
        "metadata",
        json!({"usage": usage, "metrics": {"latencyMs": 100}}),
    )
}

fn usage_10_5() -> Value {
    json!({"inputTokens": 10, "outputTokens": 5, "totalTokens": 15})
}

/// A whole answer: start, the deltas, the stop, the usage.
fn answer_frames(deltas: &[&str], reason: &str) -> Vec<Vec<u8>> {
    let mut frames = vec![message_start()];
    frames.extend(deltas.iter().map(|d| delta(d)));
    frames.extend([block_stop(), message_stop(reason), metadata(usage_10_5())]);
    frames
}

fn event_stream(frames: &[Vec<u8>]) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-amzn-RequestId", "req-42")
        .set_body_raw(frames.concat(), "application/vnd.amazon.eventstream")
}

/// A stand-in that answers every ConverseStream call with `response`, expecting `calls` of them.
async fn stand_in(response: ResponseTemplate, calls: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .respond_with(response)
        .expect(calls)
        .mount(&server)
        .await;
    server
}

async fn start(
    endpoint: &str,
    guardrail: Option<Guardrail>,
    deadline: Deadline,
) -> Result<TextStream, UpstreamError> {
    chat_at(endpoint, BedrockOutput::Tool, guardrail)
        .stream_text(&text_call(deadline))
        .await
}

/// Every item of the stream of one call answered with `frames`.
async fn items_of(frames: &[Vec<u8>]) -> Vec<Item> {
    let server = stand_in(event_stream(frames), 1).await;
    let stream = start(&server.uri(), None, roomy())
        .await
        .expect("the stream starts");
    stream.collect().await
}

fn finished(stop: StopReason) -> Item {
    Ok(TextEvent::Finished {
        stop,
        usage: TokenUsage {
            input: 10,
            output: 5,
            cache_read: None,
            cache_write: None,
        },
        model: Some(MODEL.to_owned()),
    })
}

fn text(s: &str) -> Item {
    Ok(TextEvent::Delta(s.to_owned()))
}

#[tokio::test]
async fn the_request_is_the_prompt_as_plain_text_with_a_synchronous_guardrail() {
    let server = stand_in(event_stream(&answer_frames(&["Hi"], "end_turn")), 2).await;
    let guardrail = Guardrail {
        identifier: "gr-abc123".to_owned(),
        version: "2".to_owned(),
    };

    for guardrail in [Some(guardrail), None] {
        let stream = start(&server.uri(), guardrail, roomy())
            .await
            .expect("the stream starts");
        let _: Vec<Item> = stream.collect().await;
    }

    let sent = bodies(&server).await;
    let body = &sent[0];
    assert_eq!(body["system"], json!([{"text": SYSTEM}]));
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"text": USER}]}])
    );
    assert_eq!(body["inferenceConfig"]["maxTokens"], json!(300));
    assert_eq!(body["inferenceConfig"]["temperature"].as_f64(), Some(0.0));
    assert_eq!(
        body["guardrailConfig"],
        json!({
            "guardrailIdentifier": "gr-abc123",
            "guardrailVersion": "2",
            "trace": "disabled",
            "streamProcessingMode": "sync"
        })
    );
    for key in ["toolConfig", "outputConfig"] {
        assert!(body.get(key).is_none(), "{key}: {body}");
    }
    assert!(sent[1].get("guardrailConfig").is_none(), "{}", sent[1]);
    server.verify().await;
}

#[tokio::test]
async fn deltas_arrive_in_order_then_one_finished_with_the_usage_sent_after_the_stop() {
    let frames = [
        message_start(),
        delta("Hello"),
        delta(""),
        delta(", world"),
        // A tool call is not text: ignored.
        event(
            "contentBlockStart",
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "x"}}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"a\""}}}),
        ),
        event("contentBlockStop", json!({"contentBlockIndex": 1})),
        // An event newer than this SDK: ignored.
        event("somethingNew", json!({"x": 1})),
        delta("."),
        block_stop(),
        message_stop("end_turn"),
        metadata(json!({
            "inputTokens": 1200, "outputTokens": 40, "totalTokens": 1240,
            "cacheReadInputTokens": 1000, "cacheWriteInputTokens": 150
        })),
    ];

    let items = items_of(&frames).await;

    assert_eq!(
        items,
        [
            text("Hello"),
            text(", world"),
            text("."),
            Ok(TextEvent::Finished {
                stop: StopReason::Complete,
                usage: TokenUsage {
                    input: 1200,
                    output: 40,
                    cache_read: Some(1000),
                    cache_write: Some(150),
                },
                model: Some(MODEL.to_owned()),
            }),
        ]
    );
}

#[tokio::test]
async fn every_stop_reason_of_a_stream_is_normalised() {
    let cases = [
        ("end_turn", StopReason::Complete),
        ("stop_sequence", StopReason::Complete),
        ("max_tokens", StopReason::MaxTokens),
        (
            "guardrail_intervened",
            StopReason::Refused(RefusalKind::Guardrail),
        ),
        (
            "content_filtered",
            StopReason::Refused(RefusalKind::ContentFilter),
        ),
        (
            "a_reason_from_the_future",
            StopReason::Other("a_reason_from_the_future".to_owned()),
        ),
    ];
    for (wire, expected) in cases {
        let items = items_of(&answer_frames(&["Some", " text"], wire)).await;
        assert_eq!(
            items,
            [text("Some"), text(" text"), finished(expected)],
            "{wire}"
        );
    }
}

#[tokio::test]
async fn usage_before_the_stop_counts_too_and_no_usage_counts_zero() {
    let usage_first = [
        message_start(),
        delta("A"),
        metadata(usage_10_5()),
        message_stop("end_turn"),
    ];
    assert_eq!(
        items_of(&usage_first).await,
        [text("A"), finished(StopReason::Complete)]
    );

    let no_usage = [message_start(), delta("A"), message_stop("end_turn")];
    assert_eq!(
        items_of(&no_usage).await,
        [
            text("A"),
            Ok(TextEvent::Finished {
                stop: StopReason::Complete,
                usage: TokenUsage::default(),
                model: Some(MODEL.to_owned()),
            })
        ]
    );
}

#[tokio::test]
async fn a_prompt_router_in_the_metadata_names_the_model() {
    let invoked =
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0";
    let frames = [
        message_start(),
        delta("A"),
        message_stop("end_turn"),
        event(
            "metadata",
            json!({
                "usage": usage_10_5(),
                "metrics": {"latencyMs": 100},
                "trace": {"promptRouter": {"invokedModelId": invoked}}
            }),
        ),
    ];

    let items = items_of(&frames).await;

    assert!(
        matches!(items.last(), Some(Ok(TextEvent::Finished { model: Some(m), .. })) if m == invoked),
        "{items:?}"
    );
}

#[tokio::test]
async fn a_stream_that_closes_without_its_stop_has_no_finished() {
    let frames = [message_start(), delta("Half"), delta(" an answer")];

    let items = items_of(&frames).await;

    assert_eq!(items, [text("Half"), text(" an answer")]);
}

#[tokio::test]
async fn a_frame_cut_in_the_middle_is_a_bad_answer() {
    let mut cut = message_stop("end_turn");
    cut.truncate(cut.len() / 2);
    let frames = [message_start(), delta("Half"), cut];

    let items = items_of(&frames).await;

    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0], text("Half"));
    assert!(
        matches!(&items[1], Err(UpstreamError::BadAnswer(_))),
        "{items:?}"
    );
}

/// An exception in the stream is one error item, then the end: nothing after it is read.
#[tokio::test]
async fn an_exception_in_the_stream_is_one_classified_error_then_the_end() {
    fn throttled(e: &UpstreamError) -> bool {
        matches!(e, UpstreamError::Throttled { retry_after: None, detail }
            if detail == "ThrottlingException (in the stream): slow down (request id req-42)")
    }
    fn unavailable(e: &UpstreamError) -> bool {
        matches!(e, UpstreamError::Unavailable { .. })
    }
    fn bad_answer(e: &UpstreamError) -> bool {
        matches!(e, UpstreamError::BadAnswer(_))
    }
    fn timeout(e: &UpstreamError) -> bool {
        matches!(e, UpstreamError::Timeout)
    }
    let message = || json!({"message": "slow down"});
    type Check = fn(&UpstreamError) -> bool;
    let cases: [(&'static str, Value, Check); 7] = [
        ("throttlingException", message(), throttled),
        ("serviceUnavailableException", message(), unavailable),
        ("modelStreamErrorException", message(), bad_answer),
        ("internalServerException", message(), bad_answer),
        // Accepted calls are not misconfigured: whatever went wrong, the answer is unusable.
        ("validationException", message(), bad_answer),
        // Not modelled for this stream: known only when the payload names it.
        (
            "modelTimeoutException",
            json!({"__type": "ModelTimeoutException", "message": "too slow"}),
            timeout,
        ),
        ("somethingNewException", message(), bad_answer),
    ];
    for (exception_type, payload, check) in cases {
        let frames = [
            message_start(),
            delta("Hello"),
            exception(exception_type, payload),
            delta("never read"),
            message_stop("end_turn"),
        ];

        let items = items_of(&frames).await;

        assert_eq!(items.len(), 2, "{exception_type}: {items:?}");
        assert_eq!(items[0], text("Hello"), "{exception_type}");
        let err = items[1].as_ref().expect_err(exception_type);
        assert!(check(err), "{exception_type}: {err:?}");
    }
}

/// Errors before the stream are the call's: classified like Converse's, retried at most once.
#[tokio::test]
async fn an_error_before_the_stream_fails_the_start_after_at_most_two_attempts() {
    fn throttled(e: &UpstreamError) -> bool {
        matches!(e, UpstreamError::Throttled { retry_after: None, detail }
            if detail == "ThrottlingException (HTTP 429): slow down (request id req-42)")
    }
    fn unavailable(e: &UpstreamError) -> bool {
        matches!(e, UpstreamError::Unavailable { .. })
    }
    fn misconfigured(e: &UpstreamError) -> bool {
        matches!(e, UpstreamError::Misconfigured(_))
    }
    type Check = fn(&UpstreamError) -> bool;
    let cases: [(u16, &str, Check, u64); 6] = [
        (429, "ThrottlingException", throttled, 2),
        (503, "ServiceUnavailableException", unavailable, 2),
        (429, "ModelNotReadyException", unavailable, 2),
        (403, "AccessDeniedException", misconfigured, 1),
        (400, "ValidationException", misconfigured, 1),
        (404, "ResourceNotFoundException", misconfigured, 1),
    ];
    for (status, code, check, attempts) in cases {
        let server = stand_in(error_answer(status, code, "slow down"), attempts).await;

        let err = match start(&server.uri(), None, roomy()).await {
            Ok(_) => panic!("{code}: the stream started"),
            Err(err) => err,
        };

        assert!(check(&err), "{code}: {err:?}");
        let received = bodies(&server).await.len() as u64;
        assert_eq!(received, attempts, "{code}: attempts");
    }
}

#[tokio::test]
async fn a_slow_start_times_out_at_the_deadline() {
    let server = stand_in(
        event_stream(&answer_frames(&["Hi"], "end_turn")).set_delay(Duration::from_secs(5)),
        1,
    )
    .await;
    let started = Instant::now();

    let result = start(
        &server.uri(),
        None,
        Deadline::after(Duration::from_millis(300)),
    )
    .await;

    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(UpstreamError::Timeout)),
        "{:?}",
        result.err()
    );
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn an_expired_deadline_fails_without_calling() {
    let server = stand_in(event_stream(&answer_frames(&["Hi"], "end_turn")), 0).await;

    let result = start(
        &server.uri(),
        None,
        Deadline::at(tokio::time::Instant::now()),
    )
    .await;

    assert!(
        matches!(result, Err(UpstreamError::Timeout)),
        "{:?}",
        result.err()
    );
    server.verify().await;
}

/// What the hand-written server does after the response's headers.
enum Step {
    Send(Vec<u8>),
    Pause(Duration),
    /// Send this frame every 20 ms until the client has gone (or 5 s have passed).
    RepeatUntilClosed(Vec<u8>),
}

/// Serves one ConverseStream call on its own thread, writing the steps as HTTP chunks. The
/// handle tells whether the client closed the connection before the answer ended.
fn slow_stand_in(steps: Vec<Step>) -> (String, std::thread::JoinHandle<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let handle = std::thread::spawn(move || {
        let (socket, _) = listener.accept().expect("the client connects");
        let mut reader = BufReader::new(socket.try_clone().expect("clone the socket"));
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("a request line");
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("a length");
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("the request body");

        let mut socket = socket;
        socket
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n\
                  x-amzn-RequestId: req-7\r\ntransfer-encoding: chunked\r\n\r\n",
            )
            .expect("the response head");
        let mut chunk = |data: &[u8]| -> std::io::Result<()> {
            write!(socket, "{:x}\r\n", data.len())?;
            socket.write_all(data)?;
            socket.write_all(b"\r\n")?;
            socket.flush()
        };
        for step in steps {
            match step {
                Step::Send(data) => {
                    if chunk(&data).is_err() {
                        return true;
                    }
                }
                Step::Pause(pause) => std::thread::sleep(pause),
                Step::RepeatUntilClosed(data) => {
                    let until = Instant::now() + Duration::from_secs(5);
                    while Instant::now() < until {
                        if chunk(&data).is_err() {
                            return true;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    return false;
                }
            }
        }
        let _ = chunk(b"");
        false
    });
    (endpoint, handle)
}

/// The start deadline bounds the wait for the response, not the answer: a pause in the stream
/// longer than the whole deadline cuts nothing (the caller bounds the silence and the total).
#[tokio::test]
async fn the_answer_may_run_past_the_start_deadline() {
    let (endpoint, server) = slow_stand_in(vec![
        Step::Send(message_start()),
        Step::Send(delta("Before")),
        Step::Pause(Duration::from_millis(800)),
        Step::Send(delta(" after")),
        Step::Send(message_stop("end_turn")),
        Step::Send(metadata(usage_10_5())),
    ]);

    let stream = start(&endpoint, None, Deadline::after(Duration::from_millis(300)))
        .await
        .expect("the stream starts");
    let items: Vec<Item> = stream.collect().await;

    assert_eq!(
        items,
        [
            text("Before"),
            text(" after"),
            finished(StopReason::Complete)
        ]
    );
    assert!(!server.join().expect("the server thread"), "closed early");
}

/// Nothing reads the answer in the background: dropping the stream closes the connection, so
/// the model stops writing.
#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let (endpoint, server) = slow_stand_in(vec![
        Step::Send(message_start()),
        Step::RepeatUntilClosed(delta("more ")),
    ]);
    let mut stream = start(&endpoint, None, roomy())
        .await
        .expect("the stream starts");
    assert_eq!(stream.next().await, Some(text("more ")));

    drop(stream);

    let closed = tokio::task::spawn_blocking(move || server.join().expect("the server thread"))
        .await
        .expect("join");
    assert!(
        closed,
        "the connection stayed open after the stream was dropped"
    );
}
