//! The OIDC authorizer: API Gateway calls it with the `Authorization` header of a request to a
//! protected route (a TOKEN authorizer) and caches the policy it returns per token.
//!
//! The whole function: logging and configuration once per cold start (a bad setting stops it
//! with a message naming the variable), then the runtime loop. The behaviour is in the library.

use authorizer::{Authorizer, AuthorizerConfig, handle};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    authorizer::init_logging();
    let config = AuthorizerConfig::from_env().map_err(|e| {
        tracing::error!(error = %e, "cold start failed");
        e
    })?;
    let authorizer: &'static Authorizer = Box::leak(Box::new(Authorizer::new(config)?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        handle(authorizer, event.payload)
    }))
    .await
}
