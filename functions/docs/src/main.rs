//! `GET /v1/openapi.json` and `GET /docs`: the OpenAPI document and a self-contained docs page.
//!
//! The whole function: logging, configuration and clients once per cold start, then the shared
//! HTTP boundary. All behaviour lives in the `shared` crate; this crate only contributes the
//! vendored docs renderer, so that no other function binary carries it. The renderer is stored
//! deflated (`build.rs`), which keeps this bootstrap under 8 MB, and inflated on the first `/docs`
//! request only.

use shared::http::{App, run};
use shared::routes::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::observability::init();
    // Redoc 2.5.4 (MIT), vendored from npm: see assets/README.md.
    shared::openapi::install_docs_assets(inflate_redoc);
    let app = App::from_env(Function::Docs).await.map_err(|e| {
        tracing::error!(error = format!("{e:#}"), "cold start failed");
        e
    })?;
    run(app).await
}

/// The vendored Redoc bundle, deflated by `build.rs`.
const REDOC_DEFLATED: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/redoc.standalone.js.deflate"));

fn inflate_redoc() -> Result<String, String> {
    let bytes = miniz_oxide::inflate::decompress_to_vec(REDOC_DEFLATED)
        .map_err(|e| format!("inflating the Redoc bundle: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("the Redoc bundle is not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_deflated_bundle_inflates_to_the_vendored_file() {
        let vendored = include_str!("../assets/redoc.standalone.js");
        assert_eq!(super::inflate_redoc().as_deref(), Ok(vendored));
    }
}
