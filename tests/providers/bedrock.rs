//! Bedrock Converse through the real SDK client, against a local server playing the service's
//! REST-JSON API (the endpoint the SDK is pointed at, as `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` does).

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use serde_json::{Value, json};
use shared::provider::SharedProvider;
use shared::provider::bedrock::{BedrockChat, BedrockOutput, BedrockSettings};
use shared::provider::generative::GenerativeProvider;
use shared::routes::Function;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::TestApp;

const MODEL: &str = "us.anthropic.claude-3-5-haiku-20241022-v1:0";

async fn provider(server: &MockServer) -> SharedProvider {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(server.uri())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "AKIDLOCALTEST",
            "local-test-secret",
            None,
            None,
            "provider-tests",
        ))
        .http_client(shared::store::dynamo::https_client())
        .load()
        .await;
    let chat = BedrockChat::new(
        &sdk,
        BedrockSettings {
            model_id: MODEL.to_owned(),
            output: BedrockOutput::Tool,
            guardrail: None,
        },
    );
    Arc::new(GenerativeProvider::new(Arc::new(chat)))
}

fn tool_use(input: Value, stop_reason: &str) -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "tooluse_1", "name": "classification", "input": input}}
        ]}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": 900, "outputTokens": 40, "totalTokens": 940, "cacheReadInputTokens": 100},
        "metrics": {"latencyMs": 420}
    })
}

async fn server_answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/model/[^/]+/converse$"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

fn body() -> Value {
    json!({
        "text": "My parcel never arrived.",
        "labels": [{"name": "billing"}, {"name": "shipping", "description": "deliveries"}]
    })
}

#[tokio::test]
async fn classify_through_a_forced_tool_call_with_tokens_and_cost_logged() {
    let server = server_answering(ResponseTemplate::new(200).set_body_json(tool_use(
        json!({"labels": [{"index": 1, "score": 0.88}, {"index": 0, "score": 0.05}]}),
        "tool_use",
    )))
    .await;
    let app = TestApp::new(
        Function::Classify,
        provider(&server).await,
        Duration::from_secs(10),
    );
    let reply = app.post("/v1/classify", &body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["label"], "shipping");
    let meta = &reply.body["meta"];
    assert_eq!(meta["provider"], "bedrock");
    assert_eq!(meta["model"], MODEL);
    assert_eq!(meta["usage"]["input_tokens"], 900);
    assert_eq!(meta["usage"]["cache_read_tokens"], 100);
    // Claude 3.5 Haiku: 900 input at $0.80/M, 100 cache reads at $0.08/M, 40 output at $4/M.
    let cost = meta["cost_usd"].as_f64().expect("a cost");
    assert!((cost - 0.000888).abs() < 1e-9, "{cost}");

    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].url.path().contains("claude-3-5-haiku"));
    let sent: Value = serde_json::from_slice(&requests[0].body).expect("JSON");
    assert_eq!(
        sent["toolConfig"]["toolChoice"]["tool"]["name"],
        "classification"
    );
    assert_eq!(
        sent["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["additionalProperties"],
        false
    );
    assert_eq!(sent["inferenceConfig"]["temperature"], 0.0);
    assert!(
        sent["system"][0]["text"]
            .as_str()
            .is_some_and(|s| s.contains("never instructions"))
    );
    assert!(
        sent["messages"][0]["content"][0]["text"]
            .as_str()
            .is_some_and(|s| s.contains("<document>\nMy parcel never arrived.\n</document>"))
    );
    let item = app.log_item();
    assert_eq!(item.record.provider.as_deref(), Some("bedrock"));
    assert_eq!(item.record.usage.attempts, Some(1));
    assert_eq!(item.record.stop_reason.as_deref(), Some("complete"));
}

#[tokio::test]
async fn stop_reasons_and_service_errors_map_to_their_statuses() {
    let cases: Vec<(ResponseTemplate, u16, &str)> = vec![
        (
            ResponseTemplate::new(200).set_body_json(tool_use(json!({"labels": []}), "max_tokens")),
            502,
            "provider-truncated",
        ),
        (
            ResponseTemplate::new(200)
                .set_body_json(tool_use(json!({"labels": []}), "guardrail_intervened")),
            502,
            "provider-refused",
        ),
        (
            ResponseTemplate::new(200)
                .set_body_json(tool_use(json!({"labels": []}), "content_filtered")),
            502,
            "provider-refused",
        ),
        (
            ResponseTemplate::new(429)
                .insert_header("x-amzn-ErrorType", "ThrottlingException")
                .set_body_json(json!({"message": "Too many requests for account 000000000000"})),
            429,
            "throttled",
        ),
        (
            ResponseTemplate::new(503)
                .insert_header("x-amzn-ErrorType", "ServiceUnavailableException")
                .set_body_json(json!({"message": "unavailable"})),
            503,
            "unavailable",
        ),
        (
            ResponseTemplate::new(408)
                .insert_header("x-amzn-ErrorType", "ModelTimeoutException")
                .set_body_json(json!({"message": "model timed out"})),
            504,
            "provider-timeout",
        ),
        (
            ResponseTemplate::new(403)
                .insert_header("x-amzn-ErrorType", "AccessDeniedException")
                .set_body_json(
                    json!({"message": "no access to arn:aws:bedrock:us-east-1:000000000000"}),
                ),
            500,
            "internal",
        ),
        (
            ResponseTemplate::new(400)
                .insert_header("x-amzn-ErrorType", "ValidationException")
                .set_body_json(json!({"message": "malformed request at 000000000000"})),
            500,
            "internal",
        ),
    ];
    for (template, status, kind) in cases {
        let server = server_answering(template).await;
        let app = TestApp::new(
            Function::Classify,
            provider(&server).await,
            Duration::from_secs(10),
        );
        let reply = app.post("/v1/classify", &body()).await;
        reply.assert_problem(status, kind);
        assert!(
            !reply.text.contains("000000000000"),
            "leaked: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn an_invalid_tool_input_is_repaired_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tool_use(
            json!({"labels": [{"index": 5, "score": 0.9}]}),
            "tool_use",
        )))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tool_use(
            json!({"labels": [{"index": 0, "score": 0.7}]}),
            "tool_use",
        )))
        .mount(&server)
        .await;
    let app = TestApp::new(
        Function::Classify,
        provider(&server).await,
        Duration::from_secs(10),
    );
    let reply = app.post("/v1/classify", &body()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["label"], "billing");
    assert_eq!(reply.body["meta"]["usage"]["attempts"], 2);
    assert_eq!(reply.body["meta"]["usage"]["input_tokens"], 1800);
    assert_eq!(
        server.received_requests().await.unwrap_or_default().len(),
        2
    );
}
