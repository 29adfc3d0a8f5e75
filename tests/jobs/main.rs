//! Background jobs end to end: the jobs function and the job worker (real binaries behind the
//! local API, which polls the queue as Lambda's event source mapping does), DynamoDB Local for
//! the jobs table, moto for the queue, the dead-letter queue and the bucket.

use std::time::{Duration, Instant};

use api_tests::api::{LocalApi, Reply};
use api_tests::dynamodb::DynamoLocal;
use api_tests::moto::Moto;
use api_tests::workspace_root;
use hyper::Method;
use serde_json::{Value, json};

struct Stack {
    _db: DynamoLocal,
    _moto: Moto,
    api: LocalApi,
}

async fn stack() -> Stack {
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let moto = Moto::start(30).await.expect("moto");
    let env: Vec<(&str, &str)> = moto
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let api = LocalApi::start(&db.url, &env).await.expect("local API");
    Stack {
        _db: db,
        _moto: moto,
        api,
    }
}

fn fixture_body(function: &str) -> Value {
    let path = workspace_root().join(format!("events/{function}.json"));
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("fixture is JSON");
    serde_json::from_str(event["body"].as_str().expect("fixture has a body")).expect("body is JSON")
}

/// Polls the job until it has finished (60 s at most).
async fn finished(api: &LocalApi, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = api.get(&format!("/v1/jobs/{id}")).await.expect("poll");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let status = reply.body["status"].as_str().unwrap_or_default().to_owned();
        if status == "succeeded" || status == "failed" {
            assert_eq!(reply.header("retry-after"), None);
            return reply.body;
        }
        assert!(
            reply.header("retry-after").is_some(),
            "a pending job has Retry-After"
        );
        assert!(
            Instant::now() < deadline,
            "job {id} still {status} after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The answer without what differs between two calls (timing, ids).
fn comparable(mut answer: Value) -> Value {
    answer["meta"]["latency_ms"] = json!(0);
    answer["meta"]["request_id"] = json!("");
    answer
}

fn accepted_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = reply.body["job_id"].as_str().expect("job_id").to_owned();
    let location = reply.header("location").expect("Location");
    assert!(location.ends_with(&format!("/v1/jobs/{id}")), "{location}");
    assert!(reply.header("retry-after").is_some(), "Retry-After");
    assert_eq!(reply.body["status"], "queued");
    assert_eq!(reply.body["attempts"], 0);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_intent_as_a_job_returns_exactly_the_synchronous_answer() {
    let s = stack().await;
    for intent in ["summarize", "classify", "extract", "recommend", "score"] {
        // Arrange
        let input = fixture_body(intent);
        let sync = s
            .api
            .post(&format!("/v1/{intent}"), &input)
            .await
            .expect("sync");
        assert_eq!(sync.status, 200, "{intent}: {}", sync.body);

        // Act
        let submit = s
            .api
            .post("/v1/jobs", &json!({ "intent": intent, "input": input }))
            .await
            .expect("submit");
        let id = accepted_id(&submit);
        let job = finished(&s.api, &id).await;

        // Assert
        assert_eq!(job["status"], "succeeded", "{intent}: {job}");
        assert_eq!(job["attempts"], 1);
        assert_eq!(job["intent"], intent);
        assert!(job.get("error").is_none());
        assert_eq!(job["result"]["meta"]["request_id"], id.as_str());
        assert_eq!(
            comparable(job["result"].clone()),
            comparable(sync.body),
            "{intent}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_submits_with_one_key_make_one_job_that_runs_once() {
    // Arrange
    let s = stack().await;
    let body = json!({ "intent": "summarize", "input": fixture_body("summarize") });
    let key = [(
        "Idempotency-Key",
        "\"7d3c0c1e-1f6a-4f0e-9d52-2b1f0a9e4c11\"",
    )];

    // Act
    let replies = futures_util::future::join_all(
        (0..20).map(|_| s.api.call_with(Method::POST, "/v1/jobs", Some(&body), &key)),
    )
    .await;

    // Assert
    // Replays answer with the job as it is by then (queued, running or already succeeded).
    let mut ids: Vec<String> = replies
        .iter()
        .map(|r| {
            let r = r.as_ref().expect("submit");
            assert_eq!(r.status, 202, "{}", r.body);
            r.body["job_id"].as_str().expect("job_id").to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let job = finished(&s.api, &ids[0]).await;
    assert_eq!(
        (job["status"].as_str(), job["attempts"].as_u64()),
        (Some("succeeded"), Some(1))
    );

    // The same key with another body is refused, and says why.
    let other = json!({ "intent": "summarize", "input": { "text": "Another document." } });
    let reused = s
        .api
        .call_with(Method::POST, "/v1/jobs", Some(&other), &key)
        .await
        .expect("submit");
    assert_eq!(reused.status, 422, "{}", reused.body);
    assert_eq!(
        reused.body["type"],
        "urn:intent-api:problem:idempotency-key-reused"
    );
    // The same key and body after the job finished: still the same job.
    let again = s
        .api
        .call_with(Method::POST, "/v1/jobs", Some(&body), &key)
        .await
        .expect("submit");
    assert_eq!(again.status, 202);
    assert_eq!(again.body["job_id"], ids[0].as_str());
    assert_eq!(again.body["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_422_at_submit_and_unknown_jobs_are_404() {
    let s = stack().await;
    let bad = s
        .api
        .post(
            "/v1/jobs",
            &json!({ "intent": "score", "input": { "query": "q", "documents": [] } }),
        )
        .await
        .expect("submit");
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.body["errors"][0]["pointer"], "/input/documents");
    for id in ["00000000-0000-0000-0000-000000000000", "not-a-job"] {
        let missing = s.api.get(&format!("/v1/jobs/{id}")).await.expect("get");
        assert_eq!(missing.status, 404, "{}", missing.body);
        assert_eq!(missing.body["type"], "urn:intent-api:problem:job-not-found");
    }
}
