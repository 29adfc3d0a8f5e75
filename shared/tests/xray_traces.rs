//! X-Ray traces end to end: a request through the real HTTP boundary, its spans exported by the
//! real subscriber and exporter (`observability::init_with_traces`) to a stub X-Ray daemon, a UDP
//! socket on 127.0.0.1 that keeps every segment document it receives.
//!
//! Tests share the process's one subscriber and one stub daemon; each gives its invocation its
//! own trace id and reads only the documents of that trace.

use std::net::UdpSocket;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::{Context, RequestExt};
use serde_json::Value;
use shared::http::{App, handle};
use shared::routes::Function;
use shared::tracing_export::{self, TraceParent, TracingConfig};

/// What the X-Ray daemon protocol puts before every document.
const DAEMON_HEADER: &str = "{\"format\": \"json\", \"version\": 1}";

/// The parent segment id in every trace header here (Lambda's segment for the invocation).
const LAMBDA_SEGMENT: &str = "53995c3f42cd8ad8";

/// Upper bound on waiting for documents, so a broken export fails the test instead of hanging
/// it. Nothing is timed: the documents are sent before the flush returns.
const HANG_GUARD: Duration = Duration::from_secs(30);

struct StubDaemon {
    documents: Mutex<Vec<Value>>,
    arrived: Condvar,
}

/// Starts the stub daemon and installs the subscriber with traces sent to it, once.
fn daemon() -> &'static StubDaemon {
    static DAEMON: OnceLock<&'static StubDaemon> = OnceLock::new();
    DAEMON.get_or_init(|| {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP port for the stub daemon");
        let address = socket.local_addr().expect("its address");
        shared::observability::init_with_traces(Ok(Some(TracingConfig { daemon: address })));
        assert!(tracing_export::enabled(), "the exporter is installed");
        let daemon: &'static StubDaemon = Box::leak(Box::new(StubDaemon {
            documents: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
        }));
        std::thread::spawn(move || {
            let mut buffer = vec![0u8; 65_536];
            while let Ok(n) = socket.recv(&mut buffer) {
                let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                let (header, document) = text.split_once('\n').expect("header line, then document");
                assert_eq!(header, DAEMON_HEADER);
                let document: Value = serde_json::from_str(document).expect("a JSON document");
                daemon.documents.lock().expect("lock").push(document);
                daemon.arrived.notify_all();
            }
        });
        daemon
    })
}

impl StubDaemon {
    /// Waits until `count` documents of `trace_id` have arrived and returns them.
    fn documents_of(&self, trace_id: &str, count: usize) -> Vec<Value> {
        let of_trace = |all: &[Value]| -> Vec<Value> {
            all.iter()
                .filter(|d| d["trace_id"] == trace_id)
                .cloned()
                .collect()
        };
        let mut all = self.documents.lock().expect("lock");
        loop {
            let found = of_trace(&all);
            if found.len() >= count {
                return found;
            }
            let (next, wait) = self.arrived.wait_timeout(all, HANG_GUARD).expect("lock");
            all = next;
            assert!(
                !wait.timed_out(),
                "only {} of {count} documents of {trace_id} reached the daemon: {:#?}",
                of_trace(&all).len(),
                of_trace(&all)
            );
        }
    }

    fn all_of(&self, trace_id: &str) -> Vec<Value> {
        let all = self.documents.lock().expect("lock");
        all.iter()
            .filter(|d| d["trace_id"] == trace_id)
            .cloned()
            .collect()
    }
}

/// A fresh X-Ray trace id (its first part is the current time, which the exporter checks).
fn fresh_trace_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "1-{:08x}-{:012x}{:04x}{:08x}",
        now.as_secs(),
        now.subsec_nanos(),
        n,
        std::process::id()
    )
}

/// The classify fixture as Lambda hands it over: with the invocation's trace header.
fn classify_request(trace_id: &str, sampled: bool) -> lambda_http::Request {
    let event = include_str!("../../events/classify.json");
    let request = lambda_http::request::from_str(event).expect("an API Gateway event");
    let mut context = Context::default();
    context.request_id = "invocation-1".to_owned();
    context.xray_trace_id = Some(format!(
        "Root={trace_id};Parent={LAMBDA_SEGMENT};Sampled={}",
        u8::from(sampled)
    ));
    request.with_lambda_context(context)
}

