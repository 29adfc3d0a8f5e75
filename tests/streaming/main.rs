//! `POST /v1/summarize/stream` through the real streaming handler: the event sequence for the
//! embedded engine and for a generative model writing token by token (a local server plays the
//! OpenAI-compatible API), what is rejected before the first byte, what ends a stream, and what
//! happens when the client goes away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use api_tests::event::post_json;
use api_tests::token_upstream::{Ending, TokenUpstream};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::http::App;
use shared::provider::SharedProvider;
use shared::provider::generative::GenerativeProvider;
use shared::provider::openai::{OpenAiChat, OpenAiSettings, ResponseFormat};
use shared::routes::Function;
use shared::store::memory::MemoryRequestLog;
use shared::streaming::handler::{SseBody, handle};

const ARTICLE: &str = "The city council approved the new transit budget on Tuesday after a \
four-hour debate. The plan adds 40 electric buses and extends night service on six routes. \
Council members who opposed it said fares may rise next year to cover operating costs. The mayor \
called the vote a turning point for commuters in the eastern districts. Construction of two new \
depots is expected to begin in the spring.";

/// One event as the client saw it.
#[derive(Debug)]
struct Event {
    at: Duration,
    name: String,
    data: Value,
}

struct Streamed {
    status: u16,
    content_type: String,
    events: Vec<Event>,
    comments: usize,
    /// The whole body when it was not an event stream (a problem).
    text: String,
}

struct TestApp {
    app: &'static App,
    log: Arc<MemoryRequestLog>,
}

fn app(provider: Option<SharedProvider>) -> TestApp {
    let log = Arc::new(MemoryRequestLog::default());
    let mut app = App::in_memory(Function::SummarizeStream);
    if let Some(p) = provider {
        app.provider = Some(p);
    }
    app.request_log = log.clone();
    TestApp {
        app: Box::leak(Box::new(app)),
        log,
    }
}

fn openai(base_url: &str) -> SharedProvider {
    let chat = OpenAiChat::new(OpenAiSettings {
        base_url: base_url.to_owned(),
        model: "gpt-4o-mini".to_owned(),
        api_key: None,
        response_format: ResponseFormat::JsonSchema,
    })
    .expect("a valid configuration");
    Arc::new(GenerativeProvider::new(Arc::new(chat)))
}

async fn response(app: &TestApp, method: &str, body: &Value) -> lambda_http::Response<SseBody> {
    let mut event = api_tests::event::rest_event(
        method,
        "/v1/summarize/stream",
        Some("application/json"),
        Some(&body.to_string()),
        "req-stream-test",
    );
    event["resource"] = json!("/v1/summarize/stream");
    let request = lambda_http::request::from_str(&event.to_string()).expect("an event");
    handle(app.app, request).await
}

/// Reads the whole stream, timing each event from the request.
async fn read(app: &TestApp, body: &Value) -> Streamed {
    let started = Instant::now();
    let response = response(app, "POST", body).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut body = response.into_body();
    let mut text = String::new();
    let mut events = Vec::new();
    let mut comments = 0;
    let mut pending = String::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.expect("an infallible frame").into_data() else {
            continue;
        };
        let chunk = String::from_utf8(data.to_vec()).expect("UTF-8 frames");
        text.push_str(&chunk);
        pending.push_str(&chunk);
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending[..end].to_owned();
            pending.drain(..end + 2);
            if block.starts_with(':') {
                comments += 1;
                continue;
            }
            let name = block
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .expect("an event line")
                .to_owned();
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .expect("a data line");
            events.push(Event {
                at: started.elapsed(),
                name,
                data: serde_json::from_str(data).expect("JSON data"),
            });
        }
    }
    assert!(
        pending.is_empty() || !content_type.starts_with("text/event-stream"),
        "{pending:?}"
    );
    Streamed {
        status,
        content_type,
        events,
        comments,
        text,
    }
}

fn names(s: &Streamed) -> Vec<&str> {
    s.events.iter().map(|e| e.name.as_str()).collect()
}

