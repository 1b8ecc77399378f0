//! Reading a streamed answer record by record: Server-Sent Events (`event:`/`data:` blocks
//! separated by a blank line) or newline-delimited JSON.

use reqwest::Response;

use super::{ChatEvent, MAX_LINE_BYTES};
use crate::integrations::IntegrationError;

/// One record of a stream: an SSE event (its `event:` name and joined `data:` lines) or an NDJSON
/// line (as `data`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Record {
    pub event: Option<String>,
    pub data: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Sse,
    Ndjson,
}

/// Turns records into chat events; a protocol per implementation.
pub trait Parser: Send {
    fn feed(&mut self, record: &Record) -> Result<Vec<ChatEvent>, IntegrationError>;
    /// The stream ended: what is still owed (nothing when the end event was missing).
    fn end(&mut self) -> Result<Vec<ChatEvent>, IntegrationError>;
}

/// The body of a streamed answer, cut into records.
pub struct Reader {
    service: &'static str,
    res: Option<Response>,
    framing: Framing,
    buf: Vec<u8>,
}

impl Reader {
    pub fn new(service: &'static str, res: Response, framing: Framing) -> Self {
        Self {
            service,
            res: Some(res),
            framing,
            buf: Vec::new(),
        }
    }

    pub fn bad(&self, detail: impl Into<String>) -> IntegrationError {
        IntegrationError::BadAnswer {
            service: self.service,
            detail: detail.into(),
        }
    }

    /// The next record; `None` at the end of the body.
    pub async fn next_record(&mut self) -> Result<Option<Record>, IntegrationError> {
        loop {
            if let Some(record) = self.take_record()? {
                return Ok(Some(record));
            }
            let Some(res) = self.res.as_mut() else {
                return Ok(None);
            };
            match res.chunk().await {
                Ok(Some(chunk)) => {
                    self.buf.extend_from_slice(&chunk);
                    if self.buf.len() > MAX_LINE_BYTES {
                        return Err(self.bad(format!(
                            "a stream record is longer than {MAX_LINE_BYTES} bytes"
                        )));
                    }
                }
                Ok(None) => {
                    self.res = None;
                    // What is left without its terminator is a last record.
                    let rest = std::mem::take(&mut self.buf);
                    let text = self.text(&rest)?;
                    if text.trim().is_empty() {
                        return Ok(None);
                    }
                    return Ok(self.parse(&text));
                }
                Err(e) => {
                    self.res = None;
                    return Err(if e.is_timeout() {
                        IntegrationError::Unreachable {
                            service: self.service,
                            reason: "timed out while streaming".to_owned(),
                        }
                    } else {
                        self.bad(format!("the stream broke: {e}"))
                    });
                }
            }
        }
    }

    fn text(&self, bytes: &[u8]) -> Result<String, IntegrationError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| self.bad("the stream is not UTF-8"))
    }

    /// A complete record from the buffer, if one is there (blank records are skipped).
    fn take_record(&mut self) -> Result<Option<Record>, IntegrationError> {
        loop {
            let end = match self.framing {
                Framing::Ndjson => find(&self.buf, b"\n").map(|i| (i, 1)),
                Framing::Sse => {
                    let lf = find(&self.buf, b"\n\n").map(|i| (i, 2));
                    let crlf = find(&self.buf, b"\r\n\r\n").map(|i| (i, 4));
                    match (lf, crlf) {
                        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
                        (a, b) => a.or(b),
                    }
                }
            };
            let Some((at, sep)) = end else {
                return Ok(None);
            };
            let raw: Vec<u8> = self.buf.drain(..at + sep).take(at).collect();
            let text = self.text(&raw)?;
            if let Some(record) = self.parse(&text) {
                return Ok(Some(record));
            }
        }
    }

    fn parse(&self, text: &str) -> Option<Record> {
        match self.framing {
            Framing::Ndjson => {
                let line = text.trim();
                (!line.is_empty()).then(|| Record {
                    event: None,
                    data: line.to_owned(),
                })
            }
            Framing::Sse => parse_sse(text),
        }
    }
}

/// One SSE block: comments (`:`) ignored; `None` when it carries no data.
pub fn parse_sse(block: &str) -> Option<Record> {
    let mut record = Record::default();
    let mut data = Vec::new();
    for line in block.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => record.event = Some(value.to_owned()),
            "data" => data.push(value),
            _ => {}
        }
    }
    if data.is_empty() {
        return None;
    }
    record.data = data.join("\n");
    Some(record)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_blocks_join_data_lines_and_skip_comments() {
        let r = parse_sse("event: message_start\ndata: {\"a\":\ndata: 1}\n").unwrap();
        assert_eq!(r.event.as_deref(), Some("message_start"));
        assert_eq!(r.data, "{\"a\":\n1}");
        assert!(parse_sse(": keep-alive").is_none());
        assert_eq!(parse_sse("data:[DONE]").unwrap().data, "[DONE]");
    }
}
