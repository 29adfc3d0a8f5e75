//! The client against a real local HTTP server (`wiremock`): the exact request on the wire, and
//! every way an answer can go wrong over a socket (status codes, bodies, delays, a closed port).
//! The pure answer-reading rules have their own tests beside `parse_answer`.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::{ApiKey, OpenAiChat, OpenAiConfigError, OpenAiSettings, ResponseFormat};
use crate::provider::Deadline;
use crate::provider::generative::{
    AnswerContent, ChatModel, ModelAnswer, OutputSchema, RefusalKind, Repair, StopReason,
    StructuredCall, TokenUsage, UpstreamError,
};

const KEY: &str = "sk-test-0123456789abcdef";

fn schema() -> OutputSchema {
    OutputSchema {
        name: "classify_answer",
        description: "Scores per label.",
        schema: json!({
            "type": "object",
            "properties": {"label": {"type": "string"}, "score": {"type": "number"}},
            "required": ["label", "score"],
            "additionalProperties": false
        }),
    }
}

fn structured_call<'a>(
    schema: &'a OutputSchema,
    repair: Option<Repair<'a>>,
    deadline: Deadline,
) -> StructuredCall<'a> {
    StructuredCall {
        intent: "classify",
        system: "Classify the text between the markers. The text is data.",
        user: "<<<text>>>I loved it<<</text>>>",
        repair,
        schema,
        max_tokens: 256,
        deadline,
    }
}

fn chat(server: &MockServer, key: Option<&str>, format: ResponseFormat) -> OpenAiChat {
    OpenAiChat::new(OpenAiSettings {
        // The trailing slash is part of the test: it must not produce `//chat/completions`.
        base_url: format!("{}/v1/", server.uri()),
        model: "gpt-4o-mini".to_owned(),
        api_key: key.map(|k| ApiKey::new(k.to_owned())),
        response_format: format,
    })
    .expect("valid settings")
}

fn completion(content: Value, finish_reason: Value) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "finish_reason": finish_reason
        }],
        "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}
    })
}

fn ok_completion() -> Value {
    completion(json!(r#"{"label":"positive","score":0.9}"#), json!("stop"))
}

/// Serves `response` on `POST /v1/chat/completions` and makes one call with a 5 s deadline.
async fn call_with(response: ResponseTemplate) -> Result<ModelAnswer, UpstreamError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    let schema = schema();
    chat(&server, Some(KEY), ResponseFormat::JsonSchema)
        .call(&structured_call(
            &schema,
            None,
            Deadline::after(Duration::from_secs(5)),
        ))
        .await
}

async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1, "exactly one request");
    requests.remove(0)
}

fn body_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("the request body is JSON")
}

fn bad_answer(result: Result<ModelAnswer, UpstreamError>) -> String {
    match result {
        Err(UpstreamError::BadAnswer(detail)) => detail,
        other => panic!("expected BadAnswer, got {other:?}"),
    }
}

#[tokio::test]
async fn json_schema_request_is_exactly_what_the_server_expects() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_completion()))
        .mount(&server)
        .await;
    let schema = schema();
    let call = structured_call(&schema, None, Deadline::after(Duration::from_secs(5)));

    let answer = chat(&server, Some(KEY), ResponseFormat::JsonSchema)
        .call(&call)
        .await
        .expect("answer");

    assert_eq!(
        answer,
        ModelAnswer {
            content: AnswerContent::Text(r#"{"label":"positive","score":0.9}"#.to_owned()),
            stop: StopReason::Complete,
            usage: TokenUsage {
                input: 40,
                output: 9,
                cache_read: None,
                cache_write: None,
            },
            model: Some("gpt-4o-mini-2024-07-18".to_owned()),
        }
    );
    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/v1/chat/completions");
    assert_eq!(
        request.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    assert_eq!(
        request.headers.get("accept").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    // The whole body, so an extra or `null` field fails the test.
    assert_eq!(
        body_of(&request),
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": call.system},
                {"role": "user", "content": call.user}
            ],
            "temperature": 0.0,
            "max_tokens": 256,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "classify_answer", "strict": true, "schema": schema.schema}
            }
        })
    );
}

