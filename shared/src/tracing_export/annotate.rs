//! Stamps the request id on every span of a request, as the X-Ray annotation `request_id`.

use opentelemetry::trace::Span as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

/// The request id, carried in the OpenTelemetry context from the request's root span to every
/// span under it (`tracing-opentelemetry` builds a child's context from its parent's).
#[derive(Debug, Clone)]
pub struct RequestAnnotation(String);

impl RequestAnnotation {
    pub fn new(request_id: &str) -> RequestAnnotation {
        RequestAnnotation(request_id.to_owned())
    }
}

/// The exporter indexes attributes with this prefix as annotations (prefix removed).
const REQUEST_ID_ANNOTATION: &str = "annotation.request_id";

/// Runs at each span's start, before the batch processor sees it at its end.
#[derive(Debug)]
pub(crate) struct AnnotateRequest;

impl SpanProcessor for AnnotateRequest {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        if let Some(RequestAnnotation(id)) = cx.get::<RequestAnnotation>() {
            span.set_attribute(KeyValue::new(REQUEST_ID_ANNOTATION, id.clone()));
        }
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}
