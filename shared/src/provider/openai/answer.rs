//! Reading an answer: status, the few headers that matter and the body become a [`ModelAnswer`]
//! or a classified [`UpstreamError`]. Pure (no I/O), so every odd answer is a unit test and the
//! whole function is a fuzz target (`fuzz/fuzz_targets/openai_answer.rs`).
//!
//! Error details are for the log: they keep the status and a short excerpt of the body, never
//! the request (so never the key).

use std::time::{Duration, SystemTime};

use hyper::HeaderMap;

use super::wire::{ChatCompletion, Content, WireUsage};
use crate::provider::generative::{
    AnswerContent, ModelAnswer, RefusalKind, StopReason, TokenUsage, UpstreamError,
};

/// The largest answer body read. A structured answer is a few KiB; anything near this is not
/// one, and reading stops there instead of buffering whatever the server sends.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The longest `Retry-After` passed on. A request's whole budget is under API Gateway's 29 s, so
/// a longer wait says "not now" as well as a 60 s one does, without parking a client for an hour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How much of a body goes into an error detail.
pub(super) const EXCERPT_CHARS: usize = 200;

/// How much of a parse error (path and serde's message) goes into an error detail.
pub(super) const REASON_CHARS: usize = 300;

/// The longest error detail this module writes (the parts above plus fixed text); the fuzz target
/// checks it, so an upstream cannot flood the log through an error.
pub const MAX_DETAIL_CHARS: usize = 1024;

/// The longest upstream `finish_reason` or `model` kept: both end up in the request log (and the
/// model in `meta.model`), so an upstream cannot write an essay there.
const MAX_UPSTREAM_NAME_CHARS: usize = 128;

/// The response headers an answer's reading depends on, as raw bytes (a header value need not be
/// UTF-8, and the fuzz target builds these from arbitrary input).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerHeaders<'a> {
    pub content_type: Option<&'a [u8]>,
    /// `Retry-After`: delay in seconds or an HTTP-date.
    pub retry_after: Option<&'a [u8]>,
    /// `retry-after-ms` (OpenAI): the same in milliseconds; preferred when both are present.
    pub retry_after_ms: Option<&'a [u8]>,
}

impl<'a> AnswerHeaders<'a> {
    pub fn from_map(headers: &'a HeaderMap) -> AnswerHeaders<'a> {
        let get = |name: &str| headers.get(name).map(|value| value.as_bytes());
        AnswerHeaders {
            content_type: get("content-type"),
            retry_after: get("retry-after"),
            retry_after_ms: get("retry-after-ms"),
        }
    }
}

/// Turns one `chat/completions` answer into the chat port's answer or error.
///
/// Statuses: 2xx is parsed; 429 → `Throttled`, 503 → `Unavailable` (both with `Retry-After`,
/// capped at [`MAX_RETRY_AFTER`]); 408, 504 → `Timeout`; other 5xx → `BadAnswer`; 401, 403
/// (key rejected), 404 (unknown model or wrong base URL), other 4xx and 3xx (redirects are not
/// followed) → `Misconfigured`.
pub fn parse_answer(
    status: u16,
    headers: AnswerHeaders<'_>,
    body: &[u8],
) -> Result<ModelAnswer, UpstreamError> {
    if (200..300).contains(&status) {
        parse_success(headers, body)
    } else {
        Err(classify_status(status, headers, body, SystemTime::now()))
    }
}

/// The error an answer with a non-2xx `status` stands for (see [`parse_answer`]); `body` is only
/// quoted in the detail.
pub(super) fn classify_status(
    status: u16,
    headers: AnswerHeaders<'_>,
    body: &[u8],
    now: SystemTime,
) -> UpstreamError {
    let detail = |what: &str| format!("HTTP {status} ({what}): {}", excerpt(body));
    match status {
        429 => UpstreamError::Throttled {
            retry_after: retry_after(headers, now),
            detail: detail("rate limited"),
        },
        503 => UpstreamError::Unavailable {
            retry_after: retry_after(headers, now),
            detail: detail("service unavailable"),
        },
        // The server (or a gateway in front of it) gave up waiting: the same as our deadline
        // passing, for the caller.
        408 | 504 => UpstreamError::Timeout,
        401 | 403 => UpstreamError::Misconfigured(detail("API key rejected")),
        404 => UpstreamError::Misconfigured(detail("unknown model or wrong base URL")),
        400..=499 => UpstreamError::Misconfigured(detail("request rejected")),
        300..=399 => UpstreamError::Misconfigured(detail("redirected; check the base URL")),
        500..=599 => UpstreamError::BadAnswer(detail("server error")),
        _ => UpstreamError::BadAnswer(detail("unexpected status")),
    }
}

fn parse_success(headers: AnswerHeaders<'_>, body: &[u8]) -> Result<ModelAnswer, UpstreamError> {
    if let Some(content_type) = headers.content_type
        && !is_json_media_type(content_type)
    {
        // An HTML error page from a proxy, or a stream we did not ask for.
        return Err(UpstreamError::BadAnswer(format!(
            "answer content-type is {}, not JSON: {}",
            shorten(content_type, EXCERPT_CHARS),
            excerpt(body)
        )));
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        UpstreamError::BadAnswer(format!(
            "answer body is not UTF-8 (from byte {}): {}",
            e.valid_up_to(),
            excerpt(body)
        ))
    })?;

