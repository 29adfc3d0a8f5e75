//! Generative providers end to end: API Gateway events through the real handler, the real
//! provider code (prompts, schemas, decoders, repair loop, error mapping, request log) and the
//! real upstream clients, against local HTTP servers that play the upstream APIs (`wiremock`).
//!
//! # Layout
//! - this file: the app under test and the helpers every provider's tests share.
//! - [`openai`]: an OpenAI-compatible server: every intent, the request shape, every failure.
//! - [`bedrock`]: Bedrock Converse (REST-JSON) played by the same kind of server.
//! - [`fallback`]: a failing generative provider with the embedded engine behind it.
//! - [`live`]: the real services, only when credentials are configured (ignored otherwise).

mod bedrock;
mod fallback;
mod live;
mod openai;

use std::sync::Arc;
use std::time::Duration;

use api_tests::event::post_json;
use lambda_http::Body;
use serde_json::Value;
use shared::http::{App, handle};
use shared::provider::SharedProvider;
use shared::routes::Function;
use shared::store::LogItem;
use shared::store::memory::MemoryRequestLog;

/// An app serving `function` with `provider`, and its request log to inspect.
pub struct TestApp {
    pub app: App,
    pub log: Arc<MemoryRequestLog>,
}

impl TestApp {
    pub fn new(function: Function, provider: SharedProvider, timeout: Duration) -> TestApp {
        let log = Arc::new(MemoryRequestLog::default());
        let mut app = App::in_memory(function);
        app.provider = Some(provider);
        app.request_log = log.clone();
        app.provider_config.timeout = timeout;
        TestApp { app, log }
    }

    /// POSTs `body` to the function's route; the status, headers and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        let request = post_json(path, &body.to_string(), "req-provider-test").expect("an event");
        let response = handle(&self.app, request).await;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = match response.body() {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {text}"));
        Reply {
            status,
            retry_after,
            content_type,
            body,
            text,
        }
    }

    /// The one request log item written so far.
    pub fn log_item(&self) -> LogItem {
        let items = self.log.items.lock().expect("log lock");
        assert_eq!(items.len(), 1, "one request, one log item");
        items[0].clone()
    }
}

pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: String,
    pub body: Value,
    /// The raw body, to check that nothing leaked into it.
    pub text: String,
}

impl Reply {
    /// Asserts a problem+json error of `status` and `kind` (`urn:intent-api:problem:<kind>`).
    pub fn assert_problem(&self, status: u16, kind: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(
            self.body["type"],
            format!("urn:intent-api:problem:{kind}"),
            "{}",
            self.text
        );
        assert_eq!(self.body["request_id"], "req-provider-test");
    }
}
