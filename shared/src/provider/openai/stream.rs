//! A streamed answer: the body of a `"stream": true` call read as server-sent events
//! ([`super::sse`]), each event's `data:` read as a `chat.completion.chunk` ([`read_chunk`]),
//! the chunks tallied ([`Tally`]) into text deltas and one final
//! [`TextEvent::Finished`].
//!
//! The stream is pulled: a body frame is read only when the consumer asks for the next piece, and
//! the body (so the connection) is owned by the stream, so dropping the stream drops the
//! connection and the server stops writing. Nothing runs in the background.

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;
use http_body_util::BodyExt;
use hyper::body::Body;
use serde_json::Value;

use super::answer::{
    REASON_CHARS, excerpt, is_plausible_model_id, shorten, stop_reason, token_usage,
};
use super::client::error_chain;
use super::sse::{SseDecoder, SseEvent};
use super::wire::{ChatCompletionChunk, Content};
use crate::provider::generative::{
    RefusalKind, StopReason, TextEvent, TextStream, TokenUsage, UpstreamError,
};

/// The most bytes one streamed answer may take. A summary is a few KiB of text, sent as a few
/// hundred chunks of about 200 bytes each; far more is not an answer.
pub const MAX_STREAM_BYTES: usize = 8 * 1024 * 1024;

/// The most bytes one event may take. A chunk is a few hundred bytes.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// The `finish_reason` a stream that ends without one, and without text, is reported with.
const NO_FINISH_REASON: &str = "no finish reason";

/// What one event says.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Chunk {
    /// `data: [DONE]`: the answer is over.
    Done,
    /// A `chat.completion.chunk`.
    Piece(ChunkPiece),
}

/// What a `chat.completion.chunk` carries that matters here; each part optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ChunkPiece {
    /// More text (never empty).
    pub text: Option<String>,
    /// The model refused (a non-blank `delta.refusal`).
    pub refused: bool,
    /// `choices[0].finish_reason` (never blank).
    pub finish_reason: Option<String>,
    pub usage: Option<TokenUsage>,
    /// The answering model, when plausible as an id (see [`is_plausible_model_id`]).
    pub model: Option<String>,
}

/// Reads one event. `Ok(None)` for an event that says nothing (blank data, a keep-alive);
/// an error for a chunk that is not one, and for an error reported inside the stream.
pub(super) fn read_chunk(event: &SseEvent) -> Result<Option<Chunk>, UpstreamError> {
    let data = event.data.trim();
    if event.kind.as_deref() == Some("error") {
        // `event: error` (some proxies): the data is the error, JSON or not.
        let error = serde_json::from_str::<Value>(data)
            .map(|value| match value {
                Value::Object(mut object) if object.contains_key("error") => {
                    object.remove("error").unwrap_or(Value::Null)
                }
                other => other,
            })
            .unwrap_or_else(|_| Value::String(data.to_owned()));
        return Err(stream_error(&error));
    }
    if data.is_empty() {
        return Ok(None);
    }
    if data == "[DONE]" {
        return Ok(Some(Chunk::Done));
    }

    let mut deserializer = serde_json::Deserializer::from_str(data);
    let chunk: ChatCompletionChunk =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let reason = format!("at {}: {}", e.path(), e.inner());
            UpstreamError::BadAnswer(format!(
                "streamed chunk is not a chat completion chunk: {}: {}",
                shorten(reason.as_bytes(), REASON_CHARS),
                excerpt(data.as_bytes())
            ))
        })?;
    deserializer.end().map_err(|e| {
        UpstreamError::BadAnswer(format!(
            "streamed chunk has data after its JSON document: {e}"
        ))
    })?;

    let ChatCompletionChunk {
        model,
        choices,
        usage,
        error,
        object,
    } = chunk;
    match error {
        Some(Value::Null) | None => {}
        Some(error) => return Err(stream_error(&error)),
    }
    if object.as_deref() == Some("error") {
        // Older vLLM writes the error object itself as the chunk.
        let whole: Value = serde_json::from_str(data).unwrap_or(Value::Null);
        return Err(stream_error(&whole));
    }

    let mut piece = ChunkPiece {
        usage: usage.map(token_usage),
        model: model.filter(|m| is_plausible_model_id(m)),
        ..ChunkPiece::default()
    };
    if let Some(choice) = choices.into_iter().next() {
        piece.finish_reason = choice
            .finish_reason
            .filter(|reason| !reason.trim().is_empty());
        if let Some(delta) = choice.delta {
            piece.refused = delta.refusal.is_some_and(|r| !r.trim().is_empty());
            piece.text = match delta.content {
                None => None,
                Some(Content::Text(text)) => Some(text),
                Some(Content::Parts(parts)) => Some(
                    parts
                        .into_iter()
                        .filter(|p| matches!(p.kind.as_deref(), Some("text" | "output_text")))
                        .filter_map(|p| p.text)
                        .collect(),
                ),
            }
            .filter(|text| !text.is_empty());
        }
    }
    Ok(Some(Chunk::Piece(piece)))
}

