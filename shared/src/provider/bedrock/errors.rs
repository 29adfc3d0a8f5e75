//! A failed Converse or ConverseStream call → the port's [`UpstreamError`], classified so the HTTP
//! status follows from the kind alone. Details are for the log: the error code, the upstream's
//! message (capped) and the request id, which is what an AWS support case asks for. Never the
//! request or the credentials: only `Display` text is used, not the SDK's `Debug` output.

use std::error::Error;
use std::fmt::Debug;

use aws_sdk_bedrockruntime::config::http::HttpResponse;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::RequestId;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;

use crate::provider::generative::UpstreamError;

/// Longest upstream message kept in a detail.
const MAX_MESSAGE_CHARS: usize = 200;

/// Classifies any failure of one Converse or ConverseStream call before its answer arrived (after
/// the SDK's own retries).
pub(super) fn classify<E>(err: &SdkError<E, HttpResponse>) -> UpstreamError
where
    E: ProvideErrorMetadata + Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let status = service.raw().status().as_u16();
            // A body that is not a Bedrock error (an HTML page) has no message; the parse error
            // in the cause chain says what it was.
            let message = e.message().map_or_else(|| chain(e), str::to_owned);
            let detail = detail(e.code(), status, &message, err.request_id());
            service_error(e.code(), status, detail)
        }
        _ => failure(err),
    }
}

/// Classifies a failure in the middle of a ConverseStream answer: an exception message on the
/// stream, a frame that cannot be read, or the connection lost. `request_id` is the one of the
/// call's response (the stream's messages carry none).
///
/// The call was accepted, so nothing here is our misconfiguration: throttling, unavailability and
/// a model timeout keep their kind, anything else (`ModelStreamErrorException`, an internal error,
/// a `ValidationException` on the stream) is an unusable answer.
pub(super) fn classify_event<R>(
    err: &SdkError<ConverseStreamOutputError, R>,
    request_id: Option<&str>,
) -> UpstreamError
where
    R: Debug + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            // The variant comes from the message's `:exception-type`; the code only from a
            // payload that names it, which Bedrock's exception messages need not do.
            let code = match e {
                ConverseStreamOutputError::ThrottlingException(_) => Some("ThrottlingException"),
                ConverseStreamOutputError::ServiceUnavailableException(_) => {
                    Some("ServiceUnavailableException")
                }
                ConverseStreamOutputError::ModelStreamErrorException(_) => {
                    Some("ModelStreamErrorException")
                }
                ConverseStreamOutputError::InternalServerException(_) => {
                    Some("InternalServerException")
                }
                ConverseStreamOutputError::ValidationException(_) => Some("ValidationException"),
                _ => e.code(),
            };
            let message = e.message().map_or_else(|| chain(e), str::to_owned);
            let detail = describe(code, "in the stream", &message, request_id);
            // Status 200: the call was accepted; an unknown code is an unusable answer.
            match service_error(code, 200, detail) {
                UpstreamError::Misconfigured(detail) => UpstreamError::BadAnswer(detail),
                kind => kind,
            }
        }
        _ => failure(err),
    }
}

/// Every failure that is not an error answer from Bedrock.
fn failure<E, R>(err: &SdkError<E, R>) -> UpstreamError
where
    E: Error + 'static,
    R: Debug + 'static,
{
    match err {
        SdkError::TimeoutError(_) => UpstreamError::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => UpstreamError::Timeout,
        // Connection refused or reset, DNS, TLS, or no credentials to sign with (the SDK reports
        // a failed identity lookup here too): nothing reached the model, or the answer was cut.
        SdkError::DispatchFailure(_) => UpstreamError::Unavailable {
            retry_after: None,
            detail: chain(err),
        },
        // A response arrived but could not be read.
        SdkError::ResponseError(_) => UpstreamError::BadAnswer(chain(err)),
        // The request could not be serialised: a setting or a bug on our side.
        SdkError::ConstructionFailure(_) => UpstreamError::Misconfigured(chain(err)),
        // A kind added by a newer runtime: treat it as transient rather than as our bug.
        _ => UpstreamError::Unavailable {
            retry_after: None,
            detail: chain(err),
        },
    }
}

