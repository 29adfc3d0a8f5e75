//! [`OpenAiChat`]: the HTTP client (built once per cold start) and one `chat/completions` call:
//! the wire request built from a [`StructuredCall`], sent and read back within the call's
//! deadline, the body read up to [`MAX_ANSWER_BYTES`], then handed to [`parse_answer`]. A
//! streamed call ([`TextCall`]) is sent the same way; once its response head is in, within the
//! deadline, its body becomes a [`TextStream`] (see [`super::stream`]).

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::answer::{
    AnswerHeaders, EXCERPT_CHARS, MAX_ANSWER_BYTES, classify_status, media_type_essence,
    parse_answer, shorten,
};
use super::stream::text_stream;
use super::wire::{
    ChatRequest, JsonSchemaFormat, RequestMessage, RequestResponseFormat, Role, StreamOptions,
    TextChatRequest,
};
use super::{ApiKey, OpenAiConfigError, OpenAiSettings, ResponseFormat};
use crate::provider::generative::{
    ChatModel, ModelAnswer, StructuredCall, TextCall, TextStream, UpstreamError,
};

/// TCP connect budget. A server that has not accepted a connection by then is down or
/// unreachable; reporting it as unavailable beats spending the rest of the request's deadline.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Pooled connections idle longer than this are dropped rather than reused. Lambda freezes the
/// environment between invocations; a connection kept across a long freeze has usually been
/// closed by the server or a NAT, and reusing it would fail the next call.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The chat port on one OpenAI-compatible server and model. Cheap to share (`Arc`), `Send + Sync`;
/// its connection pool lives as long as it does.
pub struct OpenAiChat {
    client: HttpsClient,
    /// `{base}/chat/completions`, parsed once.
    endpoint: Uri,
    /// `Bearer <key>`, marked sensitive so hyper never prints it.
    authorization: Option<HeaderValue>,
    model: String,
    response_format: ResponseFormat,
}

impl fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiChat")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("response_format", &self.response_format)
            .field("api_key", &self.authorization.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl OpenAiChat {
    /// Checks the settings and builds the client. Nothing is sent: a server that is down is found
    /// by the first call (as `Unavailable`), not at cold start.
    pub fn new(settings: OpenAiSettings) -> Result<OpenAiChat, OpenAiConfigError> {
        let OpenAiSettings {
            base_url,
            model,
            api_key,
            response_format,
        } = settings;
        let model = model.trim().to_owned();
        if model.is_empty() {
            return Err(OpenAiConfigError::EmptyModel);
        }
        let endpoint = chat_completions_endpoint(&base_url)?;
        let authorization = api_key.as_ref().map(bearer).transpose()?;
        let connector = crate::https_connector::connector(
            endpoint.scheme_str() == Some("https"),
            CONNECT_TIMEOUT,
        )
        .map_err(OpenAiConfigError::Tls)?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(OpenAiChat {
            client,
            endpoint,
            authorization,
            model,
            response_format,
        })
    }

    /// Where calls go (`{base}/chat/completions`), for the startup log.
    pub fn endpoint(&self) -> &Uri {
        &self.endpoint
    }

    /// `POST {endpoint}` with a JSON `body`, the key, and what the answer should be (`accept`).
    fn post(
        &self,
        body: Vec<u8>,
        accept: &'static str,
    ) -> Result<Request<Full<Bytes>>, UpstreamError> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, accept);
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| UpstreamError::Misconfigured(format!("request not buildable: {e}")))
    }

    /// Sends the request and waits for the response head; a failure to connect or to get an
    /// answer is [`UpstreamError::Unavailable`].
    async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        self.client.request(request).await.map_err(|error| {
            let what = if error.is_connect() {
                "could not connect to"
            } else {
                "connection failed to"
            };
            UpstreamError::Unavailable {
                retry_after: None,
                detail: format!("{what} {}: {}", self.endpoint, error_chain(&error)),
            }
        })
    }

    /// Sends the request and reads the answer; everything here is inside the caller's timeout.
    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<ModelAnswer, UpstreamError> {
        let response = self.send(request).await?;
        let (parts, body) = response.into_parts();
        let status = parts.status.as_u16();
        let headers = AnswerHeaders::from_map(&parts.headers);
        match read_body(body).await {
            Ok(bytes) => parse_answer(status, headers, &bytes),
            // An error status says more than its unreadable body.
            Err(error) if !parts.status.is_success() => parse_answer(
                status,
                headers,
                format!("(body not read: {error})").as_bytes(),
            ),
            Err(BodyError::TooLarge) => Err(UpstreamError::BadAnswer(format!(
                "answer body larger than {MAX_ANSWER_BYTES} bytes"
            ))),
            Err(BodyError::Transport(detail)) => Err(UpstreamError::Unavailable {
                retry_after: None,
                detail: format!("connection failed while reading the answer: {detail}"),
            }),
        }
    }

    /// Sends a streamed call and checks its response head; inside the caller's timeout. An error
    /// status is classified as for a buffered call (its small body read for the detail); a
    /// success must be an event stream, whose body then becomes the stream.
    async fn open_stream(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<TextStream, UpstreamError> {
        let response = self.send(request).await?;
        let (parts, body) = response.into_parts();
        let headers = AnswerHeaders::from_map(&parts.headers);
        if !parts.status.is_success() {
            let body = match read_body(body).await {
                Ok(bytes) => bytes.to_vec(),
                Err(error) => format!("(body not read: {error})").into_bytes(),
            };
            return Err(classify_status(
                parts.status.as_u16(),
                headers,
                &body,
                SystemTime::now(),
            ));
        }
        let content_type = headers.content_type.unwrap_or_default();
        let essence = media_type_essence(content_type);
        if essence.as_deref() != Some("text/event-stream") {
            // Dropping the body closes the connection: nothing of it is wanted.
            let shown = if content_type.is_empty() {
                "missing".to_owned()
            } else {
                shorten(content_type, EXCERPT_CHARS)
            };
            let hint = if essence.is_some_and(|t| t.ends_with("json")) {
                " (the server may not stream)"
            } else {
                ""
            };
            return Err(UpstreamError::BadAnswer(format!(
                "streamed answer content-type is {shown}, not text/event-stream{hint}"
            )));
        }
        Ok(text_stream(body))
    }
}

