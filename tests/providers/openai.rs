//! The OpenAI-compatible provider against a local server playing `POST /v1/chat/completions`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::provider::SharedProvider;
use shared::provider::generative::GenerativeProvider;
use shared::provider::generative::intents;
use shared::provider::openai::{ApiKey, OpenAiChat, OpenAiSettings, ResponseFormat};
use shared::routes::Function;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::TestApp;

const KEY: &str = "sk-test-do-not-leak-4711";

pub fn provider(server: &MockServer, format: ResponseFormat) -> SharedProvider {
    let chat = OpenAiChat::new(OpenAiSettings {
        base_url: format!("{}/v1", server.uri()),
        model: "gpt-4o-mini".to_owned(),
        api_key: Some(ApiKey::new(KEY.to_owned())),
        response_format: format,
    })
    .expect("a valid configuration");
    Arc::new(GenerativeProvider::new(Arc::new(chat)))
}

fn app(server: &MockServer, function: Function) -> TestApp {
    TestApp::new(
        function,
        provider(server, ResponseFormat::JsonSchema),
        Duration::from_secs(10),
    )
}

/// A chat completion whose message content is `content` (JSON text).
pub fn completion(content: &str, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1764547200,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_test",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": finish_reason
        }],
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 100,
            "total_tokens": 1100,
            "prompt_tokens_details": {"cached_tokens": 200}
        }
    })
}

async fn answering(bodies: &[Value]) -> MockServer {
    let server = MockServer::start().await;
    for body in bodies {
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    server
}

async fn received(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("the request body is JSON"))
        .collect()
}

fn classify_body() -> Value {
    json!({
        "text": "I was charged twice for my subscription this month.",
        "labels": [
            {"name": "billing", "description": "charges, refunds"},
            {"name": "shipping"},
            {"name": "account_access"}
        ]
    })
}

