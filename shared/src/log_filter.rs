//! Which log lines a function writes: `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's
//! advanced logging controls), else `info`. A value that does not parse falls back to `info`
//! rather than stopping the function over its logging.
//!
//! Depends on `std` and `tracing-subscriber` only, so the authorizer, which does not link
//! `shared`, compiles this same file in with `#[path]`.

use tracing_subscriber::EnvFilter;

/// The filter from the environment (see the module docs).
pub fn from_env() -> EnvFilter {
    choose(
        std::env::var("RUST_LOG").ok(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok(),
    )
}

fn choose(rust_log: Option<String>, lambda_level: Option<String>) -> EnvFilter {
    rust_log
        .or(lambda_level)
        .map(|v| v.to_lowercase())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("info"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_first_then_lambda_level_then_info() {
        let s = |f: EnvFilter| f.to_string();
        assert_eq!(
            s(choose(Some("debug".into()), Some("WARN".into()))),
            "debug"
        );
        assert_eq!(s(choose(None, Some("WARN".into()))), "warn");
        assert_eq!(s(choose(None, None)), "info");
        assert_eq!(s(choose(Some("=[bad".into()), None)), "info");
    }
}