/// An error reported inside a stream (the status was 200 long ago), classified by its `type` or
/// `code` where they say throttled or overloaded; anything else is a bad answer.
fn stream_error(error: &Value) -> UpstreamError {
    let detail = format!(
        "error inside the streamed answer: {}",
        excerpt(error.to_string().as_bytes())
    );
    let mut labels = Vec::new();
    let mut status = None;
    match error {
        Value::String(text) => labels.push(text.to_ascii_lowercase()),
        Value::Object(object) => {
            for key in ["type", "code", "status"] {
                match object.get(key) {
                    Some(Value::String(text)) => labels.push(text.to_ascii_lowercase()),
                    Some(Value::Number(number)) => status = status.or(number.as_u64()),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    let says = |word: &str| labels.iter().any(|label| label.contains(word));
    if status == Some(429) || says("rate_limit") || says("too_many_requests") {
        UpstreamError::Throttled {
            retry_after: None,
            detail,
        }
    } else if status == Some(503) || says("overloaded") || says("unavailable") {
        UpstreamError::Unavailable {
            retry_after: None,
            detail,
        }
    } else {
        UpstreamError::BadAnswer(detail)
    }
}

/// What the chunks so far add up to.
#[derive(Debug, Default)]
pub(super) struct Tally {
    any_text: bool,
    refused: bool,
    finish_reason: Option<String>,
    usage: Option<TokenUsage>,
    model: Option<String>,
}

impl Tally {
    /// Remembers what `piece` says; its text, to be passed on.
    pub fn record(&mut self, piece: ChunkPiece) -> Option<String> {
        let ChunkPiece {
            text,
            refused,
            finish_reason,
            usage,
            model,
        } = piece;
        self.refused |= refused;
        // The last word wins: servers that report usage on every chunk report it cumulatively.
        if finish_reason.is_some() {
            self.finish_reason = finish_reason;
        }
        if usage.is_some() {
            self.usage = usage;
        }
        if model.is_some() {
            self.model = model;
        }
        self.any_text |= text.is_some();
        text
    }

    /// The end, at `[DONE]`.
    pub fn finished(&self) -> TextEvent {
        let stop = if self.refused {
            StopReason::Refused(RefusalKind::Model)
        } else {
            match &self.finish_reason {
                Some(reason) => stop_reason(reason),
                None if self.any_text => StopReason::Complete,
                None => StopReason::Other(NO_FINISH_REASON.to_owned()),
            }
        };
        TextEvent::Finished {
            stop,
            usage: self.usage.unwrap_or_default(),
            model: self.model.clone(),
        }
    }

    /// The end when the body ends without `[DONE]` (older llama.cpp and Ollama servers): only if
    /// the model said why it stopped; otherwise the stream was cut.
    pub fn finished_at_end_of_body(&self) -> Option<TextEvent> {
        self.finish_reason.as_ref().map(|_| self.finished())
    }
}

/// The state of a stream between two pulls.
struct Reader<B> {
    /// `None` once the stream is over: the body (and its connection) is dropped right away.
    body: Option<B>,
    decoder: SseDecoder,
    tally: Tally,
    bytes_read: usize,
}

impl<B> Reader<B> {
    /// Ends the stream with `item` as its last element.
    fn last(
        mut self,
        item: Result<TextEvent, UpstreamError>,
    ) -> Option<(Result<TextEvent, UpstreamError>, Reader<B>)> {
        self.body = None;
        if let Err(error) = &item {
            tracing::debug!(error = %error, "openai streamed answer failed");
        }
        Some((item, self))
    }
}

/// The pieces of a streamed answer from its body (whose status and content type were checked).
pub(super) fn text_stream<B>(body: B) -> TextStream
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let reader = Reader {
        body: Some(body),
        decoder: SseDecoder::new(MAX_EVENT_BYTES),
        tally: Tally::default(),
        bytes_read: 0,
    };
    stream::unfold(reader, |mut reader| async move {
        loop {
            reader.body.as_ref()?;
            match reader.decoder.next_event() {
                Some(Ok(event)) => match read_chunk(&event) {
                    Ok(None) => continue,
                    Ok(Some(Chunk::Done)) => {
                        let finished = reader.tally.finished();
                        return reader.last(Ok(finished));
                    }
                    Ok(Some(Chunk::Piece(piece))) => match reader.tally.record(piece) {
                        Some(text) => return Some((Ok(TextEvent::Delta(text)), reader)),
                        None => continue,
                    },
                    Err(error) => return reader.last(Err(error)),
                },
                Some(Err(error)) => {
                    return reader.last(Err(UpstreamError::BadAnswer(format!(
                        "streamed answer: {error}"
                    ))));
                }
                None => {}
            }
            let body = reader.body.as_mut()?;
            match body.frame().await {
                Some(Ok(frame)) => {
                    // Trailers carry nothing for this format.
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    reader.bytes_read += data.len();
                    if reader.bytes_read > MAX_STREAM_BYTES {
                        return reader.last(Err(UpstreamError::BadAnswer(format!(
                            "streamed answer larger than {MAX_STREAM_BYTES} bytes"
                        ))));
                    }
                    reader.decoder.push(&data);
                }
                Some(Err(error)) => {
                    let error: Box<dyn std::error::Error + Send + Sync> = error.into();
                    return reader.last(Err(UpstreamError::Unavailable {
                        retry_after: None,
                        detail: format!(
                            "connection failed while streaming the answer: {}",
                            error_chain(&*error)
                        ),
                    }));
                }
                None => {
                    // The body ended without `[DONE]`.
                    reader.body = None;
                    let finished = reader.tally.finished_at_end_of_body()?;
                    return reader.last(Ok(finished));
                }
            }
        }
    })
    .fuse()
    .boxed()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::StreamExt;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    use super::*;

    fn event(data: &str) -> SseEvent {
        SseEvent {
            kind: None,
            data: data.to_owned(),
        }
    }

    fn piece(data: &str) -> ChunkPiece {
        match read_chunk(&event(data)) {
            Ok(Some(Chunk::Piece(piece))) => piece,
            other => panic!("expected a piece from {data}, got {other:?}"),
        }
    }

    fn chunk_error(data: &str) -> UpstreamError {
        match read_chunk(&event(data)) {
            Err(error) => error,
            other => panic!("expected an error from {data}, got {other:?}"),
        }
    }

    fn delta(content: &str) -> String {
        format!(
            r#"{{"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{{"index":0,"delta":{{"content":{content}}},"finish_reason":null}}]}}"#
        )
    }

    #[test]
    fn a_delta_chunk_gives_its_text_and_model() {
        assert_eq!(
            piece(&delta(r#""Hello""#)),
            ChunkPiece {
                text: Some("Hello".to_owned()),
                model: Some("gpt-4o-mini-2024-07-18".to_owned()),
                ..ChunkPiece::default()
            }
        );
        // The role-only first chunk, empty and null content: no text.
        for content in [r#""""#, "null"] {
            assert_eq!(piece(&delta(content)).text, None, "{content}");
        }
        assert_eq!(
            piece(r#"{"choices":[{"delta":{"role":"assistant"}}]}"#),
            ChunkPiece::default()
        );
        // Content parts: the text ones, concatenated.
        assert_eq!(
            piece(&delta(
                r#"[{"type":"text","text":"a"},{"type":"x"},{"type":"text","text":"b"}]"#
            ))
            .text,
            Some("ab".to_owned())
        );
    }

    #[test]
    fn finish_reason_usage_and_refusal_are_read() {
        let last = piece(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#);
        assert_eq!(last.finish_reason.as_deref(), Some("length"));
        let usage = piece(
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":4}}}"#,
        );
        assert_eq!(
            usage.usage,
            Some(TokenUsage {
                input: 12,
                output: 5,
                cache_read: Some(4),
                cache_write: None,
            })
        );
        assert_eq!(
            piece(r#"{"choices":null,"usage":null}"#),
            ChunkPiece::default()
        );
        assert!(piece(r#"{"choices":[{"delta":{"refusal":"I can't."}}]}"#).refused);
        assert!(!piece(r#"{"choices":[{"delta":{"refusal":" "}}]}"#).refused);
        assert!(!piece(r#"{"choices":[{"delta":{"refusal":null}}]}"#).refused);
        assert_eq!(
            piece(r#"{"choices":[{"delta":{},"finish_reason":""}]}"#).finish_reason,
            None
        );
    }

    #[test]
    fn done_and_blank_events_are_recognised() {
        assert_eq!(read_chunk(&event("[DONE]")), Ok(Some(Chunk::Done)));
        assert_eq!(read_chunk(&event(" [DONE] ")), Ok(Some(Chunk::Done)));
        assert_eq!(read_chunk(&event("")), Ok(None));
        assert_eq!(read_chunk(&event(" \n ")), Ok(None));
    }

    #[test]
    fn a_chunk_that_is_not_one_is_a_bad_answer_with_its_path() {
        for (data, expected) in [
            ("not json", "not a chat completion chunk"),
            ("[1,2]", "not a chat completion chunk"),
            (
                r#"{"choices":[{"delta":{"content":5}}]}"#,
                "choices[0].delta.content",
            ),
            (
                r#"{"choices":[],"usage":{"prompt_tokens":-1}}"#,
                "usage.prompt_tokens",
            ),
            (r#"{"choices":[]} {}"#, "data after"),
        ] {
            match chunk_error(data) {
                UpstreamError::BadAnswer(detail) => assert!(detail.contains(expected), "{detail}"),
                other => panic!("{data}: expected BadAnswer, got {other:?}"),
            }
        }
        let long = format!(
            r#"{{"choices":[{{"delta":{{"content":{}}}}}]}}"#,
            "1".repeat(100_000)
        );
        let detail = chunk_error(&long).to_string();
        assert!(
            detail.chars().count() <= super::super::MAX_DETAIL_CHARS,
            "{}",
            detail.len()
        );
    }

    #[test]
    fn errors_inside_the_stream_are_classified() {
        let class = |data: &str| match chunk_error(data) {
            UpstreamError::Throttled { .. } => "throttled",
            UpstreamError::Unavailable { .. } => "unavailable",
            UpstreamError::BadAnswer(_) => "bad",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            class(r#"{"error":{"message":"The server had an error","type":"server_error"}}"#),
            "bad"
        );
        assert_eq!(
            class(
                r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#
            ),
            "throttled"
        );
        assert_eq!(
            class(r#"{"error":{"message":"busy","code":429}}"#),
            "throttled"
        );
        assert_eq!(
            class(r#"{"error":{"message":"busy","type":"overloaded_error"}}"#),
            "unavailable"
        );
        assert_eq!(class(r#"{"error":"model is overloaded"}"#), "unavailable");
        assert_eq!(
            class(r#"{"object":"error","message":"oops","type":"InternalServerError","code":500}"#),
            "bad"
        );
        assert_eq!(
            class(
                r#"{"object":"error","message":"later","type":"ServiceUnavailableError","code":503}"#
            ),
            "unavailable"
        );
        // `event: error`, JSON or not.
        let typed = |data: &str| {
            read_chunk(&SseEvent {
                kind: Some("error".to_owned()),
                data: data.to_owned(),
            })
        };
        assert!(matches!(
            typed(r#"{"error":{"type":"rate_limit_error"}}"#),
            Err(UpstreamError::Throttled { .. })
        ));
        assert!(matches!(
            typed("upstream went away"),
            Err(UpstreamError::BadAnswer(d)) if d.contains("upstream went away")
        ));
        // A `null` error is no error.
        assert!(matches!(
            read_chunk(&event(r#"{"choices":[],"error":null}"#)),
            Ok(Some(Chunk::Piece(_)))
        ));
    }

    #[test]
    fn the_tally_ends_with_the_right_stop_reason() {
        let stop_after = |chunks: &[&str]| {
            let mut tally = Tally::default();
            for data in chunks {
                tally.record(piece(data));
            }
            match tally.finished() {
                TextEvent::Finished { stop, .. } => stop,
                other => panic!("{other:?}"),
            }
        };
        let text = delta(r#""Hi""#);
        let finish = |reason: &str| {
            format!(r#"{{"choices":[{{"delta":{{}},"finish_reason":"{reason}"}}]}}"#)
        };
        assert_eq!(stop_after(&[&text, &finish("stop")]), StopReason::Complete);
        assert_eq!(
            stop_after(&[&text, &finish("length")]),
            StopReason::MaxTokens
        );
        assert_eq!(
            stop_after(&[&finish("content_filter")]),
            StopReason::Refused(RefusalKind::ContentFilter)
        );
        assert_eq!(
            stop_after(&[
                r#"{"choices":[{"delta":{"refusal":"No."}}]}"#,
                &finish("stop")
            ]),
            StopReason::Refused(RefusalKind::Model)
        );
        assert_eq!(stop_after(&[&text]), StopReason::Complete);
        assert_eq!(
            stop_after(&[]),
            StopReason::Other(NO_FINISH_REASON.to_owned())
        );
        assert_eq!(
            stop_after(&[&finish("tool_calls")]),
            StopReason::Other("tool_calls".to_owned())
        );
    }

    #[test]
    fn the_tally_keeps_the_last_usage_and_model() {
        let mut tally = Tally::default();
        assert_eq!(tally.finished_at_end_of_body(), None);
        tally.record(piece(
            r#"{"model":"a","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
        ));
        tally.record(piece(r#"{"model":"b","choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":9}}"#));
        tally.record(piece(r#"{"model":"","choices":[]}"#));
        let expected = TextEvent::Finished {
            stop: StopReason::Complete,
            usage: TokenUsage {
                input: 1,
                output: 9,
                cache_read: None,
                cache_write: None,
            },
            model: Some("b".to_owned()),
        };
        assert_eq!(tally.finished(), expected);
        assert_eq!(tally.finished_at_end_of_body(), Some(expected));
    }

    type FrameResult = Result<Frame<Bytes>, std::io::Error>;
    type Frames = Vec<FrameResult>;

    fn body_of(frames: Frames) -> StreamBody<stream::Iter<std::vec::IntoIter<FrameResult>>> {
        StreamBody::new(stream::iter(frames))
    }

    fn frames(parts: &[&[u8]]) -> Frames {
        parts
            .iter()
            .map(|part| Ok(Frame::data(Bytes::copy_from_slice(part))))
            .collect()
    }

    async fn collect(frames: Frames) -> Vec<Result<TextEvent, UpstreamError>> {
        text_stream(body_of(frames)).collect().await
    }

    fn sse(chunks: &[&str]) -> String {
        chunks.iter().map(|c| format!("data: {c}\n\n")).collect()
    }

    fn full_answer() -> String {
        sse(&[
            r#"{"model":"m-1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            &delta(r#""The ""#),
            &delta(r#""summary 👋.""#),
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":4}}"#,
            "[DONE]",
        ])
    }

    fn expected_answer() -> Vec<Result<TextEvent, UpstreamError>> {
        vec![
            Ok(TextEvent::Delta("The ".to_owned())),
            Ok(TextEvent::Delta("summary 👋.".to_owned())),
            Ok(TextEvent::Finished {
                stop: StopReason::Complete,
                usage: TokenUsage {
                    input: 30,
                    output: 4,
                    cache_read: None,
                    cache_write: None,
                },
                model: Some("gpt-4o-mini-2024-07-18".to_owned()),
            }),
        ]
    }

    #[tokio::test]
    async fn one_byte_frames_give_the_same_pieces_as_one_frame() {
        let answer = full_answer();
        assert_eq!(
            collect(frames(&[answer.as_bytes()])).await,
            expected_answer()
        );
        let bytes: Vec<&[u8]> = answer.as_bytes().chunks(1).collect();
        assert_eq!(collect(frames(&bytes)).await, expected_answer());
        let crlf = answer.replace('\n', "\r\n");
        let bytes: Vec<&[u8]> = crlf.as_bytes().chunks(3).collect();
        assert_eq!(collect(frames(&bytes)).await, expected_answer());
    }

    #[tokio::test]
    async fn nothing_after_done_is_read() {
        let mut answer = full_answer();
        answer.push_str("data: {not json\n\n");
        assert_eq!(
            collect(frames(&[answer.as_bytes()])).await,
            expected_answer()
        );
    }

    #[tokio::test]
    async fn a_body_error_is_unavailable_and_the_end() {
        let mut parts = frames(&[sse(&[&delta(r#""Hi""#)]).as_bytes()]);
        parts.push(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        )));
        parts.extend(frames(&[b"data: [DONE]\n\n"]));
        let items = collect(parts).await;
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(items[0], Ok(TextEvent::Delta("Hi".to_owned())));
        assert!(
            matches!(&items[1], Err(UpstreamError::Unavailable { detail, .. }) if detail.contains("connection reset by peer")),
            "{items:?}"
        );
    }

    #[tokio::test]
    async fn invalid_utf8_or_json_is_a_bad_answer_and_the_end() {
        for body in [
            &b"data: {\"choices\":[\xff]}\n\ndata: [DONE]\n\n"[..],
            b"data: {\"choi\n\ndata: [DONE]\n\n",
        ] {
            let items = collect(frames(&[body])).await;
            assert!(
                matches!(&items[..], [Err(UpstreamError::BadAnswer(_))]),
                "{items:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_oversized_event_is_a_bad_answer() {
        let big = format!("data: {}", "x".repeat(MAX_EVENT_BYTES));
        let items = collect(frames(&[big.as_bytes(), b"\n\n"])).await;
        assert!(
            matches!(&items[..], [Err(UpstreamError::BadAnswer(d))] if d.contains("larger than 1048576 bytes")),
            "{items:?}"
        );
    }

    /// A body that never ends: keep-alive comments, counting what it hands out.
    struct Endless(Arc<AtomicUsize>);

    const CHUNK: usize = 64 * 1024;

    impl Body for Endless {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            self.0.fetch_add(CHUNK, Ordering::Relaxed);
            let mut comment = vec![b' '; CHUNK];
            comment[0] = b':';
            comment[CHUNK - 2] = b'\n';
            comment[CHUNK - 1] = b'\n';
            std::task::Poll::Ready(Some(Ok(Frame::data(Bytes::from(comment)))))
        }
    }

    #[tokio::test]
    async fn an_endless_stream_is_cut_at_the_total_cap() {
        let served = Arc::new(AtomicUsize::new(0));
        let items: Vec<_> = text_stream(Endless(Arc::clone(&served))).collect().await;
        assert!(
            matches!(&items[..], [Err(UpstreamError::BadAnswer(d))] if d.contains("larger than 8388608 bytes")),
            "{items:?}"
        );
        let served = served.load(Ordering::Relaxed);
        assert!(
            served > MAX_STREAM_BYTES && served <= MAX_STREAM_BYTES + CHUNK,
            "{served}"
        );
    }

    #[tokio::test]
    async fn the_end_of_the_body_finishes_only_after_a_finish_reason() {
        let with_reason = sse(&[
            &delta(r#""Hi""#),
            r#"{"choices":[{"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#,
        ]);
        let items = collect(frames(&[with_reason.as_bytes()])).await;
        assert_eq!(
            items.last(),
            Some(&Ok(TextEvent::Finished {
                stop: StopReason::MaxTokens,
                usage: TokenUsage {
                    input: 2,
                    output: 1,
                    cache_read: None,
                    cache_write: None,
                },
                model: Some("gpt-4o-mini-2024-07-18".to_owned()),
            }))
        );
        let cut = sse(&[&delta(r#""Hi""#)]);
        let items = collect(frames(&[cut.as_bytes()])).await;
        assert_eq!(items, vec![Ok(TextEvent::Delta("Hi".to_owned()))]);
        assert_eq!(collect(Vec::new()).await, Vec::new());
    }

    #[tokio::test]
    async fn a_finished_stream_stays_finished() {
        let answer = full_answer();
        let mut stream = text_stream(body_of(frames(&[answer.as_bytes()])));
        while stream.next().await.is_some() {}
        assert!(stream.next().await.is_none());
        assert!(stream.next().await.is_none());
    }
}
