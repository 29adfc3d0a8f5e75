//! Background jobs end to end: the jobs function and the job worker (real binaries behind the
//! local API, which polls the queue as Lambda's event source mapping does), DynamoDB Local for
//! the jobs table, moto for the queue, the dead-letter queue and the bucket.

use std::time::{Duration, Instant};

use api_tests::api::{LocalApi, Reply};
use api_tests::dynamodb::DynamoLocal;
use api_tests::fault_proxy::FaultProxy;
use api_tests::moto::Moto;
use api_tests::workspace_root;
use hyper::Method;
use serde_json::{Value, json};

struct Stack {
    db: DynamoLocal,
    moto: Moto,
    api: LocalApi,
}

async fn stack() -> Stack {
    stack_with_visibility(30).await
}

/// A stack whose job queues have this visibility timeout (seconds).
async fn stack_with_visibility(visibility_s: u32) -> Stack {
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let moto = Moto::start(visibility_s).await.expect("moto");
    let env: Vec<(&str, &str)> = moto
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let api = LocalApi::start(&db.url, &env).await.expect("local API");
    Stack { db, moto, api }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Writes a job item straight into the jobs table, as a worker that started it would have left
/// it (`running` under attempt 1, with its lease until `lease_until_ms`), then sends its message
/// straight to the queue, as SQS redelivers it.
async fn running_job(s: &Stack, lease_until_ms: i64) -> String {
    use aws_sdk_dynamodb::types::AttributeValue::{Bool, N, S};
    let id = format!(
        "{:08x}-0000-4000-8000-{:012x}",
        now_ms() as u32,
        lease_until_ms.unsigned_abs() & 0xffff_ffff_ffff
    );
    let input = serde_json::to_string(&fixture_body("summarize")).expect("JSON");
    let now = now_ms();
    s.db.client()
        .put_item()
        .table_name("JobsTable")
        .item("id", S(id.clone()))
        .item("kind", S("job".into()))
        .item("intent", S("summarize".into()))
        .item("status", S("running".into()))
        .item("created_at_ms", N(now.to_string()))
        .item("updated_at_ms", N(now.to_string()))
        .item("started_at_ms", N(now.to_string()))
        .item("attempts", N("1".into()))
        .item("lease_until_ms", N(lease_until_ms.to_string()))
        .item("send_lease_until_ms", N("0".into()))
        .item("enqueued", Bool(true))
        .item("expires_at", N((now / 1000 + 3600).to_string()))
        .item("request_sha256", S("test".into()))
        .item("input", S(input))
        .send()
        .await
        .expect("writing the job");
    send_message(s, &id).await;
    id
}

async fn send_message(s: &Stack, job_id: &str) {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .http_client(shared::store::dynamo::https_client())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .endpoint_url(&s.moto.url)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
        .send_message()
        .queue_url(s.moto.var("JOB_QUEUE_URL"))
        .message_body(json!({ "job_id": job_id }).to_string())
        .send()
        .await
        .expect("sending a job message");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_message_a_dead_worker_and_a_poison_job_each_end_once() {
    // Arrange: short visibility timeouts, so redeliveries come within seconds.
    let s = stack_with_visibility(2).await;

    // A message delivered again after its job succeeded: nothing runs twice.
    let submit = s
        .api
        .post(
            "/v1/jobs",
            &json!({ "intent": "summarize", "input": fixture_body("summarize") }),
        )
        .await
        .expect("submit");
    let id = accepted_id(&submit);
    let first = finished(&s.api, &id).await;
    send_message(&s, &id).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = finished(&s.api, &id).await;
    assert_eq!(after["attempts"], 1);
    assert_eq!(after["result"], first["result"], "the result never changes");
    assert_eq!(after["finished_at"], first["finished_at"]);

    // A worker died mid-job (its lease ran out): the redelivered message takes it over once.
    let orphan = running_job(&s, now_ms() - 1).await;
    let taken_over = finished(&s.api, &orphan).await;
    assert_eq!(taken_over["status"], "succeeded", "{taken_over}");
    assert_eq!(taken_over["attempts"], 2);
    assert_eq!(taken_over["result"]["meta"]["request_id"], orphan.as_str());

    // A job whose every delivery is deferred (a lease that never ends, as a worker that hangs
    // would hold): after maxReceiveCount the message is dead-lettered and the job failed.
    let poison = running_job(&s, now_ms() + 3_600_000).await;
    let failed = finished(&s.api, &poison).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(failed.get("result").is_none());
    let error = &failed["error"];
    assert_eq!(error["type"], "urn:intent-api:problem:job-abandoned");
    assert_eq!(error["status"], 503);
    assert_eq!(error["instance"], format!("/v1/jobs/{poison}"));
    assert!(
        error["detail"]
            .as_str()
            .is_some_and(|d| d.contains("could not be completed")),
        "{error}"
    );
}

/// Submits with `key`, retrying 5xx answers as a client should (same key, so a retry resumes
/// the same job). `Some(job_id)` once a 202 acknowledged it.
async fn submit_until_acknowledged(
    api: &LocalApi,
    body: &Value,
    key: &str,
) -> (Option<String>, u32) {
    let headers = [("Idempotency-Key", key)];
    for attempt in 1..=10 {
        let reply = api
            .call_with(Method::POST, "/v1/jobs", Some(body), &headers)
            .await
            .expect("HTTP round trip");
        match reply.status.as_u16() {
            202 => return (reply.body["job_id"].as_str().map(str::to_owned), attempt),
            s if s >= 500 => tokio::time::sleep(Duration::from_millis(50)).await,
            s => panic!("unexpected status {s} for {key}: {}", reply.body),
        }
    }
    (None, 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_jobs_with_a_third_of_storage_and_queue_calls_failing_lose_nothing() {
    const JOBS: usize = 200;
    // Arrange: 30% of DynamoDB and of SQS calls fail (throttled, 500, answered too late, or
    // dropped after committing), in front of the functions and of the local event source.
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    // Visibility 4 s: a message deferred by a dead attempt's lease (10 s) is received 5 times in
    // 20 s, so the lease runs out before the message would be dead-lettered.
    let moto = Moto::start(4).await.expect("moto");
    // Late answers arrive just after the clients' attempt timeouts (1.5 s for both).
    let ddb_proxy = FaultProxy::start(&db.url, 30, Duration::from_millis(1_600), 0x10b5)
        .await
        .expect("DynamoDB fault proxy");
    let sqs_proxy = FaultProxy::start(&moto.url, 30, Duration::from_millis(1_600), 0x5a5)
        .await
        .expect("SQS fault proxy");
    let mut env: Vec<(&str, &str)> = moto
        .env
        .iter()
        .filter(|(k, _)| k != "AWS_ENDPOINT_URL_SQS")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("AWS_ENDPOINT_URL_SQS", &sqs_proxy.url));
    // Four worker environments, as Lambda scales an event source mapping out.
    env.push(("JOB_WORKER_CONCURRENCY", "4"));
    let api = LocalApi::start(&ddb_proxy.url, &env)
        .await
        .expect("local API");
    let started = Instant::now();

    // Act: submit in waves of 10 concurrent clients, each retrying until acknowledged.
    let mut acknowledged = Vec::new();
    let mut unacknowledged = 0;
    let mut http_attempts = 0;
    for wave in 0..JOBS / 10 {
        let submits = (0..10).map(|j| {
            let i = wave * 10 + j;
            let body = json!({ "intent": "score", "input": {
                "query": format!("invoice {i}"),
                "documents": [
                    { "id": "a", "text": format!("invoice number {i} is due") },
                    { "id": "b", "text": "shipping times" }
                ]
            }});
            let api = &api;
            async move { submit_until_acknowledged(api, &body, &format!("fault-{i:03}")).await }
        });
        for (id, attempts) in futures_util::future::join_all(submits).await {
            http_attempts += attempts;
            match id {
                Some(id) => acknowledged.push(id),
                None => unacknowledged += 1,
            }
        }
    }
    let submitted_in = started.elapsed();

    // Every acknowledged job ends, and says how.
    let mut succeeded = 0;
    let mut failed = Vec::new();
    let mut lost = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    for id in &acknowledged {
        loop {
            let reply = api.get(&format!("/v1/jobs/{id}")).await.expect("poll");
            let status = reply.body["status"].as_str().unwrap_or_default().to_owned();
            match (reply.status.as_u16(), status.as_str()) {
                (200, "succeeded") => {
                    assert_eq!(reply.body["result"]["meta"]["request_id"], id.as_str());
                    assert_eq!(reply.body["result"]["results"][0]["id"], "a");
                    succeeded += 1;
                    break;
                }
                (200, "failed") => {
                    let detail = reply.body["error"]["detail"].as_str().unwrap_or_default();
                    assert!(!detail.is_empty(), "a failed job says why: {}", reply.body);
                    failed.push(detail.to_owned());
                    break;
                }
                (404, _) => {
                    lost.push(id.clone());
                    break;
                }
                _ if Instant::now() > deadline => {
                    lost.push(id.clone());
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    // One job per key, however many retries: count the job items around the proxies.
    let mut job_items = 0;
    let mut start_key = None;
    loop {
        let page = db
            .client()
            .scan()
            .table_name("JobsTable")
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .expect("scan");
        job_items += page
            .items()
            .iter()
            .filter(|i| matches!(i.get("kind"), Some(aws_sdk_dynamodb::types::AttributeValue::S(k)) if k == "job"))
            .count();
        start_key = page.last_evaluated_key().cloned();
        if start_key.is_none() {
            break;
        }
    }

    let c = &ddb_proxy.counts;
    let q = &sqs_proxy.counts;
    println!(
        "jobs under faults: {JOBS} submitted with {http_attempts} HTTP attempts in {:.1} s; \
         {} acknowledged (202), {unacknowledged} never acknowledged; {succeeded} succeeded, {} \
         failed with a reason, {} lost; {job_items} job items for {JOBS} idempotency keys; \
         all done in {:.1} s. DynamoDB calls: {} ({} throttled, {} 500, {} late, {} dropped \
         after commit); SQS calls: {} ({} throttled, {} 500, {} late, {} dropped after commit)",
        submitted_in.as_secs_f64(),
        acknowledged.len(),
        failed.len(),
        lost.len(),
        started.elapsed().as_secs_f64(),
        c.get(&c.requests),
        c.get(&c.throttled),
        c.get(&c.server_errors),
        c.get(&c.delayed),
        c.get(&c.dropped_after_commit),
        q.get(&q.requests),
        q.get(&q.throttled),
        q.get(&q.server_errors),
        q.get(&q.delayed),
        q.get(&q.dropped_after_commit),
    );
    if !failed.is_empty() {
        println!("failure reasons: {failed:?}");
    }

    // Assert
    assert!(lost.is_empty(), "acknowledged jobs lost: {lost:?}");
    assert_eq!(succeeded + failed.len(), acknowledged.len());
    assert!(job_items <= JOBS, "{job_items} job items for {JOBS} keys");
    let mut distinct = acknowledged.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        acknowledged.len(),
        "two keys acknowledged the same job"
    );
    assert!(acknowledged.len() >= JOBS * 9 / 10, "too few acknowledged");
    assert!(c.get(&c.requests) > 0 && q.get(&q.requests) > 0);
}
