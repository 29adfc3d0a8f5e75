//! Integration tests: the real function binaries behind the local API (Lambda Runtime API
//! emulator), against a real DynamoDB-compatible server (DynamoDB Local), with faults injected
//! between them.
//!
//! Each test starts its own DynamoDB Local and local API so tests stay independent.

mod embedding_cache;
mod generative;
mod traces;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use api_tests::api::LocalApi;
use api_tests::dynamodb::DynamoLocal;
use api_tests::fault_proxy::FaultProxy;
use api_tests::workspace_root;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn fixture_body(function: &str) -> Value {
    let path = workspace_root().join(format!("events/{function}.json"));
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("fixture is JSON");
    serde_json::from_str(event["body"].as_str().expect("fixture has a body")).expect("body is JSON")
}

async fn log_item(db: &DynamoLocal, request_id: &str) -> HashMap<String, AttributeValue> {
    // The write is soft and bounded; give it a moment to land before reading.
    for _ in 0..20 {
        let out = db
            .client()
            .get_item()
            .table_name("RequestLogTable")
            .key("request_id", AttributeValue::S(request_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("reading the request log");
        if let Some(item) = out.item() {
            return item.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no request log item for {request_id}");
}

fn text(item: &HashMap<String, AttributeValue>, k: &str) -> String {
    match item.get(k) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::N(n)) => n.clone(),
        other => panic!("attribute {k}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_stored_once_read_back_and_conflicts_are_rejected() {
    // Arrange
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let api = LocalApi::start(&db.url, &[]).await.expect("local API");
    let feedback = json!({
        "request_id": "3f1c9a52-1b7e-4c1e-9d0a-6f2b8e4c7a10",
        "rating": "negative",
        "comment": "The label should have been billing.",
        "corrected_output": {"label": "billing"}
    });

    // Act
    let first = api
        .post("/v1/feedback", &feedback)
        .await
        .expect("first post");
    let retry = api.post("/v1/feedback", &feedback).await.expect("retry");
    let mut changed = feedback.clone();
    changed["rating"] = json!("positive");
    let conflict = api.post("/v1/feedback", &changed).await.expect("conflict");
    let read = api
        .get("/v1/feedback/3f1c9a52-1b7e-4c1e-9d0a-6f2b8e4c7a10")
        .await
        .expect("get");
    let missing = api
        .get("/v1/feedback/never-submitted")
        .await
        .expect("get missing");

    // Assert
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.body["created"], true);
    assert_eq!(retry.status, 200, "a retry of the same payload succeeds");
    assert_eq!(retry.body["created"], false);
    assert_eq!(retry.body["feedback"], first.body["feedback"]);
    assert_eq!(conflict.status, 409);
    assert_eq!(
        conflict.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(read.status, 200);
    assert_eq!(read.body["feedback"], first.body["feedback"]);
    assert_eq!(
        read.body["feedback"]["corrected_output"],
        json!({"label": "billing"})
    );
    assert_eq!(missing.status, 404);
    let stored = db
        .client()
        .scan()
        .table_name("FeedbackTable")
        .send()
        .await
        .expect("scan");
    assert_eq!(stored.count(), 1, "exactly one item despite the retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_writes_one_log_item_for_success_and_error() {
    // Arrange
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let api = LocalApi::start(&db.url, &[]).await.expect("local API");
    let body = fixture_body("score");
    let secret_phrase = body["query"].as_str().expect("query").to_owned();

    // Act
    let ok = api.post("/v1/score", &body).await.expect("score");
    let invalid = api
        .post("/v1/score", &json!({"query": ""}))
        .await
        .expect("invalid");
    let unknown = api.get("/v1/nothing-here").await.expect("unknown");

    // Assert
    assert_eq!(ok.status, 200);
    assert_eq!(invalid.status, 422);
    assert_eq!(unknown.status, 404);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    for (reply, route, status, error) in [
        (&ok, "/v1/score", "200", None),
        (&invalid, "/v1/score", "422", Some("validation")),
        (&unknown, "/v1/nothing-here", "404", Some("not-found")),
    ] {
        let id = reply.header("x-request-id").expect("request id header");
        let item = log_item(&db, id).await;
        assert_eq!(text(&item, "route"), route);
        assert_eq!(text(&item, "status"), status);
        assert_eq!(
            item.get("error_code")
                .map(|_| text(&item, "error_code"))
                .as_deref(),
            error
        );
        let ttl: i64 = text(&item, "expires_at").parse().expect("TTL is a number");
        assert!(
            (ttl - now - 30 * 86_400).abs() < 600,
            "TTL is 30 days out: {ttl}"
        );
        assert!(
            !item.contains_key("input"),
            "no raw input unless configured"
        );
        for value in item.values() {
            if let AttributeValue::S(s) = value {
                assert!(!s.contains(&secret_phrase), "user text leaked into the log");
            }
        }
    }
    let ok_item = log_item(&db, ok.header("x-request-id").expect("id")).await;
    let sent = serde_json::to_vec(&body).expect("body");
    assert_eq!(
        text(&ok_item, "input_sha256"),
        hex::encode(Sha256::digest(&sent))
    );
    assert_eq!(text(&ok_item, "input_bytes"), sent.len().to_string());
    assert_eq!(text(&ok_item, "provider"), "embedded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intents_answer_correctly_when_the_request_log_is_unreachable() {
    // Arrange: nothing listens on this port, so every log write fails.
    let dead = format!("http://127.0.0.1:{}", api_tests::free_port());
    let healthy_db = DynamoLocal::start().await.expect("DynamoDB Local");
    let broken = LocalApi::start(&dead, &[]).await.expect("local API");
    let reference = LocalApi::start(&healthy_db.url, &[])
        .await
        .expect("local API");

    for function in ["summarize", "classify", "extract", "recommend", "score"] {
        let body = fixture_body(function);
        // Act
        let degraded = broken
            .post(&format!("/v1/{function}"), &body)
            .await
            .expect("call");
        let normal = reference
            .post(&format!("/v1/{function}"), &body)
            .await
            .expect("call");
        // Assert: same answer, only meta differs.
        assert_eq!(degraded.status, 200, "{function}: {:?}", degraded.body);
        let strip = |mut v: Value| {
            v.as_object_mut().map(|o| o.remove("meta"));
            v
        };
        assert_eq!(strip(degraded.body), strip(normal.body), "{function}");
    }
    let health = broken.get("/v1/health").await.expect("health");
    assert_eq!(
        health.status, 200,
        "a lost request log degrades, it does not fail"
    );
    assert_eq!(health.body["status"], "degraded");
}

/// The request log is written after the response, by the functions' internal extension: a
/// DynamoDB endpoint that accepts connections and never answers holds each write for its whole
/// budget, and the response does not wait for it. Written inline, every response would take at
/// least the fast client's 450 ms operation timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_request_log_does_not_hold_the_response() {
    // Arrange: a black hole: connections are accepted and kept, nothing is ever answered.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", hole.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hole.accept().await {
            held.push(stream);
        }
    });
    let api = LocalApi::start(&url, &[("REQUEST_LOG_BUDGET_MS", "5000")])
        .await
        .expect("local API");
    let cold = api.get("/v1/openapi.json").await.expect("call");
    assert_eq!(cold.status, 200);
    // Let the first write run out its time, so the environment is free again.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Act
    let started = std::time::Instant::now();
    let warm = api.get("/v1/openapi.json").await.expect("call");
    let elapsed = started.elapsed();

    // Assert
    assert_eq!(warm.status, 200);
    assert!(
        elapsed < Duration::from_millis(300),
        "the response waited for the request log write: {elapsed:?}"
    );
}

/// Over 300 feedback writes with 30% of DynamoDB calls failing (throttled, 500, answered late
/// after committing, or dropped after committing), no acknowledged write is lost and none is
/// stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_survives_30_percent_faults_without_loss_or_duplicates() {
    // Arrange
    const WRITES: usize = 300;
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let proxy = FaultProxy::start(&db.url, 30, Duration::from_millis(1_700), 0x5eed)
        .await
        .expect("fault proxy");
    let api = LocalApi::start(&proxy.url, &[]).await.expect("local API");

    // Act: a well-behaved client retries on 503 (after Retry-After) and on 5xx.
    let mut acknowledged: HashMap<String, Value> = HashMap::new();
    let mut first_try_failures = 0;
    let mut final_failures = 0;
    let mut http_attempts = 0;
    let mut statuses: HashMap<u16, u64> = HashMap::new();
    for i in 0..WRITES {
        let request_id = format!("req-{i:04}");
        let payload = json!({
            "request_id": request_id,
            "rating": if i % 3 == 0 { "negative" } else { "positive" },
            "comment": format!("feedback number {i}"),
        });
        let mut done = false;
        for attempt in 0..8 {
            http_attempts += 1;
            let reply = api
                .post("/v1/feedback", &payload)
                .await
                .expect("HTTP round trip");
            *statuses.entry(reply.status.as_u16()).or_default() += 1;
            match reply.status.as_u16() {
                200 | 201 => {
                    acknowledged.insert(request_id.clone(), reply.body["feedback"].clone());
                    done = true;
                    break;
                }
                409 => {
                    panic!("a retry of the same payload was reported as a conflict: {request_id}")
                }
                s if s >= 500 => {
                    if attempt == 0 {
                        first_try_failures += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                s => panic!("unexpected status {s} for {request_id}: {:?}", reply.body),
            }
        }
        if !done {
            final_failures += 1;
        }
    }

    // Assert: read everything back directly from DynamoDB Local, around the proxy.
    let mut stored: HashMap<String, u64> = HashMap::new();
    let mut start_key = None;
    loop {
        let page = db
            .client()
            .scan()
            .table_name("FeedbackTable")
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            *stored.entry(text(item, "request_id")).or_default() += 1;
            let id = text(item, "request_id");
            if let Some(ack) = acknowledged.get(&id) {
                assert_eq!(
                    text(item, "comment"),
                    ack["comment"].as_str().unwrap_or_default()
                );
                assert_eq!(
                    text(item, "created_at"),
                    ack["created_at"].as_str().unwrap_or_default()
                );
            }
        }
        start_key = page.last_evaluated_key().cloned();
        if start_key.is_none() {
            break;
        }
    }
    let lost: Vec<&String> = acknowledged
        .keys()
        .filter(|k| !stored.contains_key(*k))
        .collect();
    let duplicates = stored.values().filter(|n| **n > 1).count();
    let unacknowledged_but_stored: HashSet<&String> = stored
        .keys()
        .filter(|k| !acknowledged.contains_key(*k))
        .collect();
    let c = &proxy.counts;
    println!(
        "fault injection: writes={WRITES} http_attempts={http_attempts} dynamodb_requests={} \
         throttled={} server_errors={} delayed_after_commit={} dropped_after_commit={} passed={} \
         caller_first_try_failures={first_try_failures} caller_final_failures={final_failures} \
         statuses={statuses:?} acknowledged={} stored={} lost={} duplicates={duplicates} \
         unacknowledged_but_stored={}",
        c.get(&c.requests),
        c.get(&c.throttled),
        c.get(&c.server_errors),
        c.get(&c.delayed),
        c.get(&c.dropped_after_commit),
        c.get(&c.passed),
        acknowledged.len(),
        stored.len(),
        lost.len(),
        unacknowledged_but_stored.len(),
    );
    let injected = c.get(&c.throttled)
        + c.get(&c.server_errors)
        + c.get(&c.delayed)
        + c.get(&c.dropped_after_commit);
    assert!(
        injected * 100 >= c.get(&c.requests) * 20,
        "the proxy must really inject faults (about 30%)"
    );
    assert!(c.get(&c.delayed) > 0 && c.get(&c.dropped_after_commit) > 0);
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert_eq!(duplicates, 0);
    assert_eq!(
        final_failures, 0,
        "every write eventually succeeds with client retries"
    );
    assert_eq!(acknowledged.len(), WRITES);
}

/// Runs a function binary outside any runtime and returns what it printed before exiting.
fn cold_start_output(function: &str, env: &[(&str, &str)]) -> String {
    let binary = api_tests::target_dir().join("debug").join(function);
    assert!(
        binary.is_file(),
        "{} is missing; cargo build --workspace --bins",
        binary.display()
    );
    let mut cmd = std::process::Command::new(binary);
    cmd.env_clear()
        .env("AWS_REGION", "us-east-1")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the function binary");
    assert!(
        !out.status.success(),
        "{function} must not start with this configuration"
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_missing_table_name_stops_the_cold_start_naming_the_variable() {
    let out = cold_start_output("score", &[]);
    assert!(out.contains("REQUEST_LOG_TABLE"), "{out}");
    let out = cold_start_output("feedback", &[("REQUEST_LOG_TABLE", "RequestLogTable")]);
    assert!(out.contains("FEEDBACK_TABLE"), "{out}");
}

#[test]
fn a_missing_or_corrupt_model_stops_the_cold_start_with_a_fix() {
    let out = cold_start_output(
        "classify",
        &[
            ("REQUEST_LOG_TABLE", "t"),
            ("MODEL_DIR", "/nonexistent/model"),
        ],
    );
    assert!(out.contains("MODEL_DIR=/nonexistent/model"), "{out}");
    assert!(
        out.contains("scripts/setup.sh"),
        "the message says how to fix it: {out}"
    );

    let dir = std::env::temp_dir().join(format!("corrupt-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let real = workspace_root().join(".tools/model/all-MiniLM-L6-v2");
    for f in ["tokenizer.json", "config.json"] {
        std::fs::copy(real.join(f), dir.join(f)).expect("copy model file (run scripts/setup.sh)");
    }
    std::fs::write(dir.join("model.safetensors"), b"not a safetensors file").expect("write");
    let out = cold_start_output(
        "classify",
        &[
            ("REQUEST_LOG_TABLE", "t"),
            ("MODEL_DIR", dir.to_str().expect("utf-8 path")),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.contains("model.safetensors"), "{out}");
}
