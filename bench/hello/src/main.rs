//! The floor: the smallest useful `lambda_http` function (a fixed JSON body), with the same
//! runtime flavour as the intent functions. Nothing an intent function does at cold start can be
//! cheaper than this process start plus one round trip through the Runtime API.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"message":"hello"}"#))
            .map_err(Error::from)
    }))
    .await
}