fn named<'a>(documents: &'a [Value], name: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no {name} subsegment in {documents:#?}"))
}

#[tokio::test]
async fn a_request_sends_its_spans_as_subsegments_of_the_invocation_annotated_with_the_request_id()
{
    let daemon = daemon();
    let app = App::in_memory(Function::Classify);
    let trace_id = fresh_trace_id();

    let response = handle(&app, classify_request(&trace_id, true)).await;
    tracing_export::flush();

    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    let documents = daemon.documents_of(&trace_id, 5);
    let mut names: Vec<&str> = documents
        .iter()
        .map(|d| d["name"].as_str().expect("a name"))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["parse", "provider", "request", "store_write", "validate"]
    );
    for document in &documents {
        assert_eq!(document["type"], "subsegment", "{document}");
        assert_eq!(
            document["annotations"]["request_id"],
            request_id.as_str(),
            "{document}"
        );
        assert!(document["end_time"].as_f64() >= document["start_time"].as_f64());
    }
    // The request hangs under the invocation's segment; everything else under the request.
    let request = named(&documents, "request");
    assert_eq!(request["parent_id"], LAMBDA_SEGMENT);
    assert_eq!(request["annotations"]["route"], "/v1/classify");
    for child in ["parse", "validate", "provider", "store_write"] {
        assert_eq!(
            named(&documents, child)["parent_id"],
            request["id"],
            "{child}"
        );
    }
    let provider = named(&documents, "provider");
    assert_eq!(provider["annotations"]["intent"], "classify");
    assert_eq!(provider["annotations"]["provider"], "embedded");
}

#[tokio::test]
async fn an_invocation_lambda_did_not_sample_sends_nothing() {
    let daemon = daemon();
    let app = App::in_memory(Function::Classify);
    let unsampled = fresh_trace_id();
    let sampled = fresh_trace_id();

    let skipped = handle(&app, classify_request(&unsampled, false)).await;
    let traced = handle(&app, classify_request(&sampled, true)).await;
    tracing_export::flush();

    assert_eq!(skipped.status(), 200);
    assert_eq!(traced.status(), 200);
    // The flush sends everything queued, in order: by the time the later, sampled request's
    // documents are in, any of the unsampled one's would be too.
    assert_eq!(daemon.documents_of(&sampled, 5).len(), 5);
    assert_eq!(daemon.all_of(&unsampled), Vec::<Value>::new());
}

#[tokio::test]
async fn a_write_that_finishes_after_the_response_stays_in_its_request_trace() {
    let daemon = daemon();
    let trace_id = fresh_trace_id();
    let request = classify_request(&trace_id, true);

    // What `http::handle` and the request-log extension do, with the request span closed before
    // the write starts.
    let parent = {
        let span = tracing::info_span!("request", request_id = "req-after", route = "/v1/classify");
        tracing_export::link_invocation(&span, &request, "req-after");
        span.in_scope(TraceParent::current)
    };
    tracing_export::store_write_span_under("request_log", &parent).in_scope(|| {});
    tracing_export::flush();

    let documents = daemon.documents_of(&trace_id, 2);
    let request = named(&documents, "request");
    let write = named(&documents, "store_write");
    assert_eq!(write["parent_id"], request["id"]);
    assert_eq!(write["annotations"]["request_id"], "req-after");
    assert_eq!(request["annotations"]["request_id"], "req-after");
}

#[tokio::test]
async fn a_malformed_trace_header_leaves_the_request_untraced_but_answered() {
    let daemon = daemon();
    let app = App::in_memory(Function::Classify);
    let event = include_str!("../../events/classify.json");
    let mut context = Context::default();
    context.xray_trace_id = Some("Root=not-a-trace-id;Sampled=1".to_owned());
    let request = lambda_http::request::from_str(event)
        .expect("an API Gateway event")
        .with_lambda_context(context);

    let response = handle(&app, request).await;
    tracing_export::flush();

    assert_eq!(response.status(), 200);
    assert_eq!(daemon.all_of("not-a-trace-id"), Vec::<Value>::new());
}
