//! The issuer's signing keys. Fetched on first use (the discovery document's `jwks_uri`, or
//! `OIDC_JWKS_URL`), kept for the life of the execution environment, and fetched again when a
//! token names a `kid` the set does not have (the issuer rotated its keys), at most once per
//! [`MIN_REFRESH`]: a flood of tokens with made-up `kid`s costs the issuer one request a window,
//! not one per token.
//!
//! Only keys the authorizer can use are kept: RSA keys (RS256) and P-256 keys (ES256) meant for
//! signatures. Each key is bound to its one algorithm, so a token cannot pick another one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Uri;
use hyper::header::ACCEPT;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::{AuthorizerConfig, check_url};

/// The shortest time between two fetches of the key set once it is known.
pub const MIN_REFRESH: Duration = Duration::from_secs(30);
/// Budget of one fetch (discovery and keys each), connect included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(4);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Discovery documents and key sets are a few kilobytes; anything this large is not one.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// A key a token may be verified with, and the one algorithm it is for.
#[derive(Clone)]
pub struct SigningKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The set, fetched as recently as the rate limit allows, has no such key.
    #[error("no signing key with kid {0:?} at the issuer")]
    UnknownKey(String),
    /// No key set could be had at all: nothing can be verified.
    #[error("the issuer's signing keys could not be fetched: {0}")]
    Unavailable(String),
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

pub struct KeySet {
    client: HttpsClient,
    /// Where the discovery document is, when the key set's URL is not configured.
    issuer: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    jwks_uri: Option<Uri>,
    keys: HashMap<String, SigningKey>,
    fetched_at: Option<Instant>,
}

impl KeySet {
    pub fn new(config: &AuthorizerConfig) -> Result<KeySet, JwksError> {
        let https = config.issuer.starts_with("https://")
            || config
                .jwks_url
                .as_ref()
                .is_some_and(|u| u.scheme_str() == Some("https"));
        Ok(KeySet {
            client: Client::builder(TokioExecutor::new()).build(
                crate::https_connector::connector(https, CONNECT_TIMEOUT)
                    .map_err(JwksError::Unavailable)?,
            ),
            issuer: config.issuer.clone(),
            state: Mutex::new(State {
                jwks_uri: config.jwks_url.clone(),
                ..State::default()
            }),
        })
    }

    /// The key named `kid`, fetching the set first if it is not known yet or lacks that key
    /// (within the rate limit). Concurrent callers wait for one fetch instead of each fetching.
    pub async fn key(&self, kid: &str) -> Result<SigningKey, JwksError> {
        let mut state = self.state.lock().await;
        if let Some(key) = state.keys.get(kid) {
            return Ok(key.clone());
        }
        let may_fetch = state.keys.is_empty()
            || state
                .fetched_at
                .is_none_or(|at| at.elapsed() >= MIN_REFRESH);
        if !may_fetch {
            return Err(JwksError::UnknownKey(kid.to_owned()));
        }
        match self.fetch(&mut state).await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "fetched the issuer's signing keys");
                state.keys = keys;
                state.fetched_at = Some(Instant::now());
            }
            // With keys in hand a failed refresh only means this kid stays unknown.
            Err(e) if !state.keys.is_empty() => {
                tracing::warn!(error = %e, "refreshing the issuer's signing keys failed");
                state.fetched_at = Some(Instant::now());
            }
            Err(e) => return Err(e),
        }
        state
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| JwksError::UnknownKey(kid.to_owned()))
    }

    async fn fetch(&self, state: &mut State) -> Result<HashMap<String, SigningKey>, JwksError> {
        let jwks_uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover().await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let body = self.get(&jwks_uri).await?;
        let set: RawKeySet = serde_json::from_slice(&body)
            .map_err(|e| JwksError::Unavailable(format!("{jwks_uri} is not a JWK set: {e}")))?;
        let keys = usable_keys(set);
        if keys.is_empty() {
            return Err(JwksError::Unavailable(format!(
                "{jwks_uri} has no RS256 or ES256 signing key with a kid"
            )));
        }
        Ok(keys)
    }

    /// The `jwks_uri` of `{issuer}/.well-known/openid-configuration`, whose `issuer` must be
    /// the configured one (OpenID Connect Discovery 1.0, section 4.3).
    async fn discover(&self) -> Result<Uri, JwksError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let uri: Uri = url
            .parse()
            .map_err(|e| JwksError::Unavailable(format!("{url}: {e}")))?;
        let body = self.get(&uri).await?;
        let doc: Discovery = serde_json::from_slice(&body).map_err(|e| {
            JwksError::Unavailable(format!("{url} is not a discovery document: {e}"))
        })?;
        if doc.issuer != self.issuer {
            return Err(JwksError::Unavailable(format!(
                "{url} names issuer {:?}, not the configured {:?}",
                doc.issuer, self.issuer
            )));
        }
        check_url("jwks_uri", &doc.jwks_uri).map_err(|e| JwksError::Unavailable(e.to_string()))
    }

    async fn get(&self, uri: &Uri) -> Result<Bytes, JwksError> {
        let request = hyper::Request::get(uri.clone())
            .header(ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| JwksError::Unavailable(format!("{uri}: {e}")))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("{e}"))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the body: {e}"))?
                .to_bytes();
            if !status.is_success() {
                return Err(format!("HTTP {status}"));
            }
            Ok(body)
        };
        match tokio::time::timeout(FETCH_TIMEOUT, exchange).await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(e)) => Err(JwksError::Unavailable(format!("GET {uri}: {e}"))),
            Err(_) => Err(JwksError::Unavailable(format!(
                "GET {uri}: no answer within {FETCH_TIMEOUT:?}"
            ))),
        }
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// Keys are read one by one, so one key of a type this crate does not know leaves the others
/// usable.
#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

fn usable_keys(set: RawKeySet) -> HashMap<String, SigningKey> {
    let mut out = HashMap::new();
    for raw in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
            continue;
        };
        if let Some((kid, key)) = signing_key(&jwk) {
            out.insert(kid, key);
        }
    }
    out
}

fn signing_key(jwk: &Jwk) -> Option<(String, SigningKey)> {
    let kid = jwk.common.key_id.clone()?;
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    // A key that names its algorithm must name this one.
    let declared = jwk.common.key_algorithm;
    let consistent = matches!(
        (declared, algorithm),
        (None, _)
            | (Some(KeyAlgorithm::RS256), Algorithm::RS256)
            | (Some(KeyAlgorithm::ES256), Algorithm::ES256)
    );
    if !consistent {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, SigningKey { algorithm, key }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(v: serde_json::Value) -> HashMap<String, SigningKey> {
        usable_keys(serde_json::from_value(v).expect("a key set"))
    }

    #[test]
    fn keeps_rsa_and_p256_signing_keys_bound_to_their_algorithm() {
        let set = keys(json!({"keys": [
            {"kty": "RSA", "kid": "r", "use": "sig", "alg": "RS256", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "n": "sXch", "e": "AQAB"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "future-kind", "kid": "z"}
        ]}));
        let mut kids: Vec<_> = set.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["e", "r"]);
        assert_eq!(set["r"].algorithm, Algorithm::RS256);
        assert_eq!(set["e"].algorithm, Algorithm::ES256);
    }
}
