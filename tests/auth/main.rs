//! Auth through the local API, as API Gateway applies it with `AuthMode=oidc` and API keys: the
//! real authorizer function in front of the real function binaries, the refusals rendered from
//! `template.yaml`'s GatewayResponses. The issuer is a stub server (discovery document and key
//! set) whose P-256 key is made by each test run; tokens are signed with it here.

use std::time::{SystemTime, UNIX_EPOCH};

use api_tests::api::{LocalApi, Reply};
use api_tests::dynamodb::DynamoLocal;
use api_tests::workspace_root;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hyper::Method;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUDIENCE: &str = "intent-api";
const API_KEY: &str = "test-key";

/// A stand-in OIDC issuer with one ES256 signing key (`kid` "test-key-1").
struct Issuer {
    server: MockServer,
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Issuer {
    async fn start() -> Issuer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("a P-256 key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("the key parses");
        let point = key.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        let server = MockServer::start().await;
        let issuer = server.uri();
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/keys"),
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/keys"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [{
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "test-key-1",
                "x": B64URL.encode(x), "y": B64URL.encode(y),
            }]})))
            .mount(&server)
            .await;
        Issuer { server, key, rng }
    }

    fn url(&self) -> String {
        self.server.uri()
    }

    /// Claims of a valid token with `scope`, ready to be altered.
    fn claims(&self, scope: &str) -> Value {
        let now = unix_now();
        json!({
            "iss": self.url(), "aud": AUDIENCE, "sub": "user-123", "client_id": "app-9",
            "scope": scope, "iat": now, "nbf": now, "exp": now + 600,
        })
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let signing_input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .expect("signs");
        format!("{signing_input}.{}", B64URL.encode(signature.as_ref()))
    }

    fn token(&self, claims: &Value) -> String {
        self.sign(
            &json!({"alg": "ES256", "typ": "JWT", "kid": "test-key-1"}),
            claims,
        )
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn summarize_body() -> Value {
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("events/summarize.json"))
            .expect("events/summarize.json"),
    )
    .expect("fixture is JSON");
    serde_json::from_str(event["body"].as_str().expect("fixture has a body")).expect("body")
}

async fn start_api(db: &DynamoLocal, issuer: &Issuer) -> LocalApi {
    let issuer_url = issuer.url();
    LocalApi::start(
        &db.url,
        &[
            ("AUTH_MODE", "oidc"),
            ("OIDC_ISSUER", &issuer_url),
            ("OIDC_AUDIENCE", AUDIENCE),
            ("LOCAL_API_KEY", API_KEY),
        ],
    )
    .await
    .expect("local API with auth")
}

async fn post_with_token(api: &LocalApi, route: &str, token: Option<&str>, body: &Value) -> Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("x-api-key", API_KEY)];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    api.request(Method::POST, route, Some(body), &headers)
        .await
        .expect("request")
}

fn assert_problem(reply: &Reply, status: u16, kind: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    assert_eq!(
        reply.body["type"],
        format!("urn:intent-api:problem:{kind}"),
        "{what}"
    );
    assert_eq!(reply.body["status"], status, "{what}");
    assert!(
        reply.body["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{what}: a request id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_invalid_tokens_get_a_problem_json_401() {
    // Arrange
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let issuer = Issuer::start().await;
    let api = start_api(&db, &issuer).await;
    let body = summarize_body();
    let valid = issuer.claims("intents/invoke");
    let mut expired = valid.clone();
    expired["exp"] = json!(unix_now() - 3600);
    expired["nbf"] = json!(unix_now() - 7200);
    let mut not_yet = valid.clone();
    not_yet["nbf"] = json!(unix_now() + 3600);
    let mut nbf_as_text = valid.clone();
    nbf_as_text["nbf"] = json!((unix_now() + 3600).to_string());
    let mut other_audience = valid.clone();
    other_audience["aud"] = json!("another-api");
    let mut other_issuer = valid.clone();
    other_issuer["iss"] = json!("https://issuer.invalid");
    let good = issuer.token(&valid);
    let mut parts: Vec<&str> = good.split('.').collect();
    let forged_claims = B64URL.encode(issuer.claims("intents/invoke feedback/write").to_string());
    parts[1] = &forged_claims;
    let tampered = parts.join(".");
    let unsigned = format!(
        "{}.{}.",
        B64URL.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        B64URL.encode(valid.to_string())
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no Authorization header", None),
        ("not a JWT", Some("not-a-token".to_owned())),
        ("expired", Some(issuer.token(&expired))),
        ("not yet valid", Some(issuer.token(&not_yet))),
        ("nbf of the wrong type", Some(issuer.token(&nbf_as_text))),
        ("another audience", Some(issuer.token(&other_audience))),
        ("another issuer", Some(issuer.token(&other_issuer))),
        ("claims changed after signing", Some(tampered)),
        ("alg none", Some(unsigned)),
        (
            "HS256",
            Some(issuer.sign(&json!({"alg": "HS256", "kid": "test-key-1"}), &valid)),
        ),
        (
            "unknown kid",
            Some(issuer.sign(&json!({"alg": "ES256", "kid": "rotated-away"}), &valid)),
        ),
    ];

    for (what, token) in cases {
        // Act
        let reply = post_with_token(&api, "/v1/summarize", token.as_deref(), &body).await;

        // Assert
        assert_problem(&reply, 401, "unauthorized", what);
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_open_their_routes_and_others_get_a_problem_json_403() {
    // Arrange
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let issuer = Issuer::start().await;
    let api = start_api(&db, &issuer).await;
    let body = summarize_body();
    let invoke = issuer.token(&issuer.claims("openid intents/invoke"));
    let feedback_only = issuer.token(&issuer.claims("feedback/write"));
    let feedback = json!({
        "request_id": "3f1c9a52-1b7e-4c1e-9d0a-6f2b8e4c7a10",
        "rating": "positive"
    });

    // Act
    let summarized = post_with_token(&api, "/v1/summarize", Some(&invoke), &body).await;
    // The feedback-only token is answered once and its policy cached; the cached policy must
    // still refuse the intent route and allow the feedback route.
    let refused = post_with_token(&api, "/v1/summarize", Some(&feedback_only), &body).await;
    let stored = post_with_token(&api, "/v1/feedback", Some(&feedback_only), &feedback).await;
    let refused_again = post_with_token(&api, "/v1/score", Some(&feedback_only), &body).await;
    let bearer = format!("Bearer {invoke}");
    let without_key = api
        .request(
            Method::POST,
            "/v1/summarize",
            Some(&body),
            &[("authorization", bearer.as_str())],
        )
        .await
        .expect("request");
    let health = api
        .request(Method::GET, "/v1/health", None, &[])
        .await
        .expect("health");
    let contract = api
        .request(Method::GET, "/v1/openapi.json", None, &[])
        .await
        .expect("openapi.json");

    // Assert
    assert_eq!(summarized.status, 200, "{:?}", summarized.body);
    assert!(summarized.body["summary"].is_string());
    assert_problem(
        &refused,
        403,
        "forbidden",
        "feedback-only token on summarize",
    );
    assert_eq!(stored.status, 201, "{:?}", stored.body);
    assert_problem(&refused_again, 403, "forbidden", "cached policy on score");
    assert_problem(&without_key, 403, "forbidden", "no x-api-key");
    assert_eq!(health.status, 200, "health is open: {:?}", health.body);
    assert_eq!(contract.status, 200, "the contract is open");
}
