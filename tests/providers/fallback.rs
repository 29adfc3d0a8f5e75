//! `PROVIDER_FALLBACK=embedded`: transient upstream failures are answered by the embedded engine
//! and `meta` says so; other failures are not hidden behind it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared::provider::embedded::EmbeddedProvider;
use shared::provider::fallback::FallbackProvider;
use shared::provider::openai::ResponseFormat;
use shared::routes::Function;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::TestApp;
use super::openai::{completion, provider};

async fn app_behind(template: ResponseTemplate) -> (TestApp, MockServer) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&server)
        .await;
    let fallback = FallbackProvider::new(
        provider(&server, ResponseFormat::JsonSchema),
        Arc::new(EmbeddedProvider::new()),
    );
    let app = TestApp::new(
        Function::Classify,
        Arc::new(fallback),
        Duration::from_secs(2),
    );
    (app, server)
}

fn body() -> serde_json::Value {
    json!({
        "text": "Please refund the double charge on my invoice.",
        "labels": [{"name": "billing", "description": "refund invoice charge"}, {"name": "shipping"}]
    })
}

#[tokio::test]
async fn a_throttled_or_slow_upstream_is_answered_by_the_embedded_engine() {
    let cases = [
        (
            ResponseTemplate::new(429).insert_header("retry-after", "3"),
            "throttled",
        ),
        (ResponseTemplate::new(503), "unavailable"),
        (
            ResponseTemplate::new(200)
                .set_body_json(completion(r#"{"labels":[]}"#, "stop"))
                .set_delay(Duration::from_secs(10)),
            "timeout",
        ),
    ];
    for (template, reason) in cases {
        let (app, _server) = app_behind(template).await;
        let reply = app.post("/v1/classify", &body()).await;
        assert_eq!(reply.status, 200, "{reason}: {}", reply.text);
        let meta = &reply.body["meta"];
        assert_eq!(meta["provider"], "embedded", "{reason}");
        assert_eq!(meta["fallback_reason"], reason);
        assert_eq!(meta["cost_usd"], 0.0);
        assert_eq!(reply.body["label"], "billing");
        let item = app.log_item();
        assert_eq!(item.record.fallback_reason.as_deref(), Some(reason));
        assert_eq!(item.record.provider.as_deref(), Some("embedded"));
    }
}

#[tokio::test]
async fn unusable_output_and_refusals_are_not_hidden_by_the_fallback() {
    let (app, server) = app_behind(
        ResponseTemplate::new(200).set_body_json(completion(r#"{"labels":[{"index"#, "length")),
    )
    .await;
    let reply = app.post("/v1/classify", &body()).await;
    reply.assert_problem(502, "provider-truncated");
    assert_eq!(
        server.received_requests().await.unwrap_or_default().len(),
        1
    );
}