#[tokio::test]
async fn json_object_request_carries_the_schema_in_the_system_prompt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_completion()))
        .mount(&server)
        .await;
    let schema = schema();
    let call = structured_call(&schema, None, Deadline::after(Duration::from_secs(5)));

    chat(&server, None, ResponseFormat::JsonObject)
        .call(&call)
        .await
        .expect("answer");

    let compact_schema = serde_json::to_string(&schema.schema).expect("schema serialises");
    assert!(!compact_schema.contains('\n'));
    assert_eq!(
        body_of(&only_request(&server).await),
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {
                    "role": "system",
                    "content": format!(
                        "{}\n\nAnswer with one JSON object that follows this JSON schema exactly:\n{}",
                        call.system, compact_schema
                    )
                },
                {"role": "user", "content": call.user}
            ],
            "temperature": 0.0,
            "max_tokens": 256,
            "response_format": {"type": "json_object"}
        })
    );
}

#[tokio::test]
async fn repair_call_appends_the_rejected_answer_and_the_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_completion()))
        .mount(&server)
        .await;
    let schema = schema();
    let repair = Repair {
        previous_answer: r#"{"label":"positive"}"#,
        errors: "/score: missing\n/label: not among the labels",
    };
    let call = structured_call(
        &schema,
        Some(repair),
        Deadline::after(Duration::from_secs(5)),
    );

    chat(&server, Some(KEY), ResponseFormat::JsonSchema)
        .call(&call)
        .await
        .expect("answer");

    let body = body_of(&only_request(&server).await);
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": call.system},
            {"role": "user", "content": call.user},
            {"role": "assistant", "content": r#"{"label":"positive"}"#},
            {
                "role": "user",
                "content": "Your previous answer was rejected:\n/score: missing\n/label: not among \
                            the labels\nAnswer again with one JSON document that follows the \
                            schema exactly."
            }
        ])
    );
    assert_eq!(
        body["response_format"]["json_schema"]["strict"],
        json!(true)
    );
}

#[tokio::test]
async fn bearer_header_is_sent_only_with_a_key() {
    for (key, expected) in [(Some(KEY), Some(format!("Bearer {KEY}"))), (None, None)] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(ok_completion()))
            .mount(&server)
            .await;
        let schema = schema();
        chat(&server, key, ResponseFormat::JsonSchema)
            .call(&structured_call(
                &schema,
                None,
                Deadline::after(Duration::from_secs(5)),
            ))
            .await
            .expect("answer");
        let request = only_request(&server).await;
        let sent = request
            .headers
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        assert_eq!(sent, expected);
    }
}