    let mut deserializer = serde_json::Deserializer::from_str(text);
    let completion: ChatCompletion =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            // Capped: serde's message quotes the offending value and the path names every key
            // on the way, both as long as the upstream makes them.
            let reason = format!("at {}: {}", e.path(), e.inner());
            UpstreamError::BadAnswer(format!(
                "answer is not a chat completion: {}: {}",
                shorten(reason.as_bytes(), REASON_CHARS),
                excerpt(body)
            ))
        })?;
    deserializer.end().map_err(|e| {
        UpstreamError::BadAnswer(format!("answer has data after the JSON document: {e}"))
    })?;

    normalise(completion)
}

/// The one place the wire answer becomes the chat port's answer.
fn normalise(completion: ChatCompletion) -> Result<ModelAnswer, UpstreamError> {
    let ChatCompletion {
        model,
        choices,
        usage,
        error,
    } = completion;
    let Some(choice) = choices.into_iter().next() else {
        return Err(UpstreamError::BadAnswer(match error {
            Some(error) => format!(
                "answer holds an error instead of choices: {}",
                excerpt(error.to_string().as_bytes())
            ),
            None => "answer has no choices".to_owned(),
        }));
    };

    let (text, mut refusal) = match choice.message {
        None => (None, None),
        Some(message) => {
            let (text, part_refusal) = match message.content {
                None => (None, None),
                Some(Content::Text(text)) => (Some(text), None),
                Some(Content::Parts(parts)) => {
                    let mut text: Option<String> = None;
                    let mut refusal = None;
                    for part in parts {
                        match part.kind.as_deref() {
                            Some("text") | Some("output_text") => {
                                if let Some(piece) = part.text {
                                    text.get_or_insert_with(String::new).push_str(&piece);
                                }
                            }
                            Some("refusal") => refusal = refusal.or(part.refusal),
                            // Images, audio, reasoning summaries: not an answer to a schema.
                            _ => {}
                        }
                    }
                    (text, refusal)
                }
            };
            (text, message.refusal.or(part_refusal))
        }
    };
    refusal = refusal.filter(|r| !r.trim().is_empty());

    let stop = if refusal.is_some() {
        StopReason::Refused(RefusalKind::Model)
    } else {
        choice
            .finish_reason
            .as_deref()
            .map_or(StopReason::Complete, stop_reason)
    };

    // Whitespace alone carries no document: the same as no content, so the generative layer sees
    // "the model said nothing" rather than a JSON syntax error.
    let content = match text {
        Some(text) if !text.trim().is_empty() => AnswerContent::Text(text),
        _ => AnswerContent::Empty,
    };

    let usage = usage.map(token_usage).unwrap_or_default();

    Ok(ModelAnswer {
        content,
        stop,
        usage,
        model: model.filter(|m| is_plausible_model_id(m)),
    })
}

