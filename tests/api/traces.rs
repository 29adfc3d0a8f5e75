//! X-Ray traces from the real function binaries behind the local API: the Runtime API emulator
//! hands each invocation a sampled trace header, as Lambda does with active tracing, and a UDP
//! socket plays the X-Ray daemon. The request-log write finishes after the response, in the
//! functions' internal extension, so its span only arrives if the extension flushes the spans
//! before it lets the invocation end.

use std::net::UdpSocket;

use api_tests::api::LocalApi;
use api_tests::dynamodb::DynamoLocal;
use serde_json::Value;

use crate::fixture_body;

/// Every segment document already in the stub daemon's buffer, without waiting for more.
fn received(daemon: &UdpSocket) -> Vec<Value> {
    daemon.set_nonblocking(true).expect("non-blocking");
    let mut buffer = vec![0u8; 65_536];
    let mut documents = Vec::new();
    loop {
        match daemon.recv(&mut buffer) {
            Ok(n) => {
                let text = std::str::from_utf8(&buffer[..n]).expect("UTF-8");
                let (header, document) =
                    text.split_once('\n').expect("daemon header, then document");
                assert_eq!(header, "{\"format\": \"json\", \"version\": 1}");
                documents.push(serde_json::from_str(document).expect("a JSON document"));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return documents,
            Err(e) => panic!("stub daemon: {e}"),
        }
    }
}

fn named<'a>(documents: &'a [Value], name: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {documents:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_sends_every_span_of_a_request_to_the_xray_daemon_before_the_invocation_ends() {
    // Arrange
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("a UDP port for the stub daemon");
    let address = daemon.local_addr().expect("address").to_string();
    let db = DynamoLocal::start().await.expect("DynamoDB Local");
    let api = LocalApi::start(&db.url, &[("AWS_XRAY_DAEMON_ADDRESS", &address)])
        .await
        .expect("local API");

    // Act: two requests. Lambda (and the emulator) hands the runtime the second invocation
    // only once the extension has finished the first, so by the second response every span of
    // the first, sent by the extension's flush, is already in the daemon's buffer: nothing here
    // waits for time to pass. (Left to the SDK's own schedule they would leave seconds later.)
    let first = api
        .post("/v1/classify", &fixture_body("classify"))
        .await
        .expect("call");
    let second = api
        .post("/v1/classify", &fixture_body("classify"))
        .await
        .expect("call");
    let all = received(&daemon);

    // Assert
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(second.status, 200, "{:?}", second.body);
    let request_id = first.body["meta"]["request_id"]
        .as_str()
        .expect("request id");
    let documents: Vec<Value> = all
        .into_iter()
        .filter(|d| d["annotations"]["request_id"] == request_id)
        .collect();
    let mut names: Vec<&str> = documents
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["parse", "provider", "request", "store_write", "validate"]
    );
    let request = named(&documents, "request");
    for document in &documents {
        assert_eq!(document["trace_id"], request["trace_id"], "one trace");
        assert_eq!(document["type"], "subsegment");
        assert_eq!(
            document["annotations"]["request_id"], request_id,
            "{document}"
        );
    }
    // The request hangs under the invocation's segment (the trace header's parent), every other
    // span under the request, the write that finished after the response included.
    let parent = request["parent_id"].as_str().expect("a parent");
    assert_eq!(parent.len(), 16);
    assert!(documents.iter().all(|d| d["id"] != parent));
    for child in ["parse", "validate", "provider", "store_write"] {
        assert_eq!(
            named(&documents, child)["parent_id"],
            request["id"],
            "{child}"
        );
    }
}
