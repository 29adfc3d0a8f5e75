//! Server-sent events (the WHATWG `text/event-stream` format), decoded incrementally: bytes go in
//! as they arrive, in chunks cut anywhere (inside a line, inside a UTF-8 character, between the
//! `\r` and `\n` of a line end), and complete events come out. Pure, so every odd framing is a
//! unit test.
//!
//! What is read: `data:` lines (one leading space dropped, several joined with `\n`) and
//! `event:` (the event's type); lines starting with `:` are comments (keep-alives); `id:`,
//! `retry:` and unknown fields are ignored; lines end with `\r\n`, `\n` or `\r`; a blank line
//! ends an event, and an event without any `data:` line is dropped. At the end of the input an
//! event not closed by its blank line is discarded, as the format says.

/// One complete event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SseEvent {
    /// The `event:` field; `None` for the default (`message`).
    pub kind: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Why the input cannot be decoded; the stream is over after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum SseError {
    #[error("an event is larger than {0} bytes")]
    EventTooLarge(usize),
    #[error("a line of the event stream is not UTF-8 (from its byte {0})")]
    NotUtf8(usize),
}

/// The incremental decoder: [`SseDecoder::push`] the bytes as they come, then take events with
/// [`SseDecoder::next_event`] until it says `None` (more bytes needed).
#[derive(Debug)]
pub(super) struct SseDecoder {
    /// Received bytes; those before `start` are already decoded.
    buffer: Vec<u8>,
    start: usize,
    /// The last line ended with `\r`: a `\n` right after it belongs to that line end.
    after_cr: bool,
    /// Nothing read yet: a leading byte-order mark is dropped.
    at_start: bool,
    /// The event being read.
    kind: Option<String>,
    data: String,
    has_data: bool,
    /// The most bytes an event (its lines, as received) may take.
    max_event_bytes: usize,
    /// Bytes of the event being read, counted as its lines are read.
    event_bytes: usize,
    failed: bool,
}

const BOM: &[u8] = "\u{feff}".as_bytes();

impl SseDecoder {
    pub fn new(max_event_bytes: usize) -> SseDecoder {
        SseDecoder {
            buffer: Vec::new(),
            start: 0,
            after_cr: false,
            at_start: true,
            kind: None,
            data: String::new(),
            has_data: false,
            max_event_bytes,
            event_bytes: 0,
            failed: false,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete event, `None` when more bytes are needed. After an error, always `None`.
    pub fn next_event(&mut self) -> Option<Result<SseEvent, SseError>> {
        if self.failed {
            return None;
        }
        loop {
            if self.at_start {
                let pending = &self.buffer[self.start..];
                if pending.len() < BOM.len() && BOM.starts_with(pending) {
                    // Could still be a byte-order mark: wait for the rest of it.
                    return None;
                }
                if pending.starts_with(BOM) {
                    self.start += BOM.len();
                }
                self.at_start = false;
            }
            if self.after_cr && self.start < self.buffer.len() {
                if self.buffer[self.start] == b'\n' {
                    self.start += 1;
                }
                self.after_cr = false;
            }
            let pending = &self.buffer[self.start..];
            let Some(end) = pending.iter().position(|&b| b == b'\n' || b == b'\r') else {
                // An unfinished line: refuse it as soon as it cannot fit, not when it ends.
                if self.event_bytes + pending.len() > self.max_event_bytes {
                    return Some(Err(self.fail(SseError::EventTooLarge(self.max_event_bytes))));
                }
                return None;
            };
            self.after_cr = pending[end] == b'\r';
            self.event_bytes += end + 1;
            if self.event_bytes > self.max_event_bytes {
                return Some(Err(self.fail(SseError::EventTooLarge(self.max_event_bytes))));
            }
            let line = match std::str::from_utf8(&pending[..end]) {
                Ok(line) => line,
                Err(e) => return Some(Err(self.fail(SseError::NotUtf8(e.valid_up_to())))),
            };
            self.start += end + 1;
            if line.is_empty() {
                let event = self.dispatch();
                if event.is_some() {
                    return event.map(Ok);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line, ""),
            };
            match field {
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                }
                "event" => self.kind = Some(value.to_owned()),
                // `id`, `retry` and anything else: nothing this client uses.
                _ => {}
            }
        }
    }

    /// Ends the event at a blank line: the event if it had data, and a clean slate.
    fn dispatch(&mut self) -> Option<SseEvent> {
        let kind = self.kind.take().filter(|k| !k.is_empty());
        let data = std::mem::take(&mut self.data);
        let has_data = std::mem::replace(&mut self.has_data, false);
        self.event_bytes = 0;
        has_data.then_some(SseEvent { kind, data })
    }

    fn fail(&mut self, error: SseError) -> SseError {
        self.failed = true;
        self.buffer = Vec::new();
        self.start = 0;
        self.data = String::new();
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &str) -> SseEvent {
        SseEvent {
            kind: None,
            data: data.to_owned(),
        }
    }

    /// Every event `input` yields when pushed in pieces of `piece` bytes, or the first error.
    fn decode_in_pieces(input: &[u8], piece: usize) -> Result<Vec<SseEvent>, SseError> {
        let mut decoder = SseDecoder::new(1024);
        let mut events = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            decoder.push(chunk);
            while let Some(event) = decoder.next_event() {
                events.push(event?);
            }
        }
        Ok(events)
    }

    fn decode(input: &str) -> Vec<SseEvent> {
        decode_in_pieces(input.as_bytes(), input.len()).expect("decodable")
    }

    #[test]
    fn reads_data_events_in_order() {
        assert_eq!(
            decode("data: {\"a\":1}\n\ndata: [DONE]\n\n"),
            vec![event("{\"a\":1}"), event("[DONE]")]
        );
    }