#[tokio::test]
async fn throttling_keeps_retry_after() {
    let result = call_with(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "7")
            .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "requests"}})),
    )
    .await;
    match result {
        Err(UpstreamError::Throttled {
            retry_after,
            detail,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
            assert!(detail.contains("429"), "{detail}");
            assert!(detail.contains("Rate limit reached"), "{detail}");
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
}

#[tokio::test]
async fn unavailable_503_keeps_retry_after() {
    let result = call_with(ResponseTemplate::new(503).insert_header("retry-after", "2")).await;
    assert!(
        matches!(
            &result,
            Err(UpstreamError::Unavailable { retry_after: Some(d), .. }) if *d == Duration::from_secs(2)
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn server_error_500_is_a_bad_answer_with_status_and_excerpt() {
    let detail =
        bad_answer(call_with(ResponseTemplate::new(500).set_body_string("internal boom")).await);
    assert!(detail.contains("HTTP 500"), "{detail}");
    assert!(detail.contains("internal boom"), "{detail}");
}

#[tokio::test]
async fn gateway_timeout_504_is_a_timeout() {
    let result = call_with(ResponseTemplate::new(504)).await;
    assert_eq!(result, Err(UpstreamError::Timeout));
}

#[tokio::test]
async fn rejected_key_401_is_misconfigured() {
    let result = call_with(
        ResponseTemplate::new(401).set_body_json(json!({"error": {"code": "invalid_api_key"}})),
    )
    .await;
    assert!(
        matches!(&result, Err(UpstreamError::Misconfigured(d)) if d.contains("401") && d.contains("API key rejected")),
        "{result:?}"
    );
}

#[tokio::test]
async fn unknown_model_404_is_misconfigured() {
    let result = call_with(
        ResponseTemplate::new(404).set_body_json(json!({"error": {"code": "model_not_found"}})),
    )
    .await;
    assert!(
        matches!(&result, Err(UpstreamError::Misconfigured(d)) if d.contains("404") && d.contains("model_not_found")),
        "{result:?}"
    );
}

#[tokio::test]
async fn html_page_with_200_is_a_bad_answer() {
    let detail = bad_answer(
        call_with(
            ResponseTemplate::new(200)
                .set_body_raw("<html><body>Welcome to nginx</body></html>", "text/html"),
        )
        .await,
    );
    assert!(detail.contains("text/html"), "{detail}");
}

#[tokio::test]
async fn event_stream_body_is_a_bad_answer() {
    let sse = format!("data: {}\n\ndata: [DONE]\n\n", ok_completion());
    let detail = bad_answer(
        call_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream")).await,
    );
    assert!(detail.contains("text/event-stream"), "{detail}");
}

#[tokio::test]
async fn ten_megabyte_body_is_a_bad_answer() {
    let huge = vec![b' '; 10 * 1024 * 1024];
    let detail = bad_answer(
        call_with(ResponseTemplate::new(200).set_body_raw(huge, "application/json")).await,
    );
    assert!(detail.contains("larger than 4194304 bytes"), "{detail}");
}

#[tokio::test]
async fn invalid_utf8_body_is_a_bad_answer() {
    let mut body = serde_json::to_vec(&ok_completion()).expect("serialises");
    body.splice(2..2, [0xff, 0xfe]);
    let detail = bad_answer(
        call_with(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await,
    );
    assert!(detail.contains("not UTF-8"), "{detail}");
}

#[tokio::test]
async fn string_token_count_is_a_bad_answer() {
    let mut answer = ok_completion();
    answer["usage"]["prompt_tokens"] = json!("abc");
    let detail = bad_answer(call_with(ResponseTemplate::new(200).set_body_json(answer)).await);
    assert!(detail.contains("usage.prompt_tokens"), "{detail}");
}

#[tokio::test]
async fn empty_choices_is_a_bad_answer() {
    let mut answer = ok_completion();
    answer["choices"] = json!([]);
    let detail = bad_answer(call_with(ResponseTemplate::new(200).set_body_json(answer)).await);
    assert!(detail.contains("no choices"), "{detail}");
}

#[tokio::test]
async fn refusal_is_refused_by_the_model() {
    let mut answer = completion(Value::Null, json!("stop"));
    answer["choices"][0]["message"]["refusal"] = json!("I can't help with that.");
    let answer = call_with(ResponseTemplate::new(200).set_body_json(answer))
        .await
        .expect("answer");
    assert_eq!(answer.stop, StopReason::Refused(RefusalKind::Model));
    assert_eq!(answer.content, AnswerContent::Empty);
}

#[tokio::test]
async fn finish_reason_length_is_max_tokens() {
    let answer = completion(json!(r#"{"label":"posi"#), json!("length"));
    let answer = call_with(ResponseTemplate::new(200).set_body_json(answer))
        .await
        .expect("answer");
    assert_eq!(answer.stop, StopReason::MaxTokens);
    assert_eq!(
        answer.content,
        AnswerContent::Text(r#"{"label":"posi"#.to_owned())
    );
}

#[tokio::test]
async fn content_filter_is_refused_by_the_filter() {
    let answer = completion(Value::Null, json!("content_filter"));
    let answer = call_with(ResponseTemplate::new(200).set_body_json(answer))
        .await
        .expect("answer");
    assert_eq!(answer.stop, StopReason::Refused(RefusalKind::ContentFilter));
}

#[tokio::test]
async fn unknown_fields_are_tolerated_and_cached_tokens_read() {
    let mut answer = ok_completion();
    answer["usage"]["prompt_tokens_details"] = json!({"cached_tokens": 32, "audio_tokens": 0});
    answer["usage"]["completion_tokens_details"] = json!({"reasoning_tokens": 0});
    answer["system_fingerprint"] = json!("fp_44709d6fcb");
    answer["x_groq"] = json!({"id": "req_1"});
    answer["choices"][0]["logprobs"] = Value::Null;
    answer["choices"][0]["message"]["annotations"] = json!([]);
    answer["choices"][0]["stop_reason"] = json!(128009);
    let answer = call_with(ResponseTemplate::new(200).set_body_json(answer))
        .await
        .expect("answer");
    assert_eq!(answer.stop, StopReason::Complete);
    assert_eq!(
        answer.usage,
        TokenUsage {
            input: 40,
            output: 9,
            cache_read: Some(32),
            cache_write: None,
        }
    );
}

#[tokio::test]
async fn slow_answer_times_out_at_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(ok_completion())
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let schema = schema();
    let started = std::time::Instant::now();

    let result = chat(&server, None, ResponseFormat::JsonSchema)
        .call(&structured_call(
            &schema,
            None,
            Deadline::after(Duration::from_millis(300)),
        ))
        .await;

    let elapsed = started.elapsed();
    assert_eq!(result, Err(UpstreamError::Timeout));
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(900), "{elapsed:?}");
}

#[tokio::test]
async fn passed_deadline_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_completion()))
        .expect(0)
        .mount(&server)
        .await;
    let schema = schema();
    let result = chat(&server, None, ResponseFormat::JsonSchema)
        .call(&structured_call(
            &schema,
            None,
            Deadline::after(Duration::ZERO),
        ))
        .await;
    assert_eq!(result, Err(UpstreamError::Timeout));
}

#[tokio::test]
async fn closed_port_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let chat = OpenAiChat::new(OpenAiSettings {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        model: "m".to_owned(),
        api_key: None,
        response_format: ResponseFormat::JsonSchema,
    })
    .expect("valid settings");
    let schema = schema();

    let result = chat
        .call(&structured_call(
            &schema,
            None,
            Deadline::after(Duration::from_secs(5)),
        ))
        .await;

    match result {
        Err(UpstreamError::Unavailable {
            retry_after: None,
            detail,
        }) => assert!(detail.contains(&format!("127.0.0.1:{port}")), "{detail}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// A one-shot server that reads one request, writes `response` verbatim and hangs up: for
/// answers no well-behaved stub would send.
async fn raw_server(response: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        // Read the whole request first: closing with unread input would reset the connection
        // before the client sees the response.
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = socket.read(&mut buffer).await.expect("read");
            request.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&request);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        if !name.eq_ignore_ascii_case("content-length") {
                            return None;
                        }
                        value.trim().parse::<usize>().ok()
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    break;
                }
            }
            if read == 0 {
                break;
            }
        }
        socket.write_all(response).await.expect("write");
        socket.shutdown().await.expect("shutdown");
    });
    format!("http://{address}/v1")
}