/// A `finish_reason` as the chat port's stop reason (the same for a whole answer and for the
/// last chunk of a streamed one). An empty one reads as `stop`.
pub(super) fn stop_reason(finish_reason: &str) -> StopReason {
    match finish_reason.trim() {
        "" | "stop" => StopReason::Complete,
        "length" => StopReason::MaxTokens,
        "content_filter" => StopReason::Refused(RefusalKind::ContentFilter),
        // Includes `tool_calls`: no tools are offered, so a tool call is not the answer.
        other => StopReason::Other(other.chars().take(MAX_UPSTREAM_NAME_CHARS).collect()),
    }
}

/// The wire usage as the chat port's; missing counts read as 0.
pub(super) fn token_usage(usage: WireUsage) -> TokenUsage {
    TokenUsage {
        input: usage.prompt_tokens.unwrap_or(0),
        output: usage.completion_tokens.unwrap_or(0),
        cache_read: usage.prompt_tokens_details.and_then(|d| d.cached_tokens),
        cache_write: None,
    }
}

/// The answer's `model` is echoed to clients in `meta.model`: only a short, printable id is
/// taken; anything else falls back to the configured id.
pub(super) fn is_plausible_model_id(model: &str) -> bool {
    !model.trim().is_empty()
        && model.chars().count() <= MAX_UPSTREAM_NAME_CHARS
        && !model.chars().any(char::is_control)
}

/// `application/json`, `application/<anything>+json`, with or without parameters.
fn is_json_media_type(content_type: &[u8]) -> bool {
    let Some(essence) = media_type_essence(content_type) else {
        return false;
    };
    match essence.split_once('/') {
        Some(("application", "json")) => true,
        Some((kind, subtype)) => !kind.is_empty() && subtype.ends_with("+json"),
        None => false,
    }
}

