//! Fuzzes `shared::provider::openai::parse_answer`, the reading of an OpenAI-compatible server's
//! answer (the request parsing targets' counterpart on the upstream side). Whatever status,
//! headers and body arrive, it returns (never panics), a retry delay never exceeds
//! `MAX_RETRY_AFTER`, an error's text stays within `MAX_DETAIL_CHARS` (so an upstream cannot
//! flood the log) and an answer's upstream-named fields stay short.
//!
//! Input layout: byte 0 picks the status (below 0x80: 200, so most inputs reach the JSON parser),
//! byte 1 the content type, then the `Retry-After` value up to the first `\n`, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::provider::generative::{StopReason, UpstreamError};
use shared::provider::openai::{AnswerHeaders, MAX_DETAIL_CHARS, MAX_RETRY_AFTER, parse_answer};

const STATUSES: [u16; 18] = [
    200, 201, 204, 301, 400, 401, 403, 404, 408, 422, 429, 500, 502, 503, 504, 529, 0, 999,
];

const CONTENT_TYPES: [Option<&[u8]>; 6] = [
    None,
    Some(b"application/json"),
    Some(b"application/json; charset=utf-8"),
    Some(b"application/problem+json"),
    Some(b"text/html"),
    Some(b"text/event-stream"),
];

fuzz_target!(|data: &[u8]| {
    let status = match data.first() {
        Some(&b) if b >= 0x80 => STATUSES[usize::from(b) % STATUSES.len()],
        _ => 200,
    };
    let content_type =
        CONTENT_TYPES[usize::from(data.get(1).copied().unwrap_or(1)) % CONTENT_TYPES.len()];
    let rest = data.get(2..).unwrap_or_default();
    let (retry_after, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let headers = AnswerHeaders {
        content_type,
        retry_after,
        retry_after_ms: None,
    };

    match parse_answer(status, headers, body) {
        Ok(answer) => {
            assert!((200..300).contains(&status), "an answer from HTTP {status}");
            if let StopReason::Other(reason) = &answer.stop {
                assert!(
                    reason.chars().count() <= 128,
                    "stop reason of {} chars",
                    reason.len()
                );
            }
            if let Some(model) = &answer.model {
                assert!(
                    model.chars().count() <= 128,
                    "model of {} chars",
                    model.len()
                );
            }
        }
        Err(error) => {
            if let UpstreamError::Throttled {
                retry_after: Some(wait),
                ..
            }
            | UpstreamError::Unavailable {
                retry_after: Some(wait),
                ..
            } = &error
            {
                assert!(*wait <= MAX_RETRY_AFTER, "retry after {wait:?}");
            }
            let text = error.to_string();
            assert!(
                text.chars().count() <= MAX_DETAIL_CHARS + 64,
                "detail of {} chars",
                text.len()
            );
        }
    }
});
