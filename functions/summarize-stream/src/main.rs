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
    let app = App::for_intent_function(Function::SummarizeStream, MiniLm::load).await?;
    shared::streaming::handler::run(app).await
}
