//! Builders for API Gateway (REST, v1 payload) events, for tests that need inputs no fixture in
//! `events/` holds. Kept beside the handler tests rather than in the shared support crate so the
//! handler suite does not depend on helpers other suites are free to change.

use std::path::PathBuf;

use serde_json::{Value, json};

/// The `events/` folder that `sam local invoke` and the handler tests share.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|root| root.join("events"))
        .unwrap_or_else(|| PathBuf::from("../events"))
}

/// Stage every generated event is sent through, as in `template.yaml`.
const STAGE: &str = "Prod";

/// An API Gateway REST proxy event shaped like the ones AWS sends: `path` without the stage,
/// `requestContext.path` with it. `content_type: None` leaves the header out, which is how a
/// caller forgets it.
pub fn rest_event(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<&str>,
    request_id: &str,
) -> Value {
    let mut headers = serde_json::Map::new();
    headers.insert("Accept".into(), json!("application/json"));
    headers.insert(
        "Host".into(),
        json!("abc123defg.execute-api.us-east-1.amazonaws.com"),
    );
    if let Some(ct) = content_type {
        headers.insert("Content-Type".into(), json!(ct));
    }
    let multi: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": format!("/{STAGE}{path}"),
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "requestId": request_id,
            "requestTimeEpoch": 1741774530000u64,
            "identity": { "sourceIp": "203.0.113.10", "userAgent": "api-tests" },
            "domainName": "abc123defg.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123defg"
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// A JSON `POST` to `path`, parsed the way the Lambda runtime parses it.
pub fn post_json(
    path: &str,
    body: &str,
    request_id: &str,
) -> Result<lambda_http::Request, serde_json::Error> {
    let event = rest_event(
        "POST",
        path,
        Some("application/json"),
        Some(body),
        request_id,
    );
    lambda_http::request::from_str(&event.to_string())
}