#[tokio::test]
async fn the_embedded_engine_streams_one_sentence_per_delta_then_done() {
    let app = app(None);
    let s = read(&app, &json!({"text": ARTICLE, "max_sentences": 2})).await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.content_type, "text/event-stream");
    assert_eq!(names(&s), ["start", "delta", "delta", "done"], "{}", s.text);
    assert_eq!(s.comments, 0, "nothing to keep alive: {}", s.text);
    assert_eq!(s.events[0].data["request_id"], "req-stream-test");
    assert_eq!(s.events[0].data["provider"], "embedded");
    let joined: String = s.events[1..3]
        .iter()
        .map(|e| e.data["text"].as_str().expect("text"))
        .collect();
    let done = &s.events[3].data;
    assert_eq!(done["summary"], joined.as_str());
    assert_eq!(done["style"], "extractive");
    assert_eq!(done["cost_usd"], 0.0);
    assert_eq!(done["stop_reason"], "complete");

    // The same summary as the buffered route.
    let mut buffered_app = App::in_memory(Function::Summarize);
    buffered_app.request_log = Arc::new(MemoryRequestLog::default());
    let request = post_json(
        "/v1/summarize",
        &json!({"text": ARTICLE, "max_sentences": 2}).to_string(),
        "req-buffered",
    )
    .expect("an event");
    let buffered = shared::http::handle(&buffered_app, request).await;
    let lambda_http::Body::Text(body) = buffered.body() else {
        panic!("a text body");
    };
    let buffered: Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(done["summary"], buffered["summary"]);

    let items = app.log.items.lock().expect("log");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].record.status, 200);
    assert_eq!(items[0].record.route, "/v1/summarize/stream");
    assert_eq!(items[0].record.provider.as_deref(), Some("embedded"));
    assert_eq!(items[0].record.error_code, None);
}

#[tokio::test]
async fn what_can_be_rejected_before_the_first_byte_is_a_problem_response() {
    let app = app(None);
    let cases = [
        (
            json!({"text": ARTICLE, "style": "abstractive"}),
            422,
            "/style",
        ),
        (json!({"text": "", "max_sentences": 2}), 422, "/text"),
        (
            json!({"text": ARTICLE, "max_sentences": 0}),
            422,
            "/max_sentences",
        ),
        (json!({"text": ARTICLE, "colour": "red"}), 422, ""),
    ];
    for (body, status, pointer) in cases {
        let s = read(&app, &body).await;
        assert_eq!(s.status, status, "{body}: {}", s.text);
        assert_eq!(s.content_type, "application/problem+json");
        let problem: Value = serde_json::from_str(&s.text).expect("a problem");
        assert_eq!(problem["request_id"], "req-stream-test");
        if !pointer.is_empty() {
            assert_eq!(problem["errors"][0]["pointer"], pointer, "{}", s.text);
        }
    }
    let wrong = response(&app, "GET", &json!({})).await;
    assert_eq!(wrong.status(), 405);
    assert_eq!(
        wrong.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
}

#[tokio::test]
async fn a_model_streams_its_summary_as_it_writes_it() {
    let tokens = [
        "Fares ", "may ", "rise ", "next ", "year ", "to ", "cover ", "costs.",
    ];
    let upstream =
        TokenUpstream::start(&tokens, Duration::from_millis(120), Ending::Complete).await;
    let app = app(Some(openai(&upstream.base_url)));
    let s = read(
        &app,
        &json!({"text": ARTICLE, "max_sentences": 1, "style": "abstractive"}),
    )
    .await;
    assert_eq!(s.status, 200, "{}", s.text);
    let n = names(&s);
    assert_eq!(n.first(), Some(&"start"));
    assert_eq!(n.last(), Some(&"done"), "{}", s.text);
    assert_eq!(n.iter().filter(|e| **e == "delta").count(), tokens.len());
    let first_delta = s
        .events
        .iter()
        .find(|e| e.name == "delta")
        .expect("a delta");
    let done = s.events.last().expect("done");
    // The first words arrive long before the summary is complete.
    assert!(
        first_delta.at * 3 < done.at,
        "first delta at {:?}, done at {:?}",
        first_delta.at,
        done.at
    );
    assert_eq!(
        done.data["summary"],
        "Fares may rise next year to cover costs."
    );
    assert_eq!(done.data["style"], "abstractive");
    assert_eq!(done.data["usage"]["input_tokens"], 400);
    assert_eq!(done.data["usage"]["output_tokens"], tokens.len());
    assert!(done.data["cost_usd"].as_f64().is_some_and(|c| c > 0.0));
    let items = app.log.items.lock().expect("log");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].record.provider.as_deref(), Some("openai"));
    assert_eq!(items[0].record.usage.output_tokens, tokens.len() as u64);
    assert!(items[0].record.cost_usd.is_some_and(|c| c > 0.0));
}

#[tokio::test]
async fn a_stream_cut_by_the_token_limit_or_the_connection_ends_with_an_error_never_done() {
    for (ending, kind, retryable) in [
        (Ending::Length, "provider-truncated", false),
        (Ending::Cut, "unavailable", true),
    ] {
        let upstream =
            TokenUpstream::start(&["Half ", "a ", "summ"], Duration::from_millis(20), ending).await;
        let app = app(Some(openai(&upstream.base_url)));
        let s = read(&app, &json!({"text": ARTICLE, "style": "abstractive"})).await;
        assert_eq!(s.status, 200, "{}", s.text);
        let n = names(&s);
        assert_eq!(n.last(), Some(&"error"), "{ending:?}: {}", s.text);
        assert!(!n.contains(&"done"), "{ending:?}");
        let error = &s.events.last().expect("error").data;
        assert_eq!(error["type"], format!("urn:intent-api:problem:{kind}"));
        assert_eq!(error["retryable"], retryable);
        assert_eq!(error["request_id"], "req-stream-test");
        let items = app.log.items.lock().expect("log");
        assert_eq!(items[0].record.error_code.as_deref(), Some(kind));
    }
}

