//! `POST /v1/summarize/stream`: the summary as server-sent events, from a response-streaming
//! Lambda.
//!
//! The whole function: logging, configuration, clients and the intent engine once per cold
//! start, then the shared streaming handler. All behaviour lives in the `shared` crate.

use shared::embed::MiniLm;
use shared::http::App;
use shared::routes::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::observability::init();
    let app = async {
        App::from_env(Function::SummarizeStream)
            .await?
            .with_intent_provider(MiniLm::load)
            .await
    }
    .await
    .map_err(|e: anyhow::Error| {
        tracing::error!(error = format!("{e:#}"), "cold start failed");
        e
    })?;
    shared::streaming::handler::run(app).await
}
