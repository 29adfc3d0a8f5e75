//! Work that finishes after the response is sent: the request-log write.
//!
//! Writing the log item before answering put a DynamoDB round trip into every response, and it
//! was most of a warm invocation's latency. Writing it in a background task after answering is not
//! safe on Lambda: once the runtime asks for the next event the execution environment may be
//! frozen, and a write caught mid-flight is lost (or lands minutes later, after the thaw).
//!
//! So each function registers an *internal extension* for `INVOKE` events during init. Lambda
//! does not freeze the environment until the runtime and every extension have asked for their
//! next event; the extension asks only once the log item of the invocation it was told about has
//! been written (within the write's own budget) or the invocation's deadline has passed. The write
//! leaves the caller's latency without leaving the invocation (it is still billed).
//!
//! Where no Extensions API answers (tests that call the handler directly, emulators without it),
//! registration fails, a warning says so, and the handler writes inline as before.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_extension::{Extension, LambdaEvent, NextEvent, service_fn};
use tokio::sync::{Mutex, mpsc};
use tracing::Instrument;

use crate::http::App;
use crate::request_end::write_log_item;
use crate::store::LogItem;
use crate::tracing_export::{self, TraceParent};

/// A log item and the trace context of the request it belongs to (its `store_write` span's
/// parent, since the request span has closed by the time it is written).
pub(crate) type DeferredLog = (LogItem, TraceParent);

/// The name the extension registers under (internal extensions may choose any).
const EXTENSION_NAME: &str = "request-log";

/// How long before the invocation's deadline the extension stops waiting for its log item, so
/// that it asks for the next event before Lambda times the invocation out.
const DEADLINE_MARGIN: Duration = Duration::from_millis(200);

/// Registers the extension and hands `app` the sender its handler will use. Returns the
/// extension's event loop, to run beside the runtime, or `None` when registration failed and
/// writes stay inline.
pub(crate) async fn register(
    app: &'static App,
) -> Option<impl Future<Output = Result<(), lambda_extension::Error>>> {
    let (sender, receiver) = mpsc::unbounded_channel::<DeferredLog>();
    let receiver = Arc::new(Mutex::new(receiver));
    let processor = service_fn(move |event: LambdaEvent| {
        let receiver = Arc::clone(&receiver);
        async move {
            if let NextEvent::Invoke(invoke) = event.next {
                finish_invocation(app, &receiver, &invoke.request_id, invoke.deadline_ms).await;
                // The invocation's spans (the write above included) leave before the freeze.
                tracing_export::flush();
            }
            // Never an error: an extension that fails makes Lambda reset the environment, and a
            // lost log item is not worth that.
            Ok::<(), Infallible>(())
        }
    });
    let registered = Extension::new()
        .with_events(&["INVOKE"])
        .with_events_processor(processor)
        .with_extension_name(EXTENSION_NAME)
        .register()
        .await;
    match registered {
        Ok(extension) => {
            // `set` fails only if called twice, and `register` runs once per process.
            let _ = app.deferred_log.set(sender);
            tracing::debug!("request log writes finish after the response (internal extension)");
            Some(extension.run())
        }
        Err(err) => {
            tracing::warn!(
                error = %err,
                "no Lambda Extensions API: request log items are written before answering"
            );
            None
        }
    }
}

/// Waits for the invocation's log item and writes it, plus any that queued up behind it (an
/// item whose invocation's wait already gave up). Returns when there is nothing left to write.
async fn finish_invocation(
    app: &App,
    receiver: &Mutex<mpsc::UnboundedReceiver<DeferredLog>>,
    request_id: &str,
    deadline_ms: u64,
) {
    let mut receiver = receiver.lock().await;
    let wait = remaining(deadline_ms).saturating_sub(DEADLINE_MARGIN);
    match tokio::time::timeout(wait, receiver.recv()).await {
        Ok(Some(deferred)) => {
            write_deferred(app, deferred).await;
            while let Ok(deferred) = receiver.try_recv() {
                write_deferred(app, deferred).await;
            }
        }
        // The sender lives as long as the process; nothing to do if it is gone.
        Ok(None) => {}
        Err(_) => tracing::warn!(
            invocation = request_id,
            "no request log item before the invocation's deadline; the environment is released"
        ),
    }
}

async fn write_deferred(app: &App, (item, parent): DeferredLog) {
    let span = tracing_export::store_write_span_under("request_log", &parent);
    write_log_item(app, item).instrument(span).await;
}

/// Time left until `deadline_ms` (milliseconds since the Unix epoch, as Lambda sends it).
fn remaining(deadline_ms: u64) -> Duration {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}
