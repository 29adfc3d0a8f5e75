//! A ConverseStream answer → the port's [`TextStream`]: text deltas in order, then one
//! [`TextEvent::Finished`] once the upstream has closed the stream after its `messageStop`.
//!
//! Pull-based: each poll of the stream reads the next event from the SDK's receiver, and nothing
//! runs in the background, so dropping the stream drops the receiver and with it the connection
//! (the model stops writing). The end is reported only when the stream has closed, because the
//! `metadata` event with the usage comes after `messageStop`. A stream that closes without a
//! `messageStop` ends without [`TextEvent::Finished`]: the consumer treats it as cut.

use aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamOutput as Response;
use aws_sdk_bedrockruntime::types::{ContentBlockDelta, ConverseStreamOutput as Event};
use futures_util::stream;

use super::answer::{stop_reason, token_usage};
use super::errors::classify_event;
use crate::provider::generative::{StopReason, TextEvent, TextStream, TokenUsage};

/// What the stream has learnt so far, carried from one poll to the next.
struct Reading {
    response: Response,
    /// Set by `messageStop`.
    stop: Option<StopReason>,
    /// Set by `metadata`; zero until then.
    usage: TokenUsage,
    /// The configured model, unless a prompt router says which model it invoked.
    model: String,
    /// The call's request id, for the detail of an error in the stream.
    request_id: Option<String>,
    /// The stream has closed or failed: nothing more to read.
    ended: bool,
}

/// The text stream of one accepted ConverseStream call. `model_id` is the configured model.
pub(super) fn text_stream(response: Response, model_id: &str) -> TextStream {
    use aws_sdk_bedrockruntime::operation::RequestId;
    let reading = Reading {
        request_id: response.request_id().map(str::to_owned),
        response,
        stop: None,
        usage: TokenUsage::default(),
        model: model_id.to_owned(),
        ended: false,
    };
    Box::pin(stream::unfold(reading, |mut st| async move {
        if st.ended {
            return None;
        }
        loop {
            let event = match st.response.stream.recv().await {
                Ok(Some(event)) => event,
                Ok(None) => {
                    st.ended = true;
                    let stop = st.stop.take()?;
                    let finished = TextEvent::Finished {
                        stop,
                        usage: st.usage,
                        model: Some(std::mem::take(&mut st.model)),
                    };
                    return Some((Ok(finished), st));
                }
                Err(err) => {
                    st.ended = true;
                    let error = classify_event(&err, st.request_id.as_deref());
                    return Some((Err(error), st));
                }
            };
            match event {
                Event::ContentBlockDelta(delta) => {
                    // Tool-use, reasoning and citation deltas are not part of a text answer.
                    if let Some(ContentBlockDelta::Text(text)) = delta.delta
                        && !text.is_empty()
                    {
                        return Some((Ok(TextEvent::Delta(text)), st));
                    }
                }
                Event::MessageStop(stop) => {
                    // `as_str` keeps values this SDK does not know yet.
                    st.stop = Some(stop_reason(stop.stop_reason().as_str()));
                }
                Event::Metadata(metadata) => {
                    if let Some(usage) = metadata.usage() {
                        st.usage = token_usage(Some(usage));
                    }
                    if let Some(invoked) = metadata
                        .trace()
                        .and_then(|t| t.prompt_router())
                        .and_then(|r| r.invoked_model_id())
                    {
                        invoked.clone_into(&mut st.model);
                    }
                }
                // messageStart, contentBlockStart/Stop, and events newer than this SDK.
                _ => {}
            }
        }
    }))
}