#[async_trait]
impl ChatModel for OpenAiChat {
    fn provider(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn call(&self, call: &StructuredCall<'_>) -> Result<ModelAnswer, UpstreamError> {
        if call.deadline.remaining().is_zero() {
            return Err(UpstreamError::Timeout);
        }
        let body = serde_json::to_vec(&chat_request(&self.model, self.response_format, call))
            .map_err(|e| UpstreamError::Misconfigured(format!("request not serialisable: {e}")))?;
        let request = self.post(body, "application/json")?;

        let started = tokio::time::Instant::now();
        // One bound over connect, send and the whole body: the deadline is the request's, not a
        // per-phase budget, and whatever is in flight is dropped (connection included) when it
        // passes.
        let result = tokio::time::timeout_at(call.deadline.instant(), self.exchange(request))
            .await
            .unwrap_or(Err(UpstreamError::Timeout));
        tracing::debug!(
            intent = call.intent,
            model = %self.model,
            elapsed_ms = started.elapsed().as_millis() as u64,
            outcome = match &result {
                Ok(answer) => answer.stop.as_str().to_owned(),
                Err(error) => error.to_string(),
            },
            "openai chat/completions call"
        );
        result
    }

    async fn stream_text(&self, call: &TextCall<'_>) -> Result<TextStream, UpstreamError> {
        if call.deadline.remaining().is_zero() {
            return Err(UpstreamError::Timeout);
        }
        let body = serde_json::to_vec(&text_request(&self.model, call))
            .map_err(|e| UpstreamError::Misconfigured(format!("request not serialisable: {e}")))?;
        let request = self.post(body, "text/event-stream")?;

        let started = tokio::time::Instant::now();
        // Bounds connect, send and the response head (and an error status's body); the stream
        // that follows is bounded by its caller, which alone knows how long it may run.
        let result = tokio::time::timeout_at(call.deadline.instant(), self.open_stream(request))
            .await
            .unwrap_or(Err(UpstreamError::Timeout));
        tracing::debug!(
            intent = call.intent,
            model = %self.model,
            elapsed_ms = started.elapsed().as_millis() as u64,
            outcome = match &result {
                Ok(_) => "streaming".to_owned(),
                Err(error) => error.to_string(),
            },
            "openai chat/completions stream opened"
        );
        result
    }
}

/// The conversation every call starts with: the system prompt, then the user turn.
fn opening_messages<'a>(system: Cow<'a, str>, user: &'a str) -> Vec<RequestMessage<'a>> {
    vec![
        RequestMessage {
            role: Role::System,
            content: system,
        },
        RequestMessage {
            role: Role::User,
            content: Cow::Borrowed(user),
        },
    ]
}

/// The one place a [`TextCall`] becomes the wire request: plain text, streamed, with the usage
/// of the whole call in a last chunk.
fn text_request<'a>(model: &'a str, call: &'a TextCall<'_>) -> TextChatRequest<'a> {
    TextChatRequest {
        model,
        messages: opening_messages(Cow::Borrowed(call.system), call.user),
        temperature: 0.0,
        max_tokens: call.max_tokens,
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
        },
    }
}

