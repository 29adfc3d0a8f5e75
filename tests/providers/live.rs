//! The real services. These run only when `scripts/test.sh` finds credentials (it runs them with
//! `--ignored` and says so); without credentials they are reported as ignored, never as passed.
//!
//! - OpenAI-compatible: `OPENAI_API_KEY`, with `OPENAI_MODEL` (default `gpt-4o-mini`) and
//!   `OPENAI_BASE_URL` (default `https://api.openai.com/v1`).
//! - Bedrock: `BEDROCK_MODEL_ID` and AWS credentials in the standard chain (region included).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared::config::{BedrockConfig, BedrockOutputMode, GenerativeConfig};
use shared::provider::generative::GenerativeProvider;
use shared::provider::openai::{ApiKey, OpenAiChat, OpenAiSettings, ResponseFormat};
use shared::provider::setup::chat_model;
use shared::routes::Function;

use super::TestApp;

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set for the live tests"))
}

async fn classify_ticket(app: &TestApp) {
    let reply = app
        .post(
            "/v1/classify",
            &json!({
                "text": "I was charged twice for my subscription this month, please refund one payment.",
                "labels": [
                    {"name": "billing", "description": "charges, refunds, invoices"},
                    {"name": "shipping"},
                    {"name": "account_access"}
                ]
            }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["label"], "billing", "{}", reply.text);
    assert!(
        reply.body["meta"]["usage"]["input_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
}

#[tokio::test]
#[ignore = "live: needs OPENAI_API_KEY (scripts/test.sh runs it when set)"]
async fn live_openai_classifies_a_ticket() {
    let chat = OpenAiChat::new(OpenAiSettings {
        base_url: std::env::var("OPENAI_BASE_URL")
            .unwrap_or_else(|_| "https://api.openai.com/v1".to_owned()),
        model: std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".to_owned()),
        api_key: Some(ApiKey::new(required("OPENAI_API_KEY"))),
        response_format: ResponseFormat::JsonSchema,
    })
    .expect("a valid configuration");
    let app = TestApp::new(
        Function::Classify,
        Arc::new(GenerativeProvider::new(Arc::new(chat))),
        Duration::from_secs(25),
    );
    classify_ticket(&app).await;
}

#[tokio::test]
#[ignore = "live: needs BEDROCK_MODEL_ID and AWS credentials (scripts/test.sh runs it when set)"]
async fn live_bedrock_classifies_a_ticket() {
    let chat = chat_model(&GenerativeConfig::Bedrock(BedrockConfig {
        model_id: required("BEDROCK_MODEL_ID"),
        output: BedrockOutputMode::Tool,
        guardrail: None,
    }))
    .await
    .expect("a Bedrock client");
    let app = TestApp::new(
        Function::Classify,
        Arc::new(GenerativeProvider::new(chat)),
        Duration::from_secs(25),
    );
    classify_ticket(&app).await;
}