/// A service error by its code first (the code is what Bedrock documents), then by HTTP status
/// for codes it does not document or bodies without one (an HTML page from a proxy).
pub(super) fn service_error(code: Option<&str>, status: u16, detail: String) -> UpstreamError {
    match code {
        Some("ThrottlingException" | "ServiceQuotaExceededException") => {
            UpstreamError::Throttled {
                // Converse sends no Retry-After; the HTTP layer picks a default.
                retry_after: None,
                detail,
            }
        }
        Some("ServiceUnavailableException" | "ModelNotReadyException") => {
            UpstreamError::Unavailable {
                retry_after: None,
                detail,
            }
        }
        Some("ModelTimeoutException") => UpstreamError::Timeout,
        Some("ModelErrorException" | "InternalServerException" | "ModelStreamErrorException") => {
            UpstreamError::BadAnswer(detail)
        }
        Some(
            "ValidationException"
            | "AccessDeniedException"
            | "ResourceNotFoundException"
            | "UnrecognizedClientException",
        ) => UpstreamError::Misconfigured(detail),
        _ => match status {
            429 => UpstreamError::Throttled {
                retry_after: None,
                detail,
            },
            503 => UpstreamError::Unavailable {
                retry_after: None,
                detail,
            },
            400..=499 => UpstreamError::Misconfigured(detail),
            // Other 5xx, and a success status whose body is not a Converse answer.
            _ => UpstreamError::BadAnswer(detail),
        },
    }
}

/// `Code (HTTP status): message (request id …)`, the message capped at [`MAX_MESSAGE_CHARS`].
pub(super) fn detail(
    code: Option<&str>,
    status: u16,
    message: &str,
    request_id: Option<&str>,
) -> String {
    describe(code, &format!("HTTP {status}"), message, request_id)
}

/// `Code (where): message (request id …)`, the message capped at [`MAX_MESSAGE_CHARS`].
fn describe(code: Option<&str>, place: &str, message: &str, request_id: Option<&str>) -> String {
    let code = code.unwrap_or("no error code");
    let mut out = format!("{code} ({place}): {}", capped(message));
    if let Some(id) = request_id {
        out.push_str(" (request id ");
        out.push_str(id);
        out.push(')');
    }
    out
}

/// The error and its causes, `: `-joined (the SDK's own `Display` is only "dispatch failure"),
/// capped.
fn chain(err: &(dyn Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    capped(&out)
}

/// At most [`MAX_MESSAGE_CHARS`] characters, marked when cut.
fn capped(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(e: &UpstreamError) -> &'static str {
        match e {
            UpstreamError::Throttled { .. } => "throttled",
            UpstreamError::Unavailable { .. } => "unavailable",
            UpstreamError::Timeout => "timeout",
            UpstreamError::BadAnswer(_) => "bad answer",
            UpstreamError::Misconfigured(_) => "misconfigured",
        }
    }

    #[test]
    fn documented_codes_map_by_code_whatever_the_status() {
        let cases = [
            ("ThrottlingException", "throttled"),
            ("ServiceQuotaExceededException", "throttled"),
            ("ServiceUnavailableException", "unavailable"),
            ("ModelNotReadyException", "unavailable"),
            ("ModelTimeoutException", "timeout"),
            ("ModelErrorException", "bad answer"),
            ("InternalServerException", "bad answer"),
            ("ModelStreamErrorException", "bad answer"),
            ("ValidationException", "misconfigured"),
            ("AccessDeniedException", "misconfigured"),
            ("ResourceNotFoundException", "misconfigured"),
            ("UnrecognizedClientException", "misconfigured"),
        ];
        for (code, expected) in cases {
            // A status that would map elsewhere proves the code decides.
            let got = service_error(Some(code), 418, String::new());
            assert_eq!(kind(&got), expected, "{code}");
        }
    }

    #[test]
    fn unknown_codes_and_bodies_without_one_map_by_status() {
        let cases = [
            (429, "throttled"),
            (503, "unavailable"),
            (400, "misconfigured"),
            (401, "misconfigured"),
            (500, "bad answer"),
            (502, "bad answer"),
            (504, "bad answer"),
            (200, "bad answer"),
        ];
        for (status, expected) in cases {
            for code in [None, Some("SomethingNewException")] {
                let got = service_error(code, status, String::new());
                assert_eq!(kind(&got), expected, "{status} {code:?}");
            }
        }
    }

    #[test]
    fn the_detail_keeps_the_code_the_status_a_capped_message_and_the_request_id() {
        assert_eq!(
            detail(
                Some("ThrottlingException"),
                429,
                "Too many tokens",
                Some("abc-123")
            ),
            "ThrottlingException (HTTP 429): Too many tokens (request id abc-123)"
        );
        assert_eq!(detail(None, 502, "", None), "no error code (HTTP 502): ");

        let long = "é".repeat(500);
        let got = detail(Some("ValidationException"), 400, &long, None);
        let message = got
            .strip_prefix("ValidationException (HTTP 400): ")
            .expect("code and status first");
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1, "200 + '…'");
        assert!(message.ends_with('…'));
    }
}
