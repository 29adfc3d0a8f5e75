//! Generative providers through the real binaries: the local API serving a function configured
//! by environment (`INTENT_PROVIDER=openai`), a local server playing the model, and the request
//! log written to DynamoDB Local.

use std::time::{Duration, Instant};

use api_tests::api::LocalApi;
use api_tests::dynamodb::DynamoLocal;
use api_tests::token_upstream::{Ending, TokenUpstream};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use super::{log_item, text};

const ARTICLE: &str = "The city council approved the new transit budget on Tuesday after a \
four-hour debate. The plan adds 40 electric buses and extends night service on six routes. \
Council members who opposed it said fares may rise next year to cover operating costs.";

async fn api_on(db: &DynamoLocal, upstream: &TokenUpstream) -> LocalApi {
    LocalApi::start(
        &db.url,
        &[
            ("INTENT_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", &upstream.base_url),
            ("OPENAI_MODEL", "gpt-4o-mini"),
        ],
    )
    .await
    .expect("local API")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generative_answer_is_logged_with_provider_tokens_attempts_and_cost() {
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let upstream =
        TokenUpstream::start(&["Fares ", "rise."], Duration::ZERO, Ending::Complete).await;
    let api = api_on(&db, &upstream).await;
    let reply = api
        .post(
            "/v1/summarize",
            &json!({"text": ARTICLE, "max_sentences": 1, "style": "abstractive"}),
        )
        .await
        .expect("a reply");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["summary"], "Fares rise.");
    let request_id = reply.body["meta"]["request_id"].as_str().expect("an id");
    let item = log_item(&db, request_id).await;
    assert_eq!(text(&item, "provider"), "openai");
    assert_eq!(text(&item, "model"), "gpt-4o-mini");
    assert_eq!(text(&item, "input_tokens"), "400");
    assert_eq!(text(&item, "output_tokens"), "2");
    assert_eq!(text(&item, "attempts"), "1");
    assert_eq!(text(&item, "stop_reason"), "complete");
    assert!(
        text(&item, "cost_usd")
            .parse::<f64>()
            .is_ok_and(|c| c > 0.0)
    );
    assert!(!text(&item, "prices_version").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_events_arrive_one_by_one_through_the_local_api() {
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let tokens = [
        "Fares ", "may ", "rise ", "next ", "year ", "to ", "cover ", "costs.",
    ];
    let upstream =
        TokenUpstream::start(&tokens, Duration::from_millis(150), Ending::Complete).await;
    let api = api_on(&db, &upstream).await;

    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = hyper::Request::post(format!("{}/v1/summarize/stream", api.url))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            json!({"text": ARTICLE, "max_sentences": 1, "style": "abstractive"}).to_string(),
        )))
        .expect("a request");
    let started = Instant::now();
    let response = client.request(request).await.expect("a response");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut body = response.into_body();
    let (mut seen, mut first_delta, mut done) = (String::new(), None, None);
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("a frame");
        if let Ok(data) = frame.into_data() {
            seen.push_str(std::str::from_utf8(&data).expect("UTF-8"));
            if first_delta.is_none() && seen.contains("event: delta") {
                first_delta = Some(started.elapsed());
            }
            if done.is_none() && seen.contains("event: done") {
                done = Some(started.elapsed());
            }
        }
    }
    let (first_delta, done) = (first_delta.expect("a delta"), done.expect("done"));
    // Eight tokens 150 ms apart: the first is shown long before the summary is complete.
    assert!(
        first_delta * 3 < done,
        "first delta at {first_delta:?}, done at {done:?}: {seen}"
    );
    assert_eq!(seen.matches("event: delta").count(), tokens.len(), "{seen}");
    let request_id = seen
        .split("\"request_id\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the start event names the request");
    let item = log_item(&db, request_id).await;
    assert_eq!(text(&item, "route"), "/v1/summarize/stream");
    assert_eq!(text(&item, "output_tokens"), tokens.len().to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_over_max_input_tokens_is_a_413_before_any_model_call_and_one_under_it_passes() {
    // Arrange: a cap of 1000 tokens: the short article's prompt fits, 40 of it (3,000 tokens) do not.
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let upstream =
        TokenUpstream::start(&["Fares ", "rise."], Duration::ZERO, Ending::Complete).await;
    let api = LocalApi::start(
        &db.url,
        &[
            ("INTENT_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", &upstream.base_url),
            ("OPENAI_MODEL", "gpt-4o-mini"),
            ("MAX_INPUT_TOKENS", "1000"),
        ],
    )
    .await
    .expect("local API");
    let long = format!("{ARTICLE} ").repeat(40);
    let over = json!({"text": long, "max_sentences": 1, "style": "abstractive"});
    let under = json!({"text": ARTICLE, "max_sentences": 1, "style": "abstractive"});

    // Act
    let refused = api.post("/v1/summarize", &over).await.expect("a reply");
    let streamed = api
        .post("/v1/summarize/stream", &over)
        .await
        .expect("a reply");
    let calls_after_refusals = upstream.stats.get(&upstream.stats.requests);
    let answered = api.post("/v1/summarize", &under).await.expect("a reply");

    // Assert
    for reply in [&refused, &streamed] {
        assert_eq!(reply.status, 413, "{}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(reply.body["type"], "urn:intent-api:problem:input-too-large");
        let detail = reply.body["detail"].as_str().expect("a detail");
        assert!(detail.contains("limit of 1000 input tokens"), "{detail}");
    }
    assert_eq!(calls_after_refusals, 0, "no model call for a refused input");
    assert_eq!(answered.status, 200, "{}", answered.body);
    assert_eq!(upstream.stats.get(&upstream.stats.requests), 1);
    let id = refused.header("x-request-id").expect("a request id");
    let item = log_item(&db, id).await;
    assert_eq!(text(&item, "status"), "413");
    assert_eq!(text(&item, "error_code"), "input-too-large");
    assert_eq!(text(&item, "input_tokens"), "0", "nothing was spent");
}
