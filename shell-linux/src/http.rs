//! Reading HTTP/1.1 responses from a byte stream, in bounded memory.
//!
//! The daemon sends one request at a time on a persistent connection and only needs each
//! response's status (the engine decides what it means: 2xx delivered, 429/5xx retried,
//! other 4xx dropped). Headers are parsed with `httparse`; bodies (`Content-Length` or
//! `chunked`) are skipped as they arrive, and only their first bytes are kept for the log.
//! A response whose headers exceed [`MAX_HEAD`] is an error, so memory stays bounded
//! whatever the server sends.
//!
//! A reader made by [`ResponseReader::with_full_body`] also keeps each whole body, up to
//! a limit; a longer body is an error (for replies the caller must read, such as
//! Kinesis').

/// The largest response head accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// How much of a body is kept for the log.
const KEEP_BODY: usize = 256;

/// One complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The first bytes of the body (for the log), lossily decoded.
    pub body_start: String,
    /// The whole body, for a reader [with full bodies](ResponseReader::with_full_body);
    /// empty otherwise.
    pub body: Vec<u8>,
    /// The server asked to close the connection after this response.
    pub close: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// `Content-Length` bytes left.
    Length(u64),
    /// Chunked: reading a size line.
    ChunkSize,
    /// Chunked: bytes of the current chunk left, then its CRLF.
    Chunk(u64),
    /// Chunked: the CRLF after a chunk.
    ChunkEnd,
    /// Chunked: trailers until an empty line.
    Trailers,
    /// Until the connection closes (no length given).
    UntilClose,
}

/// A streaming response reader.
#[derive(Debug, Default)]
pub struct ResponseReader {
    head: Vec<u8>,
    current: Option<(u16, bool, Body)>,
    body_start: Vec<u8>,
    line: Vec<u8>,
    /// With full bodies: the body so far and the largest accepted.
    full: Option<(Vec<u8>, usize)>,
}

impl ResponseReader {
    /// A reader at the start of a response.
    pub fn new() -> Self {
        Self::default()
    }

    /// A reader that also keeps every body whole, up to `limit` bytes: a longer body is
    /// an error.
    pub fn with_full_body(limit: usize) -> Self {
        Self {
            full: Some((Vec::new(), limit)),
            ..Self::default()
        }
    }

    /// Forgets any partial response (after the connection closed).
    pub fn reset(&mut self) {
        self.head.clear();
        self.current = None;
        self.body_start.clear();
        self.line.clear();
        if let Some((body, _)) = &mut self.full {
            body.clear();
        }
    }

    /// A completed response, and the reader ready for the next one.
    fn complete(&mut self, status: u16, close: bool) -> Response {
        let body = match &mut self.full {
            Some((body, _)) => std::mem::take(body),
            None => Vec::new(),
        };
        let response = Response {
            status,
            body_start: String::from_utf8_lossy(&self.body_start).into_owned(),
            body,
            close,
        };
        self.current = None;
        self.body_start.clear();
        response
    }

    /// Feeds received bytes; calls `done` for every response completed by them.
    ///
    /// # Errors
    ///
    /// A malformed or oversized response: the connection must be closed.
    pub fn feed(&mut self, mut bytes: &[u8], mut done: impl FnMut(Response)) -> Result<(), String> {
        while !bytes.is_empty() {
            let Some((status, close, body)) = self.current else {
                bytes = self.read_head(bytes)?;
                continue;
            };
            let (used, next) = self.read_body(body, bytes)?;
            bytes = &bytes[used..];
            match next {
                Some(body) => self.current = Some((status, close, body)),
                None => done(self.complete(status, close)),
            }
        }
        // A response without a body completes as soon as its head does.
        if let Some((status, close, Body::Length(0))) = self.current {
            done(self.complete(status, close));
        }
        Ok(())
    }

