//! `POST /v1/extract`: typed fields extracted from a document.
//!
//! The whole function: logging, configuration, clients and the intent engine once per cold
//! start, then the shared HTTP boundary. All behaviour lives in the `shared` crate.

use shared::embed::MiniLm;
use shared::http::{App, run};
use shared::routes::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::observability::init();
    let app = App::for_intent_function(Function::Extract, MiniLm::load).await?;
    run(app).await
}
