//! The embedding cache through the local API: the real score binary with the real model, asked
//! the same question twice by one warm instance.

use api_tests::api::LocalApi;
use api_tests::dynamodb::DynamoLocal;
use api_tests::workspace_root;
use serde_json::Value;

use super::{cold_start_output, fixture_body, log_item, text};

fn model_dir() -> String {
    let dir = workspace_root().join(".tools/model/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: run scripts/setup.sh",
        dir.display()
    );
    dir.to_str().expect("utf-8 path").to_owned()
}

fn without_meta(mut body: Value) -> Value {
    body.as_object_mut().map(|o| o.remove("meta"));
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_score_request_is_answered_from_the_embedding_cache() {
    // Arrange
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let model = model_dir();
    let api = LocalApi::start(&db.url, &[("MODEL_DIR", &model)])
        .await
        .expect("local API");
    let body = fixture_body("score");

    // Act
    let first = api.post("/v1/score", &body).await.expect("first score");
    let second = api.post("/v1/score", &body).await.expect("second score");

    // Assert
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(second.status, 200, "{:?}", second.body);
    let (u1, u2) = (&first.body["meta"]["usage"], &second.body["meta"]["usage"]);
    let texts = u1["embedded_texts"].as_u64().expect("embedded_texts");
    assert!(texts > 0, "the model embedded the first request: {u1}");
    assert_eq!(u1["embedding_cache_hits"], 0, "{u1}");
    assert_eq!(u1["embedding_cache_misses"], texts, "{u1}");
    assert_eq!(u2["embedded_texts"], 0, "{u2}");
    assert_eq!(u2["embedding_cache_hits"], texts, "{u2}");
    assert_eq!(u2["embedding_cache_misses"], 0, "{u2}");
    assert_eq!(
        u2["input_tokens"], u1["input_tokens"],
        "tokens count the request's texts, cached or not"
    );
    assert_eq!(
        without_meta(second.body.clone()),
        without_meta(first.body.clone()),
        "the cache does not change the answer"
    );
    let item = log_item(&db, second.header("x-request-id").expect("id")).await;
    assert_eq!(text(&item, "embedding_cache_hits"), texts.to_string());
    assert_eq!(text(&item, "embedding_cache_misses"), "0");
    assert_eq!(text(&item, "embedded_texts"), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_embedding_cache_embeds_every_request_again() {
    // Arrange
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let model = model_dir();
    let api = LocalApi::start(
        &db.url,
        &[("MODEL_DIR", &model), ("EMBEDDING_CACHE_MB", "0")],
    )
    .await
    .expect("local API");
    let body = fixture_body("score");

    // Act
    let first = api.post("/v1/score", &body).await.expect("first score");
    let second = api.post("/v1/score", &body).await.expect("second score");

    // Assert
    assert_eq!(second.status, 200, "{:?}", second.body);
    let usage = &second.body["meta"]["usage"];
    assert_eq!(usage["embedding_cache_hits"], 0, "{usage}");
    assert_eq!(
        usage["embedded_texts"], first.body["meta"]["usage"]["embedded_texts"],
        "{usage}"
    );
    assert_eq!(usage["embedding_cache_misses"], usage["embedded_texts"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_classic_engine_reports_no_embedding_cache_fields() {
    // Arrange: no MODEL_DIR, so no embedding model answers.
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let api = LocalApi::start(&db.url, &[]).await.expect("local API");

    // Act
    let reply = api
        .post("/v1/score", &fixture_body("score"))
        .await
        .expect("score");

    // Assert
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let usage = reply.body["meta"]["usage"]
        .as_object()
        .expect("usage object");
    assert!(!usage.contains_key("embedding_cache_hits"), "{usage:?}");
    assert!(!usage.contains_key("embedding_cache_misses"), "{usage:?}");
    let item = log_item(&db, reply.header("x-request-id").expect("id")).await;
    assert!(!item.contains_key("embedding_cache_hits"));
}

#[test]
fn an_invalid_embedding_cache_size_stops_the_cold_start_naming_the_variable() {
    for bad in ["lots", "-1", "4096"] {
        let out = cold_start_output(
            "score",
            &[("REQUEST_LOG_TABLE", "t"), ("EMBEDDING_CACHE_MB", bad)],
        );
        assert!(out.contains("EMBEDDING_CACHE_MB"), "{out}");
        assert!(out.contains("0 (no cache) to 1024"), "{out}");
    }
}

#[test]
fn an_unknown_embedding_precision_stops_the_cold_start_naming_the_variable() {
    let model = model_dir();
    for bad in ["int8", "F32", "fast"] {
        let out = cold_start_output(
            "score",
            &[
                ("REQUEST_LOG_TABLE", "t"),
                ("MODEL_DIR", &model),
                ("EMBEDDING_PRECISION", bad),
            ],
        );
        assert!(out.contains("EMBEDDING_PRECISION"), "{out}");
        assert!(out.contains("auto (the default), f32 or int16"), "{out}");
    }
}
