//! `GET /v1/openapi.json` and `GET /docs`: the OpenAPI document and a self-contained docs page.
//!
//! The whole function: logging, configuration and clients once per cold start, then the shared
//! HTTP boundary. All behaviour lives in the `shared` crate; this crate only contributes the
//! vendored docs renderer, so that no other function binary carries it.

use shared::http::{App, run};
use shared::routes::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::observability::init();
    // Redoc 2.5.4 (MIT), vendored from npm: see assets/README.md.
    shared::openapi::install_docs_assets(include_str!("../assets/redoc.standalone.js"));
    let app = App::from_env(Function::Docs).await.map_err(|e| {
        tracing::error!(error = format!("{e:#}"), "cold start failed");
        e
    })?;
    run(app).await
}