    fn read_head<'b>(&mut self, bytes: &'b [u8]) -> Result<&'b [u8], String> {
        let before = self.head.len();
        self.head.extend_from_slice(bytes);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&self.head) {
            Ok(httparse::Status::Partial) => {
                if self.head.len() > MAX_HEAD {
                    return Err(format!("response head longer than {MAX_HEAD} bytes"));
                }
                Ok(&[])
            }
            Ok(httparse::Status::Complete(len)) => {
                let status = response.code.unwrap_or(0);
                let mut close = response.version == Some(0);
                let mut body = if status == 204 || status == 304 || (100..200).contains(&status) {
                    Body::Length(0)
                } else {
                    Body::UntilClose
                };
                for h in response.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        let n = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .ok_or_else(|| "bad Content-Length".to_owned())?;
                        body = Body::Length(n);
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                        && h.value.eq_ignore_ascii_case(b"chunked")
                    {
                        body = Body::ChunkSize;
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        close = h.value.eq_ignore_ascii_case(b"close");
                    }
                }
                if body == Body::UntilClose {
                    close = true;
                }
                self.current = Some((status, close, body));
                self.head.clear();
                let consumed_here = len - before;
                Ok(&bytes[consumed_here..])
            }
            Err(e) => Err(format!("malformed response: {e}")),
        }
    }

    /// Consumes body bytes; returns how many were used and the state after them (`None`
    /// when the body is complete).
    fn read_body(&mut self, body: Body, bytes: &[u8]) -> Result<(usize, Option<Body>), String> {
        match body {
            Body::Length(left) => {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                self.keep(&bytes[..n])?;
                let left = left - n as u64;
                Ok((n, (left > 0).then_some(Body::Length(left))))
            }
            Body::UntilClose => {
                self.keep(bytes)?;
                Ok((bytes.len(), Some(Body::UntilClose)))
            }
            Body::Chunk(left) => {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                self.keep(&bytes[..n])?;
                let left = left - n as u64;
                Ok((
                    n,
                    Some(if left > 0 {
                        Body::Chunk(left)
                    } else {
                        Body::ChunkEnd
                    }),
                ))
            }
            Body::ChunkSize | Body::ChunkEnd | Body::Trailers => {
                let Some(pos) = bytes.iter().position(|&b| b == b'\n') else {
                    self.line.extend_from_slice(bytes);
                    if self.line.len() > 1024 {
                        return Err("chunk line too long".to_owned());
                    }
                    return Ok((bytes.len(), Some(body)));
                };
                self.line.extend_from_slice(&bytes[..pos]);
                let line = std::mem::take(&mut self.line);
                let text = String::from_utf8_lossy(&line);
                let text = text.trim();
                let next = match body {
                    Body::ChunkEnd => {
                        if !text.is_empty() {
                            return Err("missing CRLF after a chunk".to_owned());
                        }
                        Some(Body::ChunkSize)
                    }
                    Body::Trailers => (!text.is_empty()).then_some(Body::Trailers),
                    _ => {
                        let size = text.split(';').next().unwrap_or("").trim();
                        let size = u64::from_str_radix(size, 16)
                            .map_err(|_| format!("bad chunk size {size:?}"))?;
                        Some(if size == 0 {
                            Body::Trailers
                        } else {
                            Body::Chunk(size)
                        })
                    }
                };
                Ok((pos + 1, next))
            }
        }
    }

    fn keep(&mut self, bytes: &[u8]) -> Result<(), String> {
        let room = KEEP_BODY.saturating_sub(self.body_start.len());
        self.body_start
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
        if let Some((body, limit)) = &mut self.full {
            if body.len().saturating_add(bytes.len()) > *limit {
                return Err(format!("response body longer than {limit} bytes"));
            }
            body.extend_from_slice(bytes);
        }
        Ok(())
    }

    /// The connection closed: a response that runs until the close is complete now.
    pub fn closed(&mut self, mut done: impl FnMut(Response)) {
        if let Some((status, close, Body::UntilClose)) = self.current {
            done(self.complete(status, close));
        }
        self.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(reader: &mut ResponseReader, input: &[u8], step: usize) -> Vec<Response> {
        let mut out = Vec::new();
        for chunk in input.chunks(step.max(1)) {
            reader.feed(chunk, |r| out.push(r)).unwrap();
        }
        out
    }

    #[test]
    fn pipelined_responses_in_any_split() {
        let input = b"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n\
HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad sample\n\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\n!!!\r\n0\r\nT: 1\r\n\r\n\
HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        for step in [1, 2, 3, 7, 64, input.len()] {
            let got = all(&mut ResponseReader::new(), input, step);
            let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
            assert_eq!(statuses, [204, 400, 200, 500], "step {step}");
            assert_eq!(got[1].body_start, "bad sample\n");
            assert_eq!(got[2].body_start, "hello!!!");
            assert!(got[3].close && !got[0].close);
        }
    }

    #[test]
    fn bounded_and_strict() {
        let mut r = ResponseReader::new();
        let huge = vec![b'a'; MAX_HEAD + 10];
        assert!(r.feed(b"HTTP/1.1 200 OK\r\nX: ", |_| {}).is_ok());
        assert!(r.feed(&huge, |_| {}).is_err());
        let mut r = ResponseReader::new();
        assert!(r.feed(b"garbage\r\n\r\n", |_| {}).is_err());
        let mut r = ResponseReader::new();
        assert!(r
            .feed(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                |_| {}
            )
            .is_err());
        // A body without a length ends with the connection.
        let mut r = ResponseReader::new();
        let mut got = Vec::new();
        r.feed(b"HTTP/1.0 200 OK\r\n\r\nsome body", |x| got.push(x))
            .unwrap();
        assert!(got.is_empty());
        r.closed(|x| got.push(x));
        assert_eq!(got[0].status, 200);
        // A huge body is skipped, not kept.
        let mut r = ResponseReader::new();
        let body = vec![b'x'; 1 << 20];
        let mut got = Vec::new();
        r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n", |x| {
            got.push(x)
        })
        .unwrap();
        r.feed(&body, |x| got.push(x)).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body_start.len(), KEEP_BODY);
        assert!(got[0].body.is_empty());
    }

    #[test]
    fn full_bodies_up_to_a_limit() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789\
HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n\
HTTP/1.1 204 No Content\r\n\r\n";
        for step in [1, 5, input.len()] {
            let got = all(&mut ResponseReader::with_full_body(10), input, step);
            let bodies: Vec<&[u8]> = got.iter().map(|r| &r.body[..]).collect();
            assert_eq!(bodies, [&b"0123456789"[..], b"abcde", b""], "step {step}");
            assert_eq!(got[1].body_start, "abcde");
        }
        // One byte over the limit, however it arrives.
        for body in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n67890\r\n",
            b"HTTP/1.0 200 OK\r\n\r\n01234567890",
        ] {
            let mut r = ResponseReader::with_full_body(10);
            let mut result = Ok(());
            for chunk in body.chunks(3) {
                result = result.and_then(|()| r.feed(chunk, |_| {}));
            }
            assert!(result.unwrap_err().contains("longer than 10 bytes"));
        }
        // A body until the close, and a reset in the middle of one.
        let mut r = ResponseReader::with_full_body(100);
        let mut got = Vec::new();
        r.feed(b"HTTP/1.0 500 Oops\r\n\r\nhalf", |x| got.push(x))
            .unwrap();
        r.closed(|x| got.push(x));
        assert_eq!((got[0].status, &got[0].body[..]), (500, &b"half"[..]));
        r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart", |x| {
            got.push(x)
        })
        .unwrap();
        r.reset();
        r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", |x| {
            got.push(x)
        })
        .unwrap();
        assert_eq!(&got[1].body[..], b"ok");
    }
}