    #[test]
    fn one_leading_space_is_dropped_and_only_one() {
        assert_eq!(
            decode("data:x\n\ndata: x\n\ndata:  x\n\n"),
            vec![event("x"), event("x"), event(" x")]
        );
    }

    #[test]
    fn every_line_ending_is_accepted() {
        let expected = vec![event("a"), event("b"), event("c")];
        assert_eq!(decode("data: a\r\n\r\ndata: b\r\rdata: c\n\n"), expected);
        assert_eq!(
            decode("data: a\r\n\r\ndata: b\r\n\r\ndata: c\r\n\r\n"),
            expected
        );
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        assert_eq!(
            decode("data: first\ndata:second\ndata\ndata: \n\n"),
            vec![event("first\nsecond\n\n")]
        );
    }

    #[test]
    fn comments_ids_retries_and_unknown_fields_are_ignored() {
        assert_eq!(
            decode(": keep-alive\n\n:\nid: 7\nretry: 1000\nfoo: bar\ndata: x\n\n"),
            vec![event("x")]
        );
    }

    #[test]
    fn events_without_data_are_dropped() {
        assert_eq!(
            decode("event: ping\n\nid: 1\n\n\n\ndata: x\n\n"),
            vec![event("x")]
        );
        // An empty `data:` line is data (empty), not its absence.
        assert_eq!(decode("data:\n\n"), vec![event("")]);
    }

    #[test]
    fn the_event_type_is_kept_and_reset_after_each_event() {
        assert_eq!(
            decode("event: error\ndata: {}\n\ndata: x\n\nevent:\ndata: y\n\n"),
            vec![
                SseEvent {
                    kind: Some("error".to_owned()),
                    data: "{}".to_owned(),
                },
                event("x"),
                event("y"),
            ]
        );
    }

    #[test]
    fn an_event_without_its_blank_line_is_not_dispatched() {
        assert_eq!(decode("data: a\n\ndata: b\n"), vec![event("a")]);
        assert_eq!(decode("data: a\n\ndata: b"), vec![event("a")]);
    }

    #[test]
    fn a_leading_byte_order_mark_is_dropped_once() {
        assert_eq!(
            decode("\u{feff}data: a\n\n\u{feff}data: b\n\n"),
            vec![event("a")],
            "a second mark starts a field named \\u{{feff}}data, which is ignored"
        );
    }

    #[test]
    fn any_split_of_the_input_gives_the_same_events() {
        let input = "\u{feff}: hello\r\nevent: message\r\ndata: {\"text\":\"héllo 👋\"}\r\n\r\n\
                     data: a\rdata: b\r\rdata:c\n\ndata: [DONE]\n\n";
        let whole = decode(input);
        assert_eq!(whole.len(), 4, "{whole:?}");
        assert_eq!(whole[0].kind.as_deref(), Some("message"));
        assert_eq!(whole[0].data, "{\"text\":\"héllo 👋\"}");
        assert_eq!(whole[1].data, "a\nb");
        assert_eq!(whole[2].data, "c");
        assert_eq!(whole[3].data, "[DONE]");
        for piece in 1..input.len() {
            assert_eq!(
                decode_in_pieces(input.as_bytes(), piece).as_ref(),
                Ok(&whole),
                "pieces of {piece} bytes"
            );
        }
        // And every cut into two pieces, in particular between `\r` and `\n`.
        for cut in 0..=input.len() {
            let mut decoder = SseDecoder::new(1024);
            let mut events = Vec::new();
            for part in [&input.as_bytes()[..cut], &input.as_bytes()[cut..]] {
                decoder.push(part);
                while let Some(event) = decoder.next_event() {
                    events.push(event.expect("decodable"));
                }
            }
            assert_eq!(events, whole, "cut at {cut}");
        }
    }

    #[test]
    fn a_cr_at_the_end_of_a_chunk_does_not_eat_the_next_line() {
        let mut decoder = SseDecoder::new(1024);
        decoder.push(b"data: a\r");
        assert_eq!(decoder.next_event(), None);
        decoder.push(b"\r");
        assert_eq!(decoder.next_event(), Some(Ok(event("a"))));
        decoder.push(b"data: b\n\n");
        assert_eq!(decoder.next_event(), Some(Ok(event("b"))));
    }

    #[test]
    fn an_oversized_event_is_refused_even_before_its_line_ends() {
        let mut decoder = SseDecoder::new(64);
        decoder.push(b"data: ");
        decoder.push(&[b'x'; 100]);
        assert_eq!(decoder.next_event(), Some(Err(SseError::EventTooLarge(64))));
        assert_eq!(decoder.next_event(), None, "nothing after an error");

        // Many short lines add up.
        let mut decoder = SseDecoder::new(64);
        decoder.push("data: 0123456789\n".repeat(5).as_bytes());
        assert_eq!(decoder.next_event(), Some(Err(SseError::EventTooLarge(64))));

        // The size is per event: many events of the limit's size are fine.
        let mut decoder = SseDecoder::new(64);
        let one = format!("data: {}\n\n", "y".repeat(56));
        assert_eq!(one.len(), 64);
        for _ in 0..100 {
            decoder.push(one.as_bytes());
            assert!(matches!(decoder.next_event(), Some(Ok(_))));
        }
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert_eq!(
            decode_in_pieces(b"data: ok\n\ndata: \xff\xfe\n\n", 3),
            Err(SseError::NotUtf8(6))
        );
        // A character split across chunks is not invalid.
        assert_eq!(
            decode_in_pieces("data: é\n\n".as_bytes(), 7),
            Ok(vec![event("é")])
        );
    }
}