/// A `content-type` without its parameters, lower-cased (`text/event-stream; charset=utf-8` →
/// `text/event-stream`); `None` when it is not UTF-8.
pub(super) fn media_type_essence(content_type: &[u8]) -> Option<String> {
    let content_type = std::str::from_utf8(content_type).ok()?;
    Some(
        content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// How long the server asks us to wait, capped at [`MAX_RETRY_AFTER`]; `None` when it does not
/// say (or says something unreadable). `now` is a parameter so HTTP-dates are testable.
fn retry_after(headers: AnswerHeaders<'_>, now: SystemTime) -> Option<Duration> {
    fn text(bytes: Option<&[u8]>) -> Option<&str> {
        bytes
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
    if let Some(millis) = text(headers.retry_after_ms).and_then(non_negative_number) {
        return Some(capped_seconds(millis / 1000.0));
    }
    let value = text(headers.retry_after)?;
    if let Some(seconds) = non_negative_number(value) {
        return Some(capped_seconds(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let now = chrono::DateTime::<chrono::Utc>::from(now);
    // A date in the past means "now".
    let wait = date
        .signed_duration_since(now)
        .to_std()
        .unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A delay as servers write it: an integer, or (OpenAI's `retry-after-ms`) a decimal.
fn non_negative_number(text: &str) -> Option<f64> {
    // Only digits and one dot: `f64::from_str` would also take `inf`, `NaN` and exponents.
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

fn capped_seconds(seconds: f64) -> Duration {
    // `min` first: `Duration::from_secs_f64` panics on values it cannot hold.
    Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64()))
}

/// The start of a body for a log line (see [`shorten`]); `(empty body)` when there is nothing.
pub(super) fn excerpt(body: &[u8]) -> String {
    let out = shorten(body, EXCERPT_CHARS);
    if out.is_empty() {
        "(empty body)".to_owned()
    } else {
        out
    }
}

/// At most `max_chars` characters of `bytes` as lossy UTF-8, control characters (newlines) as
/// spaces so a log line stays one line, `…` when something was cut.
pub(super) fn shorten(bytes: &[u8], max_chars: usize) -> String {
    // Never decode more than the result can use (a UTF-8 character is at most 4 bytes).
    let head = &bytes[..bytes.len().min(max_chars * 4)];
    let text = String::from_utf8_lossy(head);
    let mut out: String = text
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let kept = out.trim_end().len();
    out.truncate(kept);
    if !out.is_empty() && (text.chars().count() > max_chars || head.len() < bytes.len()) {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json() -> AnswerHeaders<'static> {
        AnswerHeaders {
            content_type: Some(b"application/json"),
            ..AnswerHeaders::default()
        }
    }

    fn ok(body: &str) -> ModelAnswer {
        parse_answer(200, json(), body.as_bytes()).expect("a usable answer")
    }

    fn bad(status: u16, body: &str) -> String {
        match parse_answer(status, json(), body.as_bytes()) {
            Err(UpstreamError::BadAnswer(detail)) => detail,
            other => panic!("expected BadAnswer, got {other:?}"),
        }
    }

    fn answer_with(message: &str, finish_reason: &str) -> String {
        format!(r#"{{"choices":[{{"message":{message},"finish_reason":{finish_reason}}}]}}"#)
    }

    #[test]
    fn reads_content_usage_and_model() {
        let answer = ok(r#"{
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"a\":1}"},
                         "finish_reason": "stop", "logprobs": null}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
                      "prompt_tokens_details": {"cached_tokens": 8, "audio_tokens": 0}},
            "system_fingerprint": "fp_1", "service_tier": "default"
        }"#);
        assert_eq!(
            answer,
            ModelAnswer {
                content: AnswerContent::Text(r#"{"a":1}"#.to_owned()),
                stop: StopReason::Complete,
                usage: TokenUsage {
                    input: 12,
                    output: 5,
                    cache_read: Some(8),
                    cache_write: None,
                },
                model: Some("gpt-4o-mini-2024-07-18".to_owned()),
            }
        );
    }

    #[test]
    fn missing_usage_model_and_finish_reason_read_as_zero_none_and_complete() {
        let answer = ok(r#"{"choices":[{"message":{"content":"{}"}}]}"#);
        assert_eq!(answer.usage, TokenUsage::default());
        assert_eq!(answer.model, None);
        assert_eq!(answer.stop, StopReason::Complete);
        let answer = ok(&answer_with(r#"{"content":"{}"}"#, "null"));
        assert_eq!(answer.stop, StopReason::Complete);
        let answer =
            ok(r#"{"choices":[{"message":{"content":"{}"}}],"usage":{"prompt_tokens":3}}"#);
        assert_eq!(answer.usage.input, 3);
        assert_eq!(answer.usage.output, 0);
        assert_eq!(answer.usage.cache_read, None);
    }

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        let stop = |reason: &str| ok(&answer_with(r#"{"content":"{}"}"#, reason)).stop;
        assert_eq!(stop(r#""stop""#), StopReason::Complete);
        assert_eq!(stop(r#""length""#), StopReason::MaxTokens);
        assert_eq!(
            stop(r#""content_filter""#),
            StopReason::Refused(RefusalKind::ContentFilter)
        );
        assert_eq!(
            stop(r#""tool_calls""#),
            StopReason::Other("tool_calls".to_owned())
        );
        assert_eq!(
            stop(r#""eos_token""#),
            StopReason::Other("eos_token".to_owned())
        );
        let long = format!("\"{}\"", "x".repeat(1000));
        assert_eq!(stop(&long).as_str().len(), MAX_UPSTREAM_NAME_CHARS);
    }

    #[test]
    fn a_refusal_wins_over_the_finish_reason() {
        let answer = ok(&answer_with(
            r#"{"content":null,"refusal":"I can't help with that."}"#,
            r#""stop""#,
        ));
        assert_eq!(answer.stop, StopReason::Refused(RefusalKind::Model));
        assert_eq!(answer.content, AnswerContent::Empty);
        // An empty refusal is no refusal.
        let answer = ok(&answer_with(
            r#"{"content":"{}","refusal":""}"#,
            r#""stop""#,
        ));
        assert_eq!(answer.stop, StopReason::Complete);
    }

    #[test]
    fn null_empty_or_blank_content_is_empty() {
        for content in ["null", r#""""#, r#"" \n ""#, "[]"] {
            let answer = ok(&answer_with(
                &format!(r#"{{"content":{content}}}"#),
                r#""stop""#,
            ));
            assert_eq!(answer.content, AnswerContent::Empty, "{content}");
        }
        let answer = ok(r#"{"choices":[{"finish_reason":"stop"}]}"#);
        assert_eq!(answer.content, AnswerContent::Empty);
    }

    #[test]
    fn content_parts_are_concatenated_and_a_refusal_part_refuses() {
        let answer = ok(&answer_with(
            r#"{"content":[{"type":"text","text":"{\"a\":"},{"type":"image_url","image_url":{}},
                           {"type":"text","text":"1}"}]}"#,
            r#""stop""#,
        ));
        assert_eq!(answer.content, AnswerContent::Text(r#"{"a":1}"#.to_owned()));
        let answer = ok(&answer_with(
            r#"{"content":[{"type":"refusal","refusal":"no"}]}"#,
            r#""stop""#,
        ));
        assert_eq!(answer.stop, StopReason::Refused(RefusalKind::Model));
    }

    #[test]
    fn a_wrongly_typed_field_is_rejected_with_its_path() {
        let detail = bad(
            200,
            r#"{"choices":[{"message":{"content":"{}"}}],"usage":{"prompt_tokens":"abc"}}"#,
        );
        assert!(detail.contains("usage.prompt_tokens"), "{detail}");
        let detail = bad(200, &answer_with(r#"{"content":"{}"}"#, "5"));
        assert!(detail.contains("choices[0].finish_reason"), "{detail}");
        let detail = bad(200, &answer_with(r#"{"content":5}"#, "null"));
        assert!(detail.contains("choices[0].message.content"), "{detail}");
        // NaN is not JSON; negative and fractional counts are not token counts.
        bad(200, r#"{"choices":[],"usage":{"prompt_tokens":NaN}}"#);
        for count in ["-1", "1.5"] {
            bad(
                200,
                &format!(
                    r#"{{"choices":[{{"message":{{"content":"{{}}"}}}}],"usage":{{"completion_tokens":{count}}}}}"#
                ),
            );
        }
    }

    #[test]
    fn details_stay_bounded_whatever_the_upstream_sends() {
        let long = "k".repeat(100_000);
        let bodies = [
            format!(r#"{{"choices":[{{"finish_reason":"{long}","message":{{"content":{{}}}}}}]}}"#),
            format!(r#"{{"usage":{{"prompt_tokens":"{long}"}}}}"#),
            format!(r#"{{"error":{{"{long}":1e999}}}}"#),
            format!(r#"{{"error":"{long}"}}"#),
        ];
        for body in &bodies {
            let detail = bad(200, body);
            assert!(
                detail.chars().count() <= MAX_DETAIL_CHARS,
                "{}",
                detail.len()
            );
        }
        let content_type = long.as_bytes();
        let headers = AnswerHeaders {
            content_type: Some(content_type),
            ..AnswerHeaders::default()
        };
        let Err(error) = parse_answer(200, headers, long.as_bytes()) else {
            panic!("a non-JSON content type is refused");
        };
        assert!(error.to_string().chars().count() <= MAX_DETAIL_CHARS);
    }

    #[test]
    fn no_choices_is_a_bad_answer() {
        assert!(bad(200, r#"{"choices":[]}"#).contains("no choices"));
        assert!(bad(200, r#"{"choices":null}"#).contains("no choices"));
        assert!(bad(200, r#"{"id":"x"}"#).contains("no choices"));
        let detail = bad(200, r#"{"error":{"message":"model overloaded"}}"#);
        assert!(detail.contains("model overloaded"), "{detail}");
    }

    #[test]
    fn non_json_bodies_are_bad_answers() {
        bad(200, "");
        bad(200, "<html><body>502 Bad Gateway</body></html>");
        bad(200, r#"{"choices":[]} trailing"#);
        bad(200, "[1,2,3]");
        let detail = match parse_answer(200, json(), b"{\"choices\":[\xff]}") {
            Err(UpstreamError::BadAnswer(detail)) => detail,
            other => panic!("expected BadAnswer, got {other:?}"),
        };
        assert!(detail.contains("not UTF-8 (from byte 12)"), "{detail}");
    }

    #[test]
    fn content_type_must_be_json_or_absent() {
        let body = br#"{"choices":[{"message":{"content":"{}"}}]}"#;
        let with = |content_type: Option<&'static [u8]>| {
            parse_answer(
                200,
                AnswerHeaders {
                    content_type,
                    ..AnswerHeaders::default()
                },
                body,
            )
        };
        for accepted in [
            None,
            Some(&b"application/json"[..]),
            Some(b"Application/JSON; charset=utf-8"),
            Some(b"application/vnd.api+json"),
        ] {
            assert!(with(accepted).is_ok(), "{accepted:?}");
        }
        for rejected in [
            &b"text/html; charset=utf-8"[..],
            b"text/event-stream",
            b"text/plain",
            b"+json",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(with(Some(rejected)), Err(UpstreamError::BadAnswer(_))),
                "{rejected:?}"
            );
        }
    }

    #[test]
    fn statuses_are_classified() {
        let class = |status: u16| match parse_answer(status, json(), b"{\"error\":\"x\"}") {
            Ok(_) => "ok",
            Err(UpstreamError::Throttled { .. }) => "throttled",
            Err(UpstreamError::Unavailable { .. }) => "unavailable",
            Err(UpstreamError::Timeout) => "timeout",
            Err(UpstreamError::BadAnswer(_)) => "bad",
            Err(UpstreamError::Misconfigured(_)) => "misconfigured",
        };
        let expected = [
            (100, "bad"),
            (301, "misconfigured"),
            (400, "misconfigured"),
            (401, "misconfigured"),
            (403, "misconfigured"),
            (404, "misconfigured"),
            (408, "timeout"),
            (422, "misconfigured"),
            (429, "throttled"),
            (500, "bad"),
            (502, "bad"),
            (503, "unavailable"),
            (504, "timeout"),
            (529, "bad"),
            (600, "bad"),
            (0, "bad"),
        ];
        for (status, class_name) in expected {
            assert_eq!(class(status), class_name, "HTTP {status}");
        }
    }

    #[test]
    fn error_details_keep_status_and_a_short_one_line_excerpt() {
        let body = format!("{{\"error\":\n\"{}\"}}", "é".repeat(1000));
        let Err(UpstreamError::Misconfigured(detail)) = parse_answer(400, json(), body.as_bytes())
        else {
            panic!("expected Misconfigured");
        };
        assert!(
            detail.starts_with("HTTP 400 (request rejected): {\"error\": \"é"),
            "{detail}"
        );
        assert!(detail.ends_with('…'), "{detail}");
        assert!(!detail.contains('\n'));
        let excerpt_chars = detail.split_once("): ").map(|(_, e)| e.chars().count());
        assert_eq!(excerpt_chars, Some(EXCERPT_CHARS + 1));
        assert_eq!(excerpt(b""), "(empty body)");
        assert_eq!(excerpt(b"short\n"), "short");
        assert_eq!(excerpt(b"bad \xff byte"), "bad \u{fffd} byte");
    }

    fn headers<'a>(retry_after: Option<&'a str>, millis: Option<&'a str>) -> AnswerHeaders<'a> {
        AnswerHeaders {
            content_type: None,
            retry_after: retry_after.map(str::as_bytes),
            retry_after_ms: millis.map(str::as_bytes),
        }
    }

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates_and_is_capped() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00Z
        let wait = |seconds, millis| retry_after(headers(seconds, millis), now);
        assert_eq!(wait(Some("7"), None), Some(Duration::from_secs(7)));
        assert_eq!(wait(Some(" 7 "), None), Some(Duration::from_secs(7)));
        assert_eq!(wait(Some("0"), None), Some(Duration::ZERO));
        assert_eq!(wait(Some("3600"), None), Some(MAX_RETRY_AFTER));
        assert_eq!(
            wait(Some("99999999999999999999999999"), None),
            Some(MAX_RETRY_AFTER)
        );
        // OpenAI's milliseconds win over the seconds.
        assert_eq!(
            wait(Some("7"), Some("1500")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            wait(None, Some("250.5")).map(|d| d.as_micros()),
            Some(250_500)
        );
        assert_eq!(
            wait(Some("Wed, 21 Oct 2015 07:28:30 GMT"), None),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            wait(Some("Wed, 21 Oct 2015 07:00:00 GMT"), None),
            Some(Duration::ZERO)
        );
        assert_eq!(
            wait(Some("Thu, 22 Oct 2015 07:28:00 GMT"), None),
            Some(MAX_RETRY_AFTER)
        );
        for unreadable in ["-5", "soon", "inf", "NaN", "1e3", ""] {
            assert_eq!(wait(Some(unreadable), None), None, "{unreadable:?}");
        }
        assert_eq!(wait(None, Some("NaN")), None);
        assert_eq!(wait(None, None), None);
    }

    #[test]
    fn throttling_and_unavailability_keep_retry_after() {
        let with_retry = AnswerHeaders {
            retry_after: Some(b"12"),
            ..json()
        };
        assert!(matches!(
            parse_answer(429, with_retry, b"slow down"),
            Err(UpstreamError::Throttled { retry_after: Some(d), detail })
                if d == Duration::from_secs(12) && detail.contains("429") && detail.contains("slow down")
        ));
        assert!(matches!(
            parse_answer(503, with_retry, b""),
            Err(UpstreamError::Unavailable { retry_after: Some(d), .. }) if d == Duration::from_secs(12)
        ));
        assert!(matches!(
            parse_answer(429, json(), b""),
            Err(UpstreamError::Throttled {
                retry_after: None,
                ..
            })
        ));
    }

    /// A deterministic stand-in for the fuzz target, run with every `cargo test`: truncations and
    /// byte flips of a real answer, under every status class, never panic and keep the cap.
    #[test]
    fn mangled_answers_never_panic() {
        let answer = br#"{"model":"m","choices":[{"message":{"content":[{"type":"text","text":"{}"}],"refusal":null},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":0}}}"#;
        let retry = AnswerHeaders {
            content_type: Some(b"application/json"),
            retry_after: Some(b"Wed, 21 Oct 2015 07:28:00 GMT"),
            retry_after_ms: Some(b"12.5"),
        };
        for status in [200, 429, 503, 404] {
            for end in 0..=answer.len() {
                let _ = parse_answer(status, retry, &answer[..end]);
            }
            for at in 0..answer.len() {
                for byte in [b'"', b'{', b']', 0xff, b'0', b'n'] {
                    let mut mangled = answer.to_vec();
                    mangled[at] = byte;
                    if let Err(UpstreamError::Throttled {
                        retry_after: Some(d),
                        ..
                    }) = parse_answer(status, retry, &mangled)
                    {
                        assert!(d <= MAX_RETRY_AFTER);
                    }
                }
            }
        }
    }
}
