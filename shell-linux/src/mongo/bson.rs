//! A small BSON reader for server replies: bounded, allocation-free, and total (every
//! input gives a value or an [`Error`], never a panic).
//!
//! [`Document::parse`] checks a document's frame (its length prefix matches the slice,
//! it ends with a NUL); [`Document::elements`] walks its elements lazily, checking each
//! one's bounds as it goes, so a malformed element is reported when it is reached and a
//! reader that stops early never looks at the rest. Nested documents and arrays are
//! [`Document`]s themselves, parsed only when asked for: no recursion, whatever the
//! nesting depth. Every BSON type can be skipped; only those a reply's fields use are
//! decoded ([`Value`]).

use std::fmt;

/// Why a document cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Error(&'static str);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed BSON: {}", self.0)
    }
}

/// One BSON document (or array: an array is a document whose keys are `"0"`, `"1"`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Document<'a> {
    /// The whole document: length prefix, elements, trailing NUL.
    bytes: &'a [u8],
}

/// A decoded element value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    /// 0x01.
    Double(f64),
    /// 0x02: the bytes without the trailing NUL (not checked to be UTF-8).
    String(&'a [u8]),
    /// 0x03.
    Document(Document<'a>),
    /// 0x04.
    Array(Document<'a>),
    /// 0x08.
    Bool(bool),
    /// 0x0A.
    Null,
    /// 0x10.
    Int32(i32),
    /// 0x12.
    Int64(i64),
    /// Any other type, skipped: its type byte.
    Other(u8),
}

impl Value<'_> {
    /// A number as an integer: int32, int64, or a double that is a whole number in
    /// range (servers send `ok` and some counts as doubles).
    pub(crate) fn as_i64(self) -> Option<i64> {
        match self {
            Self::Int32(n) => Some(i64::from(n)),
            Self::Int64(n) => Some(n),
            // In range and whole: the cast is exact (the bounds are powers of two).
            Self::Double(x) if x.fract() == 0.0 && x >= -(2f64.powi(63)) && x < 2f64.powi(63) => {
                Some(x as i64)
            }
            Self::Bool(b) => Some(i64::from(b)),
            _ => None,
        }
    }

    /// A string's text, with invalid UTF-8 replaced.
    pub(crate) fn as_text(self) -> Option<String> {
        match self {
            Self::String(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        }
    }
}

/// Reads a little-endian `i32` at `at`, if the slice holds it.
fn read_i32(bytes: &[u8], at: usize) -> Option<i32> {
    let end = at.checked_add(4)?;
    let b: [u8; 4] = bytes.get(at..end)?.try_into().ok()?;
    Some(i32::from_le_bytes(b))
}

/// Reads 8 bytes at `at`, if the slice holds them.
fn read_8(bytes: &[u8], at: usize) -> Option<[u8; 8]> {
    let end = at.checked_add(8)?;
    bytes.get(at..end)?.try_into().ok()
}

/// A length prefix at `at`: at least `min`, and the bytes it covers inside `limit`.
fn length_at(bytes: &[u8], at: usize, min: usize, limit: usize) -> Result<usize, Error> {
    let len = read_i32(bytes, at).ok_or(Error("a length runs past the end"))?;
    let len = usize::try_from(len).map_err(|_| Error("a negative length"))?;
    if len < min {
        return Err(Error("a length too small"));
    }
    match at.checked_add(len) {
        Some(end) if end <= limit => Ok(len),
        _ => Err(Error("a length runs past the end")),
    }
}

impl<'a> Document<'a> {
    /// Checks the frame of the document that is exactly `bytes`.
    ///
    /// # Errors
    ///
    /// The length prefix does not match the slice, or it does not end with a NUL.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let len = length_at(bytes, 0, 5, bytes.len())?;
        if len != bytes.len() {
            return Err(Error("the length prefix does not match the document"));
        }
        if bytes.last() != Some(&0) {
            return Err(Error("a document without its trailing NUL"));
        }
        Ok(Self { bytes })
    }

    /// The document's bytes, length prefix included.
    #[cfg(test)]
    pub(crate) fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Its elements, in order.
    pub(crate) fn elements(&self) -> Elements<'a> {
        Elements {
            bytes: self.bytes,
            pos: 4,
            done: false,
        }
    }

    /// The first element named `key`, if any.
    ///
    /// # Errors
    ///
    /// An element before it (or it) is malformed.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Value<'a>>, Error> {
        for element in self.elements() {
            let (k, value) = element?;
            if k == key.as_bytes() {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }
}

/// The elements of a [`Document`]: `(key, value)`, or one [`Error`] and then nothing.
#[derive(Debug)]
pub(crate) struct Elements<'a> {
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Elements<'a> {
    fn next_element(&mut self) -> Result<Option<(&'a [u8], Value<'a>)>, Error> {
        let bytes = self.bytes;
        // The last byte is the document's NUL (checked by `parse`).
        let end = bytes.len() - 1;
        let tag = *bytes
            .get(self.pos)
            .ok_or(Error("an element runs past the end"))?;
        if self.pos == end {
            return Ok(None);
        }
        if tag == 0 {
            return Err(Error("a NUL type byte before the end of the document"));
        }
        let key_start = self.pos + 1;
        let key_len = bytes
            .get(key_start..end)
            .and_then(|rest| rest.iter().position(|&b| b == 0))
            .ok_or(Error("a key without its NUL"))?;
        let key = &bytes[key_start..key_start + key_len];
        let at = key_start + key_len + 1;
        let fixed = |n: usize| -> Result<usize, Error> {
            match at.checked_add(n) {
                Some(next) if next <= end => Ok(next),
                _ => Err(Error("an element runs past the end")),
            }
        };
        let string = || -> Result<(usize, &'a [u8]), Error> {
            let len = length_at(bytes, at, 1, end)?;
            let next = at + 4 + len;
            if next > end || bytes[next - 1] != 0 {
                return Err(Error("a string without its NUL"));
            }
            Ok((next, &bytes[at + 4..next - 1]))
        };
        let document = || -> Result<(usize, Document<'a>), Error> {
            let len = length_at(bytes, at, 5, end)?;
            Ok((at + len, Document::parse(&bytes[at..at + len])?))
        };
        let (next, value) = match tag {
            0x01 => {
                let next = fixed(8)?;
                let b = read_8(bytes, at).ok_or(Error("a double runs past the end"))?;
                (next, Value::Double(f64::from_le_bytes(b)))
            }
            0x02 => {
                let (next, s) = string()?;
                (next, Value::String(s))
            }
            0x03 => {
                let (next, d) = document()?;
                (next, Value::Document(d))
            }
            0x04 => {
                let (next, d) = document()?;
                (next, Value::Array(d))
            }
            0x05 => {
                // Binary: length, subtype, bytes.
                let len = length_at(bytes, at, 0, end)?;
                let next = (at + 5)
                    .checked_add(len)
                    .filter(|&n| n <= end)
                    .ok_or(Error("binary data runs past the end"))?;
                (next, Value::Other(tag))
            }
            0x06 | 0x0A | 0x7F | 0xFF => (
                at,
                if tag == 0x0A {
                    Value::Null
                } else {
                    Value::Other(tag)
                },
            ),
            0x07 => (fixed(12)?, Value::Other(tag)),
            0x08 => {
                let next = fixed(1)?;
                let b = match bytes[at] {
                    0 => false,
                    1 => true,
                    _ => return Err(Error("a boolean that is neither 0 nor 1")),
                };
                (next, Value::Bool(b))
            }
            0x09 | 0x11 => (fixed(8)?, Value::Other(tag)),
            0x0B => {
                // Regular expression: two C strings.
                let mut next = at;
                for _ in 0..2 {
                    let n = bytes
                        .get(next..end)
                        .and_then(|rest| rest.iter().position(|&b| b == 0))
                        .ok_or(Error("a regular expression without its NUL"))?;
                    next += n + 1;
                }
                (next, Value::Other(tag))
            }
            0x0C => {
                // DBPointer: a string and a 12-byte ObjectId.
                let (after, _) = string()?;
                let next = after
                    .checked_add(12)
                    .filter(|&n| n <= end)
                    .ok_or(Error("a DBPointer runs past the end"))?;
                (next, Value::Other(tag))
            }
            0x0D | 0x0E => (string()?.0, Value::Other(tag)),
            0x0F => {
                // Code with scope: a total length that covers everything.
                let len = length_at(bytes, at, 14, end)?;
                (at + len, Value::Other(tag))
            }
            0x10 => {
                let next = fixed(4)?;
                let n = read_i32(bytes, at).ok_or(Error("an int32 runs past the end"))?;
                (next, Value::Int32(n))
            }
            0x12 => {
                let next = fixed(8)?;
                let b = read_8(bytes, at).ok_or(Error("an int64 runs past the end"))?;
                (next, Value::Int64(i64::from_le_bytes(b)))
            }
            0x13 => (fixed(16)?, Value::Other(tag)),
            _ => return Err(Error("an unknown element type")),
        };
        self.pos = next;
        Ok(Some((key, value)))
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<(&'a [u8], Value<'a>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_element() {
            Ok(Some(element)) => Some(Ok(element)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backhaul_core::format::bson::BsonWriter;

    fn doc(build: impl FnOnce(&mut BsonWriter<'_>)) -> Vec<u8> {
        let mut buf = vec![0u8; 4096];
        let mut w = BsonWriter::new(&mut buf);
        let start = w.document_start().unwrap();
        build(&mut w);
        w.document_end(start).unwrap();
        let len = w.position();
        buf.truncate(len);
        buf
    }

    #[test]
    fn reads_the_elements_of_a_reply() {
        let bytes = doc(|w| {
            w.write_int32("n", 2).unwrap();
            let errors = w.array_start("writeErrors").unwrap();
            let first = w.embedded_document_start("0").unwrap();
            w.write_int32("index", 1).unwrap();
            w.write_string("errmsg", "dup").unwrap();
            w.document_end(first).unwrap();
            w.document_end(errors).unwrap();
            w.write_int64("big", 1 << 40).unwrap();
            w.write_bool("flag", true).unwrap();
            w.write_double("ok", 1.0).unwrap();
        });
        let d = Document::parse(&bytes).unwrap();
        assert_eq!(d.get("ok").unwrap(), Some(Value::Double(1.0)));
        assert_eq!(d.get("n").unwrap(), Some(Value::Int32(2)));
        assert_eq!(d.get("big").unwrap(), Some(Value::Int64(1 << 40)));
        assert_eq!(d.get("flag").unwrap(), Some(Value::Bool(true)));
        assert_eq!(d.get("missing").unwrap(), None);
        let Some(Value::Array(errors)) = d.get("writeErrors").unwrap() else {
            panic!("no array");
        };
        let elements: Vec<_> = errors.elements().collect::<Result<_, _>>().unwrap();
        assert_eq!(elements.len(), 1);
        assert_eq!(elements[0].0, b"0");
        let Value::Document(first) = elements[0].1 else {
            panic!("not a document");
        };
        assert_eq!(first.get("index").unwrap(), Some(Value::Int32(1)));
        assert_eq!(
            first.get("errmsg").unwrap().and_then(Value::as_text),
            Some("dup".to_owned())
        );
    }

    /// A document holding every BSON type, bytes written out by hand.
    const EVERY_TYPE: &[u8] = b"\
        \x00\x00\x00\x00\
        \x01d\x00\x00\x00\x00\x00\x00\x00\xf0\x3f\
        \x02s\x00\x02\x00\x00\x00x\x00\
        \x03o\x00\x05\x00\x00\x00\x00\
        \x04a\x00\x05\x00\x00\x00\x00\
        \x05b\x00\x02\x00\x00\x00\x00ab\
        \x06u\x00\
        \x07i\x00abcdefghijkl\
        \x08t\x00\x01\
        \x09m\x00\x01\x02\x03\x04\x05\x06\x07\x08\
        \x0an\x00\
        \x0br\x00ab\x00i\x00\
        \x0cp\x00\x02\x00\x00\x00x\x00abcdefghijkl\
        \x0dj\x00\x02\x00\x00\x00x\x00\
        \x0ey\x00\x02\x00\x00\x00x\x00\
        \x0fc\x00\x0f\x00\x00\x00\x02\x00\x00\x00x\x00\x05\x00\x00\x00\x00\
        \x10k\x00\x07\x00\x00\x00\
        \x11T\x00\x01\x02\x03\x04\x05\x06\x07\x08\
        \x12l\x00\x08\x00\x00\x00\x00\x00\x00\x00\
        \x13D\x000123456789abcdef\
        \xffM\x00\
        \x7fX\x00\
        \x10last\x00\x2a\x00\x00\x00\
        \x00";

    fn every_type() -> Vec<u8> {
        let mut bytes = EVERY_TYPE.to_vec();
        let len = i32::try_from(bytes.len()).unwrap().to_le_bytes();
        bytes[..4].copy_from_slice(&len);
        bytes
    }

    #[test]
    fn skips_every_type() {
        let bytes = every_type();
        let d = Document::parse(&bytes).unwrap();
        let keys: Vec<&[u8]> = d.elements().map(|e| e.unwrap().0).collect();
        assert_eq!(
            keys,
            [
                &b"d"[..],
                b"s",
                b"o",
                b"a",
                b"b",
                b"u",
                b"i",
                b"t",
                b"m",
                b"n",
                b"r",
                b"p",
                b"j",
                b"y",
                b"c",
                b"k",
                b"T",
                b"l",
                b"D",
                b"M",
                b"X",
                b"last"
            ]
        );
        assert_eq!(d.get("d").unwrap(), Some(Value::Double(1.0)));
        assert_eq!(d.get("n").unwrap(), Some(Value::Null));
        assert_eq!(d.get("l").unwrap(), Some(Value::Int64(8)));
        assert_eq!(d.get("last").unwrap(), Some(Value::Int32(42)));
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_never_a_panic() {
        let bytes = every_type();
        // Every prefix, with its length prefix fixed up so that the frame is right and
        // only the elements are cut.
        for cut in 0..bytes.len() {
            let mut short = bytes[..cut].to_vec();
            if short.len() >= 5 {
                let len = i32::try_from(short.len()).unwrap().to_le_bytes();
                short[..4].copy_from_slice(&len);
                *short.last_mut().unwrap() = 0;
            }
            if let Ok(d) = Document::parse(&short) {
                let _ = d.elements().count();
            }
        }
        // Every single-byte corruption, at every position, with a few values.
        for at in 0..bytes.len() {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[at] = v;
                if let Ok(d) = Document::parse(&bad) {
                    for e in d.elements() {
                        if let Ok((_, Value::Document(sub) | Value::Array(sub))) = e {
                            let _ = sub.elements().count();
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn frame_errors() {
        assert!(Document::parse(b"").is_err());
        assert!(Document::parse(b"\x05\x00\x00").is_err());
        assert!(Document::parse(b"\x05\x00\x00\x00\x01").is_err(), "no NUL");
        assert!(
            Document::parse(b"\x06\x00\x00\x00\x00").is_err(),
            "too short"
        );
        assert!(
            Document::parse(b"\x04\x00\x00\x00\x00").is_err(),
            "too small"
        );
        assert!(
            Document::parse(b"\xff\xff\xff\xff\x00").is_err(),
            "negative"
        );
        assert!(
            Document::parse(b"\x05\x00\x00\x00\x00\x00").is_err(),
            "trailing"
        );
        let empty = Document::parse(b"\x05\x00\x00\x00\x00").unwrap();
        assert_eq!(empty.elements().count(), 0);
    }

    #[test]
    fn element_errors_stop_the_walk() {
        // A string whose length runs past the document.
        let bad = b"\x10\x00\x00\x00\x02s\x00\x7f\x00\x00\x00x\x00\x10k\x00\x00";
        let mut bytes = bad.to_vec();
        bytes[0] = u8::try_from(bytes.len()).unwrap();
        let d = Document::parse(&bytes).unwrap();
        let all: Vec<_> = d.elements().collect();
        assert_eq!(all.len(), 1);
        assert!(all[0].is_err());
        assert!(d.get("k").is_err());
        // An unknown type.
        let bytes = b"\x08\x00\x00\x00\x20a\x00\x00";
        let d = Document::parse(bytes).unwrap();
        assert_eq!(d.get("a"), Err(Error("an unknown element type")));
        // A key without its NUL.
        let bytes = b"\x08\x00\x00\x00\x10ab\x00";
        let d = Document::parse(bytes).unwrap();
        assert!(d.get("ab").is_err());
    }

    #[test]
    fn numbers_as_integers() {
        assert_eq!(Value::Double(1.0).as_i64(), Some(1));
        assert_eq!(Value::Double(0.5).as_i64(), None);
        assert_eq!(Value::Double(f64::NAN).as_i64(), None);
        assert_eq!(Value::Double(1e300).as_i64(), None);
        assert_eq!(Value::Double(-(2f64.powi(63))).as_i64(), Some(i64::MIN));
        assert_eq!(Value::Int32(-3).as_i64(), Some(-3));
        assert_eq!(Value::Int64(i64::MAX).as_i64(), Some(i64::MAX));
        assert_eq!(Value::Bool(true).as_i64(), Some(1));
        assert_eq!(Value::String(b"1").as_i64(), None);
        assert_eq!(Value::Null.as_i64(), None);
    }
}