/// The one place a [`StructuredCall`] becomes the wire request.
fn chat_request<'a>(
    model: &'a str,
    format: ResponseFormat,
    call: &'a StructuredCall<'_>,
) -> ChatRequest<'a> {
    let system = match format {
        ResponseFormat::JsonSchema => Cow::Borrowed(call.system),
        // The server never sees the schema in this mode, so the prompt has to carry it.
        // `Value`'s `Display` is compact JSON.
        ResponseFormat::JsonObject => Cow::Owned(format!(
            "{}\n\nAnswer with one JSON object that follows this JSON schema exactly:\n{}",
            call.system, call.schema.schema
        )),
    };
    let mut messages = opening_messages(system, call.user);
    if let Some(repair) = call.repair {
        messages.push(RequestMessage {
            role: Role::Assistant,
            content: Cow::Borrowed(repair.previous_answer),
        });
        messages.push(RequestMessage {
            role: Role::User,
            content: Cow::Owned(format!(
                "Your previous answer was rejected:\n{}\nAnswer again with one JSON document that \
                 follows the schema exactly.",
                repair.errors
            )),
        });
    }
    let response_format = match format {
        ResponseFormat::JsonSchema => RequestResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: call.schema.name,
                strict: true,
                schema: &call.schema.schema,
            },
        },
        ResponseFormat::JsonObject => RequestResponseFormat::JsonObject,
    };
    ChatRequest {
        model,
        messages,
        temperature: 0.0,
        max_tokens: call.max_tokens,
        response_format,
    }
}

/// `{base}/chat/completions`, from an absolute http(s) base URL without query, fragment or
/// credentials (a key belongs in [`ApiKey`], where it is kept out of logs; a URL is logged).
fn chat_completions_endpoint(base_url: &str) -> Result<Uri, OpenAiConfigError> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let invalid = |reason: &str| OpenAiConfigError::InvalidBaseUrl {
        // Never echo what could be credentials.
        url: if trimmed.contains('@') {
            "(redacted: holds credentials)".to_owned()
        } else {
            trimmed.to_owned()
        },
        reason: reason.to_owned(),
    };
    let base: Uri = trimmed
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?;
    match base.scheme_str() {
        Some("http" | "https") => {}
        Some(_) => return Err(invalid("the scheme must be http or https")),
        None => return Err(invalid("no scheme (http:// or https://)")),
    }
    let Some(authority) = base.authority() else {
        return Err(invalid("no host"));
    };
    if authority.host().is_empty() {
        return Err(invalid("no host"));
    }
    if authority.as_str().contains('@') {
        return Err(invalid("credentials in the URL; set the API key instead"));
    }
    if base.query().is_some() || trimmed.contains('#') {
        return Err(invalid("a query or fragment"));
    }
    format!("{trimmed}/chat/completions")
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))
}

/// `Bearer <key>` as a sensitive header value. Surrounding whitespace (a secret stored with a
/// trailing newline) is dropped; a key that is empty or not header-safe is refused.
fn bearer(key: &ApiKey) -> Result<HeaderValue, OpenAiConfigError> {
    let key = key.expose().trim();
    if key.is_empty() {
        return Err(OpenAiConfigError::EmptyApiKey);
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_| OpenAiConfigError::InvalidApiKey)?;
    value.set_sensitive(true);
    Ok(value)
}

#[derive(Debug)]
enum BodyError {
    TooLarge,
    Transport(String),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge => write!(f, "larger than {MAX_ANSWER_BYTES} bytes"),
            BodyError::Transport(detail) => f.write_str(detail),
        }
    }
}

/// Reads at most [`MAX_ANSWER_BYTES`]: past that the read stops with an error, so nothing larger
/// is buffered. A declared `content-length` over the cap stops it before any byte is read.
async fn read_body<B>(body: B) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if body.size_hint().lower() > MAX_ANSWER_BYTES as u64 {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, MAX_ANSWER_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(BodyError::TooLarge)
        }
        Err(error) => Err(BodyError::Transport(error_chain(&*error))),
    }
}

/// An error and its sources on one line: hyper's own message ("client error (Connect)") says
/// little; the cause ("Connection refused") is in the chain.
pub(super) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    use hyper::body::Frame;

    use super::*;

    /// A body that never ends and declares no length, counting what it hands out.
    struct Endless(Arc<AtomicUsize>);

    const CHUNK: usize = 64 * 1024;

    impl Body for Endless {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            self.0.fetch_add(CHUNK, Ordering::Relaxed);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; CHUNK])))))
        }
    }

    #[tokio::test]
    async fn an_endless_body_is_cut_at_the_cap_not_buffered() {
        let served = Arc::new(AtomicUsize::new(0));
        let result = read_body(Endless(Arc::clone(&served))).await;
        assert!(matches!(result, Err(BodyError::TooLarge)), "{result:?}");
        let served = served.load(Ordering::Relaxed);
        assert!(served > MAX_ANSWER_BYTES, "{served}");
        assert!(served <= MAX_ANSWER_BYTES + CHUNK, "{served}");
    }

    #[tokio::test]
    async fn a_body_at_the_cap_is_read_whole() {
        let body = Full::new(Bytes::from(vec![b'x'; MAX_ANSWER_BYTES]));
        let bytes = read_body(body).await.expect("at the cap is allowed");
        assert_eq!(bytes.len(), MAX_ANSWER_BYTES);
        let body = Full::new(Bytes::from(vec![b'x'; MAX_ANSWER_BYTES + 1]));
        assert!(matches!(read_body(body).await, Err(BodyError::TooLarge)));
    }
}