#[tokio::test]
async fn a_throttled_model_is_a_429_before_the_stream_starts() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(429).insert_header("retry-after", "4"))
        .mount(&server)
        .await;
    let app = app(Some(openai(&format!("{}/v1", server.uri()))));
    let response = response(
        &app,
        "POST",
        &json!({"text": ARTICLE, "style": "abstractive"}),
    )
    .await;
    assert_eq!(response.status(), 429);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("4")
    );
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
}

#[tokio::test]
async fn a_client_that_goes_away_stops_the_model() {
    let tokens: Vec<String> = (0..50).map(|i| format!("w{i} ")).collect();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let upstream = TokenUpstream::start(&tokens, Duration::from_millis(50), Ending::Complete).await;
    let app = app(Some(openai(&upstream.base_url)));
    let response = response(
        &app,
        "POST",
        &json!({"text": ARTICLE, "style": "abstractive"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    // Read the start and the first delta, then hang up.
    let mut seen = String::new();
    while !seen.contains("event: delta") {
        let frame = body.frame().await.expect("a frame").expect("infallible");
        if let Ok(data) = frame.into_data() {
            seen.push_str(std::str::from_utf8(&data).expect("UTF-8"));
        }
    }
    drop(body);
    // The upstream notices the closed connection at its next write.
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.stats.get(&upstream.stats.abandoned) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(upstream.stats.get(&upstream.stats.abandoned), 1);
    assert_eq!(upstream.stats.get(&upstream.stats.completed), 0);
}

#[tokio::test]
async fn a_silent_model_gets_keep_alive_comments_then_a_retryable_timeout() {
    use shared::streaming::handler::{StreamLimits, handle_with};
    // One token, then silence for longer than the idle limit.
    let upstream = TokenUpstream::start(
        &["Slow ", "start"],
        Duration::from_millis(900),
        Ending::Complete,
    )
    .await;
    let app = app(Some(openai(&upstream.base_url)));
    let mut event = api_tests::event::rest_event(
        "POST",
        "/v1/summarize/stream",
        Some("application/json"),
        Some(&json!({"text": ARTICLE, "style": "abstractive"}).to_string()),
        "req-stream-test",
    );
    event["resource"] = json!("/v1/summarize/stream");
    let request = lambda_http::request::from_str(&event.to_string()).expect("an event");
    let limits = StreamLimits {
        keepalive: Duration::from_millis(100),
        idle: Duration::from_millis(600),
    };
    let response = handle_with(app.app, request, limits).await;
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).expect("UTF-8");
    assert!(text.matches(": keep-alive").count() >= 3, "{text}");
    assert!(text.contains("event: error"), "{text}");
    assert!(
        text.contains("provider-timeout") && text.contains("\"retryable\":true"),
        "{text}"
    );
    assert!(!text.contains("event: done"), "{text}");
}

#[tokio::test]
async fn the_summarize_stream_fixtures_get_their_expected_statuses() {
    let root = api_tests::workspace_root().join("events");
    let expectations: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join("expectations.json")).expect("expectations"),
    )
    .expect("JSON");
    let fixtures: Vec<&String> = expectations
        .keys()
        .filter(|k| k.starts_with("summarize-stream"))
        .collect();
    assert!(fixtures.len() >= 5, "{fixtures:?}");
    let app = app(None);
    for name in fixtures {
        let expected = &expectations[name];
        let text = std::fs::read_to_string(root.join(name)).expect("fixture");
        let request = lambda_http::request::from_str(&text).expect("an API Gateway event");
        let response = handle(app.app, request).await;
        let status = response.status().as_u16();
        let allow = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        let body = String::from_utf8(body.to_vec()).expect("UTF-8");
        assert_eq!(u64::from(status), expected["status"], "{name}: {body}");
        if status == 200 {
            assert_eq!(content_type, "text/event-stream", "{name}");
            assert!(body.starts_with("event: start\n"), "{name}: {body}");
            assert!(body.contains("event: done\n"), "{name}: {body}");
        } else {
            assert_eq!(content_type, "application/problem+json", "{name}");
            let problem: Value = serde_json::from_str(&body).expect("a problem");
            if let Some(pointers) = expected.get("error_pointers") {
                let got: Vec<&Value> = problem["errors"]
                    .as_array()
                    .expect("errors")
                    .iter()
                    .map(|e| &e["pointer"])
                    .collect();
                let want: Vec<&Value> = pointers.as_array().expect("pointers").iter().collect();
                assert_eq!(got, want, "{name}: {body}");
            }
        }
        if let Some(a) = expected.get("allow") {
            assert_eq!(allow.as_deref(), a.as_str(), "{name}");
        }
    }
}
