//! The `text/event-stream` wire format: `event:` and `data:` lines ended by a blank line, and
//! comment lines (`: ...`) that keep an idle connection open. Data is one line of JSON: serde_json
//! escapes line breaks inside strings, so a payload can never end an event early.

use bytes::Bytes;
use serde::Serialize;

/// One named event with a JSON payload.
pub fn event(name: &str, data: &impl Serialize) -> Bytes {
    // Serialising our own plain types cannot fail; if it ever did, the stream still gets a
    // well-formed event rather than a broken frame.
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}

/// A comment line: ignored by clients, it keeps proxies and the gateway from closing a stream
/// whose upstream is silent.
pub fn comment(text: &str) -> Bytes {
    Bytes::from(format!(": {}\n\n", text.replace(['\r', '\n'], " ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_data_line_even_when_its_text_has_line_breaks() {
        let frame = event(
            "delta",
            &serde_json::json!({"text": "a\nb\r\n\ndata: fake"}),
        );
        let text = std::str::from_utf8(&frame).expect("utf-8");
        assert_eq!(text.matches('\n').count(), 3, "{text:?}");
        assert!(text.starts_with("event: delta\ndata: {"));
        assert!(text.ends_with("}\n\n"));
    }

    #[test]
    fn comments_cannot_inject_lines() {
        assert_eq!(comment("keep\nalive"), Bytes::from(": keep alive\n\n"));
    }
}