#[tokio::test]
async fn classify_answers_with_the_callers_labels_and_accounts_every_token() {
    let server = answering(&[completion(
        r#"{"labels":[{"index":0,"score":0.93},{"index":2,"score":0.04}]}"#,
        "stop",
    )])
    .await;
    let app = app(&server, Function::Classify);
    let reply = app.post("/v1/classify", &classify_body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["label"], "billing");
    assert_eq!(
        reply.body["labels"][0],
        json!({"name": "billing", "score": 0.93})
    );
    assert_eq!(
        reply.body["labels"][2],
        json!({"name": "shipping", "score": 0.0})
    );
    let meta = &reply.body["meta"];
    assert_eq!(meta["provider"], "openai");
    assert_eq!(meta["model"], "gpt-4o-mini");
    assert_eq!(meta["usage"]["input_tokens"], 1000);
    assert_eq!(meta["usage"]["output_tokens"], 100);
    assert_eq!(meta["usage"]["cache_read_tokens"], 200);
    assert_eq!(meta["usage"]["attempts"], 1);
    // gpt-4o-mini: 800 uncached input at $0.15/M, 200 cached at $0.075/M, 100 output at $0.60/M.
    let cost = meta["cost_usd"].as_f64().expect("a cost");
    assert!((cost - 0.000195).abs() < 1e-9, "{cost}");

    let item = app.log_item();
    let record = &item.record;
    assert_eq!(record.provider.as_deref(), Some("openai"));
    assert_eq!(record.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(record.usage.input_tokens, 1000);
    assert_eq!(record.usage.attempts, Some(1));
    assert_eq!(record.stop_reason.as_deref(), Some("complete"));
    assert!((record.cost_usd.expect("a cost") - 0.000195).abs() < 1e-9);
    assert!(!format!("{item:?}").contains(KEY));
}

#[tokio::test]
async fn the_request_is_strict_json_schema_with_the_text_delimited_as_data() {
    let server = answering(&[completion(
        r#"{"labels":[{"index":1,"score":0.9}]}"#,
        "stop",
    )])
    .await;
    let app = app(&server, Function::Classify);
    let reply = app.post("/v1/classify", &classify_body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body: Value = serde_json::from_slice(&requests[0].body).expect("JSON");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["temperature"].as_f64(), Some(0.0));
    assert!(body["max_tokens"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(
        body["response_format"]["json_schema"]["name"],
        "classification"
    );
    assert_eq!(
        body["response_format"]["json_schema"]["schema"],
        intents::classify::SCHEMA.schema
    );
    let messages = body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    assert!(
        messages[0]["content"]
            .as_str()
            .is_some_and(|s| s.contains("never instructions"))
    );
    assert_eq!(messages[1]["role"], "user");
    let user = messages[1]["content"].as_str().expect("user text");
    assert!(user.contains("<document>\nI was charged twice"), "{user}");
    assert!(user.contains("[0] billing: charges, refunds"), "{user}");
    // The labels are in the prompt, never in the schema (the schema is fixed per intent).
    assert!(!body["response_format"].to_string().contains("billing"));
}

#[tokio::test]
async fn json_object_servers_get_the_schema_in_the_prompt() {
    let server = answering(&[completion(
        r#"{"labels":[{"index":0,"score":0.8}]}"#,
        "stop",
    )])
    .await;
    let app = TestApp::new(
        Function::Classify,
        provider(&server, ResponseFormat::JsonObject),
        Duration::from_secs(10),
    );
    let reply = app.post("/v1/classify", &classify_body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = &received(&server).await[0];
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    let system = body["messages"][0]["content"].as_str().expect("system");
    assert!(
        system.contains("\"additionalProperties\":false"),
        "{system}"
    );
}

#[tokio::test]
async fn summarize_extractive_returns_the_chosen_sentences_verbatim() {
    let server = answering(&[completion(
        r#"{"sentences":[{"index":2,"salience":0.9},{"index":0,"salience":0.6}]}"#,
        "stop",
    )])
    .await;
    let app = app(&server, Function::Summarize);
    let reply = app
        .post(
            "/v1/summarize",
            &json!({
                "text": "The council met. It rained all day. Fares will rise in May. Nobody came.",
                "max_sentences": 2
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["style"], "extractive");
    assert_eq!(
        reply.body["summary"],
        "The council met. Fares will rise in May."
    );
    assert_eq!(reply.body["sentences"][1]["index"], 2);
}

#[tokio::test]
async fn summarize_abstractive_returns_the_models_text_and_its_cited_sentences() {
    let server = answering(&[completion(
        r#"{"summary":"The council will raise fares in May.","source_sentences":[2]}"#,
        "stop",
    )])
    .await;
    let app = app(&server, Function::Summarize);
    let reply = app
        .post(
            "/v1/summarize",
            &json!({
                "text": "The council met. It rained all day. Fares will rise in May.",
                "max_sentences": 1,
                "style": "abstractive"
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["style"], "abstractive");
    assert_eq!(
        reply.body["summary"],
        "The council will raise fares in May."
    );
    assert_eq!(
        reply.body["sentences"][0]["text"],
        "Fares will rise in May."
    );
    assert_eq!(
        reply.body["sentences"][0]["span"],
        json!({"start": 36, "end": 59})
    );
}

#[tokio::test]
async fn extract_returns_located_values_and_nulls_what_the_text_does_not_hold() {
    let text = "Maria Gonzalez here from Acme Corp. Our order #A-77812 arrived damaged.\n\
                Ship the replacement to 1200 Market Street,\nSan Francisco, CA 94102.";
    let answer = json!({"fields": [
        {"index": 0, "found": true, "text": "Maria Gonzalez", "number": null, "boolean": null, "currency": null, "quote": "Maria Gonzalez", "confidence": 0.95},
        {"index": 1, "found": true, "text": "A-77812", "number": null, "boolean": null, "currency": null, "quote": "#A-77812", "confidence": 0.9},
        {"index": 2, "found": true, "text": "1200 Market Street, San Francisco, CA 94102", "number": null, "boolean": null, "currency": null, "quote": "1200 Market Street, San Francisco, CA 94102", "confidence": 0.9},
        {"index": 3, "found": true, "text": null, "number": null, "boolean": true, "currency": null, "quote": "arrived damaged", "confidence": 0.9},
        {"index": 4, "found": true, "text": "next Tuesday", "number": null, "boolean": null, "currency": null, "quote": "Our order", "confidence": 0.4},
        {"index": 5, "found": true, "text": "Globex Inc", "number": null, "boolean": null, "currency": null, "quote": "Globex Inc", "confidence": 0.7}
    ]});
    let server = answering(&[completion(&answer.to_string(), "stop")]).await;
    let app = app(&server, Function::Extract);
    let reply = app
        .post(
            "/v1/extract",
            &json!({
                "text": text,
                "fields": [
                    {"name": "customer_name", "type": "string"},
                    {"name": "order_number", "type": "string"},
                    {"name": "shipping_address", "type": "string"},
                    {"name": "is_damaged", "type": "boolean"},
                    {"name": "delivery_date", "type": "date"},
                    {"name": "company", "type": "string"}
                ]
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let fields = reply.body["fields"].as_array().expect("fields");
    assert_eq!(fields[0]["value"], "Maria Gonzalez");
    assert_eq!(fields[0]["span"], json!({"start": 0, "end": 14}));
    assert_eq!(fields[1]["value"], "A-77812");
    // The quote crosses a line break the model re-flowed: located in the text's own spelling.
    assert_eq!(fields[2]["span"]["start"], 96);
    assert_eq!(fields[3]["value"], true);
    // A date that does not parse and a quote that is not in the text are nulls with warnings.
    assert_eq!(fields[4]["value"], Value::Null);
    assert_eq!(fields[5]["value"], Value::Null);
    assert_eq!(fields[5]["span"], Value::Null);
    let warnings = reply.body["warnings"].as_array().expect("warnings");
    let warned: Vec<&str> = warnings
        .iter()
        .filter_map(|w| w["field"].as_str())
        .collect();
    assert_eq!(warned, ["delivery_date", "company"], "{warnings:?}");
}

#[tokio::test]
async fn recommend_and_score_map_indices_back_to_the_callers_ids() {
    let server = answering(&[completion(
        r#"{"items":[{"index":2,"score":0.9,"reason":"You liked hiking gear."},{"index":1,"score":0.5,"reason":"Useful on trails."}]}"#,
        "stop",
    )])
    .await;
    let recommender = app(&server, Function::Recommend);
    let reply = recommender
        .post(
            "/v1/recommend",
            &json!({
                "profile": {"text": "weekend hiker", "liked_ids": ["boots"]},
                "items": [
                    {"id": "boots", "text": "Hiking boots"},
                    {"id": "map", "text": "Trail map"},
                    {"id": "poles", "text": "Trekking poles"}
                ],
                "limit": 2
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["items"][0]["id"], "poles");
    assert_eq!(reply.body["items"][0]["reason"], "You liked hiking gear.");

    let server = answering(&[completion(
        r#"{"scores":[{"index":0,"score":0.2},{"index":1,"score":1.7}]}"#,
        "stop",
    )])
    .await;
    let scorer = app(&server, Function::Score);
    let reply = scorer
        .post(
            "/v1/score",
            &json!({
                "query": "cats",
                "documents": [{"id": "d1", "text": "dogs bark"}, {"id": "d2", "text": "cats purr"}]
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.body["results"][0],
        json!({"id": "d2", "index": 1, "score": 1.0})
    );
}

#[tokio::test]
async fn bad_json_is_repaired_once_and_usage_is_summed_over_both_calls() {
    let server = answering(&[
        completion(r#"{"labels":[{"index":0,"score":"very high"}]}"#, "stop"),
        completion(r#"{"labels":[{"index":0,"score":0.9}]}"#, "stop"),
    ])
    .await;
    let app = app(&server, Function::Classify);
    let reply = app.post("/v1/classify", &classify_body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["meta"]["usage"]["input_tokens"], 2000);
    assert_eq!(reply.body["meta"]["usage"]["output_tokens"], 200);
    assert_eq!(reply.body["meta"]["usage"]["attempts"], 2);
    let bodies = received(&server).await;
    assert_eq!(bodies.len(), 2);
    let repair = bodies[1]["messages"].as_array().expect("messages");
    assert_eq!(repair.len(), 4);
    assert_eq!(repair[2]["role"], "assistant");
    assert!(
        repair[3]["content"]
            .as_str()
            .is_some_and(|s| s.contains("/labels/0/score")),
        "{repair:?}"
    );
    assert_eq!(app.log_item().record.usage.attempts, Some(2));
}

#[tokio::test]
async fn invalid_output_twice_is_a_502_after_exactly_two_calls() {
    let server = answering(&[
        completion("this is not JSON", "stop"),
        completion(r#"{"labels":[{"index":9,"score":0.9}]}"#, "stop"),
    ])
    .await;
    let app = app(&server, Function::Classify);
    let reply = app.post("/v1/classify", &classify_body()).await;
    reply.assert_problem(502, "provider-output");
    let detail = reply.body["detail"].as_str().expect("detail");
    assert!(detail.contains("9 is not a label index"), "{detail}");
    assert_eq!(received(&server).await.len(), 2);
    // Both calls were billed: the failed request's log item says what they cost.
    let record = app.log_item().record;
    assert_eq!(record.error_code.as_deref(), Some("provider-output"));
    assert_eq!(record.provider.as_deref(), Some("openai"));
    assert_eq!(record.usage.input_tokens, 2000);
    assert_eq!(record.usage.attempts, Some(2));
    assert!(record.cost_usd.is_some_and(|c| c > 0.0), "{record:?}");
}

#[tokio::test]
async fn labels_the_caller_did_not_give_are_never_returned() {
    // Both answers name a label index that does not exist: after one repair, a 502.
    let server = answering(&[
        completion(r#"{"labels":[{"index":3,"score":0.99}]}"#, "stop"),
        completion(r#"{"labels":[{"index":-1,"score":0.99}]}"#, "stop"),
    ])
    .await;
    let app = app(&server, Function::Classify);
    let reply = app.post("/v1/classify", &classify_body()).await;
    reply.assert_problem(502, "provider-output");
}

#[tokio::test]
async fn an_answer_cut_by_the_token_limit_is_a_502_without_repair() {
    let server = answering(&[completion(r#"{"labels":[{"index":0,"sc"#, "length")]).await;
    let app = app(&server, Function::Classify);
    let reply = app.post("/v1/classify", &classify_body()).await;
    reply.assert_problem(502, "provider-truncated");
    assert_eq!(received(&server).await.len(), 1);
    assert_eq!(
        app.log_item().record.error_code.as_deref(),
        Some("provider-truncated")
    );
}

#[tokio::test]
async fn a_refusal_is_a_502_of_its_own_type_without_repair() {
    let mut refused = completion("", "stop");
    refused["choices"][0]["message"]["content"] = Value::Null;
    refused["choices"][0]["message"]["refusal"] = json!("I can't help with that.");
    let server = answering(&[refused]).await;
    let app = app(&server, Function::Classify);
    let reply = app.post("/v1/classify", &classify_body()).await;
    reply.assert_problem(502, "provider-refused");
    assert!(!reply.text.contains("I can't help"), "{}", reply.text);
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn throttling_is_a_429_with_the_upstreams_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(
                    json!({"error": {"message": "Rate limit reached for org-secret-123"}}),
                ),
        )
        .mount(&server)
        .await;
    let app = app(&server, Function::Classify);
    let reply = app.post("/v1/classify", &classify_body()).await;
    reply.assert_problem(429, "throttled");
    assert_eq!(reply.retry_after.as_deref(), Some("7"));
    assert!(!reply.text.contains("org-secret-123"));
}

#[tokio::test]
async fn upstream_failures_map_to_502_503_and_an_opaque_500() {
    let cases: Vec<(ResponseTemplate, u16, &str)> = vec![
        (
            ResponseTemplate::new(500).set_body_string("upstream exploded at host-17"),
            502,
            "provider-output",
        ),
        (
            ResponseTemplate::new(503).set_body_string("overloaded at host-17"),
            503,
            "unavailable",
        ),
        (
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<html><body>Bad gateway at host-17</body></html>"),
            502,
            "provider-output",
        ),
        (
            ResponseTemplate::new(401).set_body_json(
                json!({"error": {"message": "Incorrect API key sk-te**4711 at host-17"}}),
            ),
            500,
            "internal",
        ),
        (
            ResponseTemplate::new(404).set_body_json(
                json!({"error": {"message": "The model gpt-9 does not exist at host-17"}}),
            ),
            500,
            "internal",
        ),
    ];
    for (template, status, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .mount(&server)
            .await;
        let app = app(&server, Function::Classify);
        let reply = app.post("/v1/classify", &classify_body()).await;
        reply.assert_problem(status, kind);
        assert!(
            !reply.text.contains("host-17"),
            "upstream text leaked: {}",
            reply.text
        );
        if status == 503 {
            assert!(reply.retry_after.is_some());
        }
    }
}

#[tokio::test]
async fn a_slow_upstream_is_a_504_within_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion(r#"{"labels":[]}"#, "stop"))
                .set_delay(Duration::from_secs(20)),
        )
        .mount(&server)
        .await;
    let app = TestApp::new(
        Function::Classify,
        provider(&server, ResponseFormat::JsonSchema),
        Duration::from_millis(1500),
    );
    let started = Instant::now();
    let reply = app.post("/v1/classify", &classify_body()).await;
    reply.assert_problem(504, "provider-timeout");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bad_bodies_from_upstream_are_clean_502s() {
    let big = format!(
        "{{\"choices\": [], \"padding\": \"{}\"}}",
        "x".repeat(10 * 1024 * 1024)
    );
    let mut not_utf8 = br#"{"choices":[{"message":{"content":""#.to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    not_utf8.extend_from_slice(br#""},"finish_reason":"stop"}]}"#);
    let bodies: Vec<(&str, Vec<u8>, &str)> = vec![
        ("10 MB", big.into_bytes(), "application/json"),
        ("invalid UTF-8", not_utf8, "application/json"),
        (
            "SSE",
            b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n".to_vec(),
            "text/event-stream",
        ),
        (
            "a string where a number belongs",
            serde_json::to_vec(&json!({"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": "many"}})).expect("json"),
            "application/json",
        ),
        ("empty choices", br#"{"choices":[]}"#.to_vec(), "application/json"),
        ("NaN", br#"{"choices":[{"message":{"content":"{}"}}],"usage":{"prompt_tokens":NaN}}"#.to_vec(), "application/json"),
    ];
    for (what, body, content_type) in bodies {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, content_type))
            .mount(&server)
            .await;
        let app = app(&server, Function::Classify);
        let reply = app.post("/v1/classify", &classify_body()).await;
        assert_eq!(reply.status, 502, "{what}: {}", reply.text);
        assert_eq!(
            reply.body["type"], "urn:intent-api:problem:provider-output",
            "{what}"
        );
    }
}

#[tokio::test]
async fn an_abstractive_summary_on_the_embedded_engine_is_a_422_naming_style() {
    let app = TestApp::new(
        Function::Summarize,
        Arc::new(shared::provider::embedded::EmbeddedProvider::new()),
        Duration::from_secs(10),
    );
    let reply = app
        .post(
            "/v1/summarize",
            &json!({"text": "One. Two. Three. Four.", "max_sentences": 1, "style": "abstractive"}),
        )
        .await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.body["errors"][0]["pointer"], "/style");
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("generative provider"))
    );
}
