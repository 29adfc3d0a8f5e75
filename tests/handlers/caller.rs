//! The caller identity of `events/*/caller_*.json` (an API key, a Cognito user pool token, the
//! OIDC Lambda authorizer's context, and values no store may keep) through the real handler,
//! with the request log, feedback and jobs stores on DynamoDB Local, read back item by item.

use std::collections::HashMap;
use std::sync::Arc;

use api_tests::dynamodb::DynamoLocal;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::http::{App, handle};
use shared::jobs::dynamo::DynamoJobStore;
use shared::jobs::memory::{MemoryPayloads, MemoryQueue};
use shared::jobs::service::Jobs;
use shared::routes::Function;
use shared::store::dynamo::{Clients, DynamoFeedbackStore, DynamoRequestLog};

use super::event::events_dir;

type Item = HashMap<String, AttributeValue>;

const COGNITO_SUB: &str = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
const COGNITO_CLIENT: &str = "3n4b5v6c7x8z9a0s1d2f3g4h5j";
const API_KEY_ID: &str = "k7x2m9q4p1";

/// `function`'s app with every store on DynamoDB Local; log writes happen before the answer
/// (no extension), so the item is there once `handle` returns.
fn app_on(db: &DynamoLocal, function: Function) -> App {
    let clients = Clients::from_clients(db.client(), db.client());
    let mut app = App::in_memory(function);
    app.request_log = Arc::new(DynamoRequestLog::new(clients.clone(), "RequestLogTable"));
    app.feedback = Some(Arc::new(DynamoFeedbackStore::new(
        clients.clone(),
        "FeedbackTable",
    )));
    app.jobs = Some(Arc::new(Jobs {
        store: Arc::new(DynamoJobStore::new(clients, "JobsTable")),
        queue: Arc::new(MemoryQueue::default()),
        payloads: Arc::new(MemoryPayloads::default()),
        ttl_days: 7,
        inline_max: 150 * 1024,
        generative: false,
    }));
    app
}

fn fixture(rel: &str) -> Value {
    let path = events_dir().join(rel);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("a fixture")).expect("JSON")
}

/// Runs `event` through `app`; returns the status and body.
async fn run(app: &App, event: &Value) -> (u16, Value) {
    let request = lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event");
    let response = handle(app, request).await;
    let body = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (response.status().as_u16(), body)
}

async fn get(client: &Client, table: &str, key: &str, value: &str) -> Item {
    client
        .get_item()
        .table_name(table)
        .key(key, AttributeValue::S(value.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("a read")
        .item()
        .cloned()
        .unwrap_or_else(|| panic!("no {table} item {value}"))
}

/// The item's `caller_*` attributes, as (name, value), sorted.
fn caller_of(item: &Item) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = item
        .iter()
        .filter(|(k, _)| k.starts_with("caller_"))
        .map(|(k, v)| match v {
            AttributeValue::S(s) => (k.clone(), s.clone()),
            other => panic!("{k} is not a string: {other:?}"),
        })
        .collect();
    found.sort();
    found
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_identity_form_is_recorded_in_the_request_log_and_odd_values_are_left_out() {
    // Arrange
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let app = app_on(&db, Function::Score);
    let cases: [(&str, Vec<(String, String)>); 4] = [
        (
            "score/caller_api_key.json",
            pairs(&[("caller_api_key_id", API_KEY_ID)]),
        ),
        (
            "score/caller_cognito_jwt.json",
            pairs(&[
                ("caller_api_key_id", API_KEY_ID),
                ("caller_sub", COGNITO_SUB),
                ("caller_client_id", COGNITO_CLIENT),
            ]),
        ),
        (
            "score/caller_oidc_authorizer.json",
            pairs(&[
                ("caller_sub", "auth0|5f7c8d9e"),
                ("caller_client_id", "reporting-service"),
            ]),
        ),
        // An overlong key id, control characters and non-ASCII: none of it is stored.
        ("score/caller_untrusted_values.json", Vec::new()),
    ];

    for (rel, expected) in cases {
        // Act
        let event = fixture(rel);
        let (status, body) = run(&app, &event).await;

        // Assert
        assert_eq!(status, 200, "{rel}: {body}");
        let id = event["requestContext"]["requestId"]
            .as_str()
            .expect("an id");
        let item = get(&db.client(), "RequestLogTable", "request_id", id).await;
        assert_eq!(caller_of(&item), expected, "{rel}");
        assert!(
            !item.contains_key("client_id"),
            "{rel}: the API key id is no longer stored as client_id"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_and_jobs_record_who_submitted_them() {
    // Arrange
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let feedback_app = app_on(&db, Function::Feedback);
    let jobs_app = app_on(&db, Function::Jobs);
    let mut feedback = fixture("score/caller_oidc_authorizer.json");
    feedback["resource"] = json!("/v1/feedback");
    feedback["path"] = json!("/v1/feedback");
    feedback["requestContext"]["resourcePath"] = json!("/v1/feedback");
    feedback["requestContext"]["path"] = json!("/Prod/v1/feedback");
    feedback["requestContext"]["requestId"] = json!("c0a1e001-0000-4000-8000-0000000000f1");
    feedback["body"] = json!(
        json!({
            "request_id": "c0a1e001-0000-4000-8000-000000000003",
            "rating": "positive"
        })
        .to_string()
    );
    let job = fixture("jobs/caller_cognito_jwt.json");

    // Act
    let (feedback_status, feedback_body) = run(&feedback_app, &feedback).await;
    let (job_status, job_body) = run(&jobs_app, &job).await;

    // Assert
    assert_eq!(feedback_status, 201, "{feedback_body}");
    let stored = get(
        &db.client(),
        "FeedbackTable",
        "request_id",
        "c0a1e001-0000-4000-8000-000000000003",
    )
    .await;
    assert_eq!(
        caller_of(&stored),
        pairs(&[
            ("caller_sub", "auth0|5f7c8d9e"),
            ("caller_client_id", "reporting-service"),
        ])
    );
    assert!(
        feedback_body["feedback"].get("caller").is_none(),
        "the caller is stored, not returned"
    );
    assert_eq!(job_status, 202, "{job_body}");
    let job_id = job_body["job_id"].as_str().expect("a job id");
    let stored = get(&db.client(), "JobsTable", "id", job_id).await;
    assert_eq!(
        caller_of(&stored),
        pairs(&[
            ("caller_api_key_id", API_KEY_ID),
            ("caller_sub", COGNITO_SUB),
            ("caller_client_id", COGNITO_CLIENT),
        ])
    );
    let read_back = jobs_app
        .jobs
        .as_ref()
        .expect("jobs")
        .store
        .get(job_id, 0)
        .await
        .expect("a read")
        .expect("the job");
    assert_eq!(read_back.caller.sub.as_deref(), Some(COGNITO_SUB));
}