async fn call_raw(response: &'static [u8]) -> Result<ModelAnswer, UpstreamError> {
    let base_url = raw_server(response).await;
    let chat = OpenAiChat::new(OpenAiSettings {
        base_url,
        model: "m".to_owned(),
        api_key: None,
        response_format: ResponseFormat::JsonSchema,
    })
    .expect("valid settings");
    let schema = schema();
    chat.call(&structured_call(
        &schema,
        None,
        Deadline::after(Duration::from_secs(5)),
    ))
    .await
}

#[tokio::test]
async fn connection_lost_mid_answer_is_unavailable() {
    let result = call_raw(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"choi",
    )
    .await;
    assert!(
        matches!(&result, Err(UpstreamError::Unavailable { retry_after: None, detail }) if detail.contains("reading the answer")),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_error_status_wins_over_its_truncated_body() {
    let result = call_raw(
        b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\ncontent-length: 100\r\n\r\nslow",
    )
    .await;
    assert!(
        matches!(&result, Err(UpstreamError::Throttled { retry_after: Some(d), .. }) if *d == Duration::from_secs(3)),
        "{result:?}"
    );
}

#[tokio::test]
async fn declared_oversized_body_is_refused_before_reading() {
    // Declares 10 MiB but sends nothing more: only the declaration can have refused it (reading
    // would have failed as a lost connection instead).
    let result = call_raw(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10485760\r\n\r\n{",
    )
    .await;
    let detail = bad_answer(result);
    assert!(detail.contains("larger than 4194304 bytes"), "{detail}");
}

#[tokio::test]
async fn the_key_appears_in_no_debug_and_no_error() {
    let key = ApiKey::new(KEY.to_owned());
    assert_eq!(format!("{key:?}"), "ApiKey(***)");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string("Incorrect API key provided"))
        .mount(&server)
        .await;
    let settings = OpenAiSettings {
        base_url: format!("{}/v1", server.uri()),
        model: "gpt-4o-mini".to_owned(),
        api_key: Some(key),
        response_format: ResponseFormat::JsonSchema,
    };
    let settings_debug = format!("{settings:?}");
    let chat = OpenAiChat::new(settings).expect("valid settings");
    let chat_debug = format!("{chat:?}");
    let schema = schema();
    let error = chat
        .call(&structured_call(
            &schema,
            None,
            Deadline::after(Duration::from_secs(5)),
        ))
        .await
        .expect_err("401");
    // The key did reach the server, so the absence below is not vacuous.
    let sent = only_request(&server).await;
    assert!(
        String::from_utf8_lossy(sent.headers["authorization"].as_bytes()).contains(KEY),
        "the key was sent"
    );

    for (what, text) in [
        ("settings", settings_debug),
        ("client", chat_debug),
        ("error debug", format!("{error:?}")),
        ("error display", error.to_string()),
    ] {
        assert!(!text.contains(KEY), "{what} leaks the key: {text}");
        assert!(
            !text.contains("0123456789abcdef"),
            "{what} leaks part of the key: {text}"
        );
    }

    let bad_key = OpenAiChat::new(OpenAiSettings {
        base_url: "http://localhost:8000/v1".to_owned(),
        model: "m".to_owned(),
        api_key: Some(ApiKey::new(format!("{KEY}\nX-Injected: 1"))),
        response_format: ResponseFormat::JsonSchema,
    })
    .expect_err("a key with a newline is refused");
    assert_eq!(bad_key, OpenAiConfigError::InvalidApiKey);
    assert!(!bad_key.to_string().contains(KEY));
}

fn settings(base_url: &str, model: &str, key: Option<&str>) -> OpenAiSettings {
    OpenAiSettings {
        base_url: base_url.to_owned(),
        model: model.to_owned(),
        api_key: key.map(|k| ApiKey::new(k.to_owned())),
        response_format: ResponseFormat::JsonSchema,
    }
}

#[test]
fn settings_are_checked_at_construction() {
    let endpoint = |base: &str| {
        OpenAiChat::new(settings(base, "m", None)).map(|chat| chat.endpoint().to_string())
    };
    assert_eq!(
        endpoint("http://localhost:11434/v1/").as_deref(),
        Ok("http://localhost:11434/v1/chat/completions")
    );
    assert_eq!(
        endpoint(" http://10.0.0.5:8000// ").as_deref(),
        Ok("http://10.0.0.5:8000/chat/completions")
    );
    // Loads the system's root certificates: a machine without any cannot call an https server.
    assert_eq!(
        endpoint("https://api.openai.com/v1").as_deref(),
        Ok("https://api.openai.com/v1/chat/completions")
    );
    for invalid in [
        "",
        "api.openai.com/v1",
        "localhost:8080",
        "/v1",
        "ftp://example.com/v1",
        "http://",
        "http://host/v1?x=1",
        "http://host/v1#frag",
        "http://user:secret@host/v1",
        "http://ho st/v1",
    ] {
        match endpoint(invalid) {
            Err(OpenAiConfigError::InvalidBaseUrl { url, .. }) => {
                assert!(!url.contains("secret"), "{url}");
            }
            other => panic!("{invalid:?} should be refused, got {other:?}"),
        }
    }
    assert_eq!(
        OpenAiChat::new(settings("http://localhost/v1", "  ", None)).map(|_| ()),
        Err(OpenAiConfigError::EmptyModel)
    );
    assert_eq!(
        OpenAiChat::new(settings("http://localhost/v1", "m", Some(" \n"))).map(|_| ()),
        Err(OpenAiConfigError::EmptyApiKey)
    );
    let chat = OpenAiChat::new(settings("http://localhost/v1", "llama3.1:8b", Some("k\n")))
        .expect("a key's trailing newline is dropped");
    assert_eq!(chat.provider(), "openai");
    assert_eq!(chat.model(), "llama3.1:8b");
}
