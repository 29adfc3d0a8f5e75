//! The OIDC authorizer of the REST API: validates the bearer JWT of a request to a protected
//! route and answers API Gateway with an IAM policy naming every route the token's scopes open.
//!
//! API Gateway REST APIs have native Cognito user pool authorizers but no generic OIDC JWT
//! authorizer (that is an HTTP API feature), so `AuthMode=oidc` puts this TOKEN authorizer in
//! front of the protected routes. A missing, malformed, expired, foreign or forged token is a 401
//! (the Lambda error `Unauthorized`); a valid token without the route's scope is a 403 (the
//! policy does not allow the route); keys that cannot be fetched are an authorizer failure (500).
//!
//! # Layout
//! - [`config`]: the issuer, audience and optional JWKS URL, from the environment, checked once.
//! - [`crypto`]: RS256 and ES256 signature checks on `ring` for `jsonwebtoken` (no other crypto
//!   library is linked; every other algorithm, `none` and HS* included, is refused).
//! - [`jwks`]: the issuer's signing keys: discovered, fetched over HTTPS, cached per execution
//!   environment, refreshed on an unknown `kid` at most once per [`jwks::MIN_REFRESH`].
//! - [`token`]: one token's checks (algorithm bound to its key, signature, `iss`, `aud`,
//!   `exp`/`nbf` with a small leeway) and its scopes.
//! - [`policy`]: the policy for a token's scopes, valid for every route it covers, because API
//!   Gateway caches it per token and reuses it on other routes.
//! - [`handler`]: the TOKEN authorizer event, the decision, and the response.
//! - [`routes`]: the API's route table and the scope of each operation: `shared`'s own file.

pub mod config;
pub mod crypto;
pub mod handler;
pub mod jwks;
pub mod policy;
pub mod token;

/// The route table of `shared` (which scope each operation needs), compiled in from its one file
/// rather than through a dependency on `shared`, whose engines and SDK clients this small
/// function has no use for. The file depends on `std` alone.
#[path = "../../../shared/src/routes.rs"]
pub mod routes;

/// `shared`'s outbound HTTPS connector and log-level choice, compiled in from their files for the
/// same reason as [`routes`]; both depend on their crates (`hyper-rustls`, `tracing-subscriber`)
/// alone.
#[path = "../../../shared/src/https_connector.rs"]
pub mod https_connector;
#[path = "../../../shared/src/log_filter.rs"]
pub mod log_filter;

/// JSON log lines, as the other functions write them (`RUST_LOG`, else Lambda's log level).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(log_filter::from_env())
        .flatten_event(true)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}

pub use config::{AuthorizerConfig, ConfigError};
pub use handler::{Authorizer, AuthorizerResponse, TokenAuthorizerEvent, handle};
