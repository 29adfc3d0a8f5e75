//! The product's one outbound HTTPS connector for its own clients (the OpenAI-compatible
//! provider, the OIDC authorizer's key fetch): rustls on `ring`, the AWS SDK's stack, so no
//! second TLS library is linked; HTTP/1.1; a connect timeout; no Nagle delay.
//!
//! Depends on `std`, `hyper-util`, `hyper-rustls` and `rustls` only, so the authorizer, which
//! does not link `shared`, compiles this same file in with `#[path]`.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// A connector for `https://` (the system's root certificates) or, with `https` false, for plain
/// `http://` only: then no roots are read, which spares the cold start a scan of the certificate
/// store and works where there is none (a local model server, a loopback issuer in tests). The
/// callers only ever call the one base URL they were configured with, so the empty store of the
/// plain case refuses nothing they use. The error is a sentence for the caller's own error type.
pub fn connector(
    https: bool,
    connect_timeout: Duration,
) -> Result<HttpsConnector<HttpConnector>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = if https {
        HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| format!("no usable root certificates: {e}"))?
    } else {
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        HttpsConnectorBuilder::new().with_tls_config(config)
    };
    let mut http = HttpConnector::new();
    // The HTTPS wrapper hands `https://` URIs to this connector too.
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    Ok(builder.https_or_http().enable_http1().wrap_connector(http))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_for_both_schemes() {
        assert!(connector(false, Duration::from_secs(1)).is_ok());
        // The https case reads the machine's roots; where there are none it says so in words.
        if let Err(e) = connector(true, Duration::from_secs(1)) {
            assert!(e.contains("root certificates"), "{e}");
        }
    }
}
