//! The MongoDB wire protocol, as much as an insert needs: an `OP_MSG` request whose
//! documents travel in a document-sequence section, and the `OP_MSG` reply's command
//! document.
//!
//! ```text
//! request:  header  messageLength i32 | requestID i32 | responseTo 0 | opCode 2013
//!           flagBits u32 0
//!           section kind 0: the command {insert: COLLECTION, ordered: false,
//!                           [writeConcern: {...},] $db: DATABASE}
//!           section kind 1: size i32 | "documents\0" | the batch body (BSON documents)
//! reply:    header (responseTo = our requestID, opCode 2013) | flagBits
//!           | sections: one kind 0 (the reply document), maybe kind 1 (skipped)
//!           | [CRC-32C if flagBits bit 0]
//! ```
//!
//! All integers are little-endian. The batch body is the engine's run of BSON documents,
//! copied as it is: it already is a kind-1 section's payload.

use backhaul_core::format::bson::BsonWriter;

use super::bson::Document;
use super::WriteConcern;

/// `OP_MSG`.
pub(crate) const OP_MSG: i32 = 2013;
/// The legacy reply opcode: a server older than 3.6 that does not speak `OP_MSG`.
const OP_REPLY: i32 = 1;
/// The compressed-message opcode, never negotiated here.
const OP_COMPRESSED: i32 = 2012;
/// A message header: length, request id, response-to, opcode.
pub(crate) const HEADER_LEN: usize = 16;
/// The identifier of the insert's document sequence.
const DOCUMENTS: &[u8] = b"documents\0";
/// MongoDB's `maxMessageSizeBytes` (every server since 2.6): no request is larger.
pub(crate) const MAX_MESSAGE_SIZE: usize = 48_000_000;
/// MongoDB's `maxWriteBatchSize` (every server since 3.6): at most this many documents
/// in one insert.
pub(crate) const MAX_WRITE_BATCH: usize = 100_000;
/// The largest reply read: a reply document is at most 16 MiB plus the 16 KiB servers
/// allow themselves internally; with headers and slack, 16 MiB + 64 KiB.
pub(crate) const MAX_REPLY: usize = (16 << 20) + (64 << 10);

/// `flagBits`: a CRC-32C follows the sections.
const CHECKSUM_PRESENT: u32 = 1;
/// `flagBits`: another message follows without a request (exhaust cursors).
const MORE_TO_COME: u32 = 1 << 1;
/// `flagBits` 0–15 must be understood by the reader; these are the only ones defined.
const REQUIRED_BITS: u32 = 0xffff;

/// Counts the BSON documents of a batch body, checking that their length prefixes tile
/// it exactly.
///
/// # Errors
///
/// The body is empty, or not a run of whole documents, or holds more documents than a
/// server takes in one insert.
pub(crate) fn count_documents(body: &[u8]) -> Result<usize, String> {
    let mut pos = 0;
    let mut count = 0;
    while pos < body.len() {
        let len = body
            .get(pos..pos + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(i32::from_le_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n >= 5 && n <= body.len() - pos)
            .ok_or_else(|| format!("the batch is not a run of BSON documents (at byte {pos})"))?;
        if body[pos + len - 1] != 0 {
            return Err(format!(
                "the batch is not a run of BSON documents (at byte {pos})"
            ));
        }
        pos += len;
        count += 1;
    }
    if count == 0 {
        return Err("an empty batch".to_owned());
    }
    if count > MAX_WRITE_BATCH {
        return Err(format!(
            "{count} documents in one batch, more than a server takes ({MAX_WRITE_BATCH})"
        ));
    }
    Ok(count)
}

/// The insert command document.
fn command(
    collection: &str,
    database: &str,
    write_concern: Option<&WriteConcern>,
) -> Result<Vec<u8>, String> {
    let too_long = |_| "the insert command does not fit".to_owned();
    let tag_len = match write_concern.and_then(|wc| wc.w.as_ref()) {
        Some(super::W::Tag(tag)) => tag.len(),
        _ => 0,
    };
    let mut buf = vec![0u8; collection.len() + database.len() + tag_len + 128];
    let mut w = BsonWriter::new(&mut buf);
    let doc = w.document_start().map_err(too_long)?;
    w.write_string("insert", collection).map_err(too_long)?;
    w.write_bool("ordered", false).map_err(too_long)?;
    if let Some(wc) = write_concern {
        let sub = w
            .embedded_document_start("writeConcern")
            .map_err(too_long)?;
        match &wc.w {
            Some(super::W::Number(n)) => w.write_int32("w", *n).map_err(too_long)?,
            Some(super::W::Tag(tag)) => w.write_string("w", tag).map_err(too_long)?,
            None => {}
        }
        if let Some(j) = wc.journal {
            w.write_bool("j", j).map_err(too_long)?;
        }
        if let Some(ms) = wc.timeout_ms {
            let ms = i64::try_from(ms).unwrap_or(i64::MAX);
            w.write_int64("wtimeout", ms).map_err(too_long)?;
        }
        w.document_end(sub).map_err(too_long)?;
    }
    w.write_string("$db", database).map_err(too_long)?;
    w.document_end(doc).map_err(too_long)?;
    let len = w.position();
    buf.truncate(len);
    Ok(buf)
}

/// Writes the `OP_MSG` insert of `body` (a run of BSON documents) into `out`, which it
/// clears first.
///
/// # Errors
///
/// The message would be larger than a server accepts.
pub(crate) fn encode_insert(
    request_id: i32,
    collection: &str,
    database: &str,
    write_concern: Option<&WriteConcern>,
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    out.clear();
    let command = command(collection, database, write_concern)?;
    let section_len = 4 + DOCUMENTS.len() + body.len();
    let total = HEADER_LEN + 4 + 1 + command.len() + 1 + section_len;
    if total > MAX_MESSAGE_SIZE {
        return Err(format!(
            "a request of {total} bytes, more than a server accepts ({MAX_MESSAGE_SIZE})"
        ));
    }
    // Both fit an i32: the total is at most MAX_MESSAGE_SIZE.
    let as_i32 = |n: usize| i32::try_from(n).unwrap_or(i32::MAX).to_le_bytes();
    out.reserve(total);
    out.extend_from_slice(&as_i32(total));
    out.extend_from_slice(&request_id.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&OP_MSG.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&command);
    out.push(1);
    out.extend_from_slice(&as_i32(section_len));
    out.extend_from_slice(DOCUMENTS);
    out.extend_from_slice(body);
    Ok(())
}

fn le_i32(bytes: &[u8], at: usize) -> Option<i32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(i32::from_le_bytes(b))
}

/// The length of the first message in `buf` once it is all there; `None` while more
/// bytes are needed. Checks the header as soon as it is in, so that garbage (an HTTP
/// server, a TLS alert) is refused at once instead of waited for.
///
/// # Errors
///
/// A length out of bounds, or an opcode that is not `OP_MSG`.
pub(crate) fn frame(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(len) = le_i32(buf, 0) else {
        return Ok(None);
    };
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| (HEADER_LEN + 4 + 1 + 5..=MAX_REPLY).contains(&n))
        .ok_or_else(|| {
            format!(
                "not a MongoDB reply (a message length of {len} bytes; bytes {:02x?})",
                &buf[..buf.len().min(8)]
            )
        })?;
    if let Some(opcode) = le_i32(buf, 12) {
        match opcode {
            OP_MSG => {}
            OP_REPLY => {
                return Err(
                    "the server answered with a legacy OP_REPLY: it is older than \
                     MongoDB 3.6, which backhaul does not support"
                        .to_owned(),
                )
            }
            OP_COMPRESSED => {
                return Err("the server sent a compressed reply, which was not negotiated".into())
            }
            other => return Err(format!("not a MongoDB reply (opcode {other})")),
        }
    }
    Ok((buf.len() >= len).then_some(len))
}

/// The reply document of one whole `OP_MSG` reply `msg` (as delimited by [`frame`]),
/// which must answer request `request_id`.
///
/// # Errors
///
/// The reply answers another request, uses flags this reader does not know, or its
/// sections are malformed or lack the reply document.
pub(crate) fn reply_document(msg: &[u8], request_id: i32) -> Result<Document<'_>, String> {
    let response_to = le_i32(msg, 8).ok_or("a truncated reply header")?;
    if response_to != request_id {
        return Err(format!(
            "a reply to request {response_to}, not to the request sent ({request_id})"
        ));
    }
    let flags = le_i32(msg, HEADER_LEN).ok_or("a reply without its flags")? as u32;
    let unknown = flags & REQUIRED_BITS & !(CHECKSUM_PRESENT | MORE_TO_COME);
    if unknown != 0 {
        return Err(format!("a reply with unknown required flags {unknown:#x}"));
    }
    let end = if flags & CHECKSUM_PRESENT != 0 {
        msg.len()
            .checked_sub(4)
            .ok_or("a reply too short for its checksum")?
    } else {
        msg.len()
    };
    let mut pos = HEADER_LEN + 4;
    let mut body = None;
    while pos < end {
        let kind = msg[pos];
        pos += 1;
        let len = le_i32(msg, pos)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n >= 4 && n <= end - pos)
            .ok_or("a reply section whose length runs past the end")?;
        match kind {
            0 if body.is_none() => {
                let doc = Document::parse(&msg[pos..pos + len]).map_err(|e| e.to_string())?;
                body = Some(doc);
            }
            0 => return Err("a reply with two command documents".to_owned()),
            1 => {}
            other => return Err(format!("a reply section of unknown kind {other}")),
        }
        pos += len;
    }
    body.ok_or_else(|| "a reply without its command document".to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::W;
    use super::*;

    /// The smallest document: `{}`.
    const EMPTY: &[u8] = b"\x05\x00\x00\x00\x00";
    /// `{"a": 1}` as an int32.
    const A1: &[u8] = b"\x0c\x00\x00\x00\x10a\x00\x01\x00\x00\x00\x00";

    #[test]
    fn the_exact_bytes_of_an_insert() {
        let body = [A1, EMPTY].concat();
        let mut out = vec![0xAA; 3]; // cleared first
        encode_insert(7, "c", "db", None, &body, &mut out).unwrap();
        let command: &[u8] = b"\
            \x29\x00\x00\x00\
            \x02insert\x00\x02\x00\x00\x00c\x00\
            \x08ordered\x00\x00\
            \x02$db\x00\x03\x00\x00\x00db\x00\
            \x00";
        assert_eq!(command.len(), 0x29);
        let mut expected = Vec::new();
        // Header 16 + flags 4 + kind 1 + command 41 + kind 1 + section (4 + 10 + 17).
        let total = 16 + 4 + 1 + 41 + 1 + 4 + 10 + 17;
        assert_eq!(total, 94);
        expected.extend_from_slice(b"\x5e\x00\x00\x00"); // messageLength 94
        expected.extend_from_slice(b"\x07\x00\x00\x00"); // requestID
        expected.extend_from_slice(b"\x00\x00\x00\x00"); // responseTo
        expected.extend_from_slice(b"\xdd\x07\x00\x00"); // opCode 2013
        expected.extend_from_slice(b"\x00\x00\x00\x00"); // flagBits
        expected.push(0);
        expected.extend_from_slice(command);
        expected.push(1);
        expected.extend_from_slice(b"\x1f\x00\x00\x00"); // 4 + 10 + 17
        expected.extend_from_slice(b"documents\x00");
        expected.extend_from_slice(A1);
        expected.extend_from_slice(EMPTY);
        assert_eq!(out, expected);
    }

    #[test]
    fn a_write_concern_goes_in_the_command() {
        let wc = WriteConcern {
            w: Some(W::Tag("majority".into())),
            journal: Some(true),
            timeout_ms: Some(500),
        };
        let bytes = command("c", "d", Some(&wc)).unwrap();
        let doc = Document::parse(&bytes).unwrap();
        let keys: Vec<&[u8]> = doc.elements().map(|e| e.unwrap().0).collect();
        assert_eq!(keys, [&b"insert"[..], b"ordered", b"writeConcern", b"$db"]);
        let Some(super::super::bson::Value::Document(wc)) = doc.get("writeConcern").unwrap() else {
            panic!("no writeConcern");
        };
        assert_eq!(
            wc.get("w").unwrap().and_then(|v| v.as_text()),
            Some("majority".to_owned())
        );
        assert_eq!(wc.get("j").unwrap().and_then(|v| v.as_i64()), Some(1));
        assert_eq!(
            wc.get("wtimeout").unwrap().and_then(|v| v.as_i64()),
            Some(500)
        );
        let numbered = WriteConcern {
            w: Some(W::Number(2)),
            journal: None,
            timeout_ms: None,
        };
        let bytes = command("c", "d", Some(&numbered)).unwrap();
        let doc = Document::parse(&bytes).unwrap();
        let Some(super::super::bson::Value::Document(wc)) = doc.get("writeConcern").unwrap() else {
            panic!("no writeConcern");
        };
        assert_eq!(wc.get("w").unwrap().and_then(|v| v.as_i64()), Some(2));
        assert_eq!(wc.elements().count(), 1);
    }

    #[test]
    fn counting_documents() {
        assert_eq!(count_documents(&[A1, EMPTY, A1].concat()), Ok(3));
        assert!(count_documents(b"").is_err());
        assert!(count_documents(&A1[..11]).is_err());
        assert!(count_documents(b"\x04\x00\x00\x00").is_err());
        assert!(count_documents(b"\x05\x00\x00\x00\x01").is_err());
        assert!(count_documents(&[A1, b"\x05\x00"].concat()).is_err());
        assert!(count_documents(b"\xff\xff\xff\xff\x00").is_err());
        let many = EMPTY.repeat(MAX_WRITE_BATCH + 1);
        assert!(count_documents(&many)
            .unwrap_err()
            .contains("100001 documents"));
        assert_eq!(
            count_documents(&EMPTY.repeat(MAX_WRITE_BATCH)),
            Ok(MAX_WRITE_BATCH)
        );
    }

    /// An `OP_MSG` reply to `to` holding `doc`.
    pub(crate) fn reply(to: i32, flags: u32, doc: &[u8]) -> Vec<u8> {
        let len = HEADER_LEN + 4 + 1 + doc.len();
        let mut out = Vec::new();
        out.extend_from_slice(&i32::try_from(len).unwrap().to_le_bytes());
        out.extend_from_slice(&99i32.to_le_bytes());
        out.extend_from_slice(&to.to_le_bytes());
        out.extend_from_slice(&OP_MSG.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.push(0);
        out.extend_from_slice(doc);
        out
    }

    #[test]
    fn framing_a_reply() {
        let msg = reply(7, 0, A1);
        for cut in 0..msg.len() {
            assert_eq!(frame(&msg[..cut]), Ok(None), "{cut}");
        }
        assert_eq!(frame(&msg), Ok(Some(msg.len())));
        let mut two = msg.clone();
        two.extend_from_slice(&msg);
        assert_eq!(frame(&two), Ok(Some(msg.len())));
        let doc = reply_document(&msg, 7).unwrap();
        assert_eq!(doc.as_bytes(), A1);
    }

    #[test]
    fn framing_refuses_garbage_early() {
        let http = frame(b"HTTP/1.1 400 Bad Request\r\n").unwrap_err();
        assert!(http.contains("not a MongoDB reply"), "{http}");
        // A huge length is refused from its first four bytes.
        let huge = ((MAX_REPLY + 1) as i32).to_le_bytes();
        assert!(frame(&huge).is_err());
        assert!(frame(&(-1i32).to_le_bytes()).is_err());
        assert!(frame(&20i32.to_le_bytes()).is_err());
        let mut legacy = reply(7, 0, A1);
        legacy[12..16].copy_from_slice(&OP_REPLY.to_le_bytes());
        assert!(frame(&legacy[..16]).unwrap_err().contains("OP_REPLY"));
        legacy[12..16].copy_from_slice(&OP_COMPRESSED.to_le_bytes());
        assert!(frame(&legacy).unwrap_err().contains("compressed"));
        legacy[12..16].copy_from_slice(&5i32.to_le_bytes());
        assert!(frame(&legacy).unwrap_err().contains("opcode 5"));
    }

    #[test]
    fn reply_checks() {
        let wrong = reply_document(&reply(6, 0, A1), 7).unwrap_err();
        assert!(wrong.contains("request 6"), "{wrong}");
        let flags = reply_document(&reply(7, 1 << 4, A1), 7).unwrap_err();
        assert!(flags.contains("unknown required flags 0x10"), "{flags}");
        // Optional bits (16-31) are ignored.
        assert!(reply_document(&reply(7, 1 << 16, A1), 7).is_ok());
        // A checksum is skipped (not checked).
        let mut with_sum = reply(7, CHECKSUM_PRESENT, A1);
        with_sum.extend_from_slice(b"CRC!");
        let len = i32::try_from(with_sum.len()).unwrap().to_le_bytes();
        with_sum[..4].copy_from_slice(&len);
        assert_eq!(reply_document(&with_sum, 7).unwrap().as_bytes(), A1);
        // A kind-1 section (size 4 + "x\0" + one empty document = 11) is skipped; one
        // whose size runs past the end is an error.
        let fix_len = |msg: &mut Vec<u8>| {
            let len = i32::try_from(msg.len()).unwrap().to_le_bytes();
            msg[..4].copy_from_slice(&len);
        };
        let mut seq = reply(7, 0, A1);
        seq.push(1);
        seq.extend_from_slice(b"\x0b\x00\x00\x00x\x00");
        seq.extend_from_slice(EMPTY);
        fix_len(&mut seq);
        assert_eq!(reply_document(&seq, 7).unwrap().as_bytes(), A1);
        seq.truncate(seq.len() - 1);
        fix_len(&mut seq);
        assert!(reply_document(&seq, 7).unwrap_err().contains("runs past"));
        // Two command documents, none, an unknown kind, a bad document.
        let mut twice = reply(7, 0, A1);
        twice.push(0);
        twice.extend_from_slice(A1);
        fix_len(&mut twice);
        assert!(reply_document(&twice, 7).unwrap_err().contains("two"));
        let none = &reply(7, 0, A1)[..HEADER_LEN + 4];
        assert!(reply_document(none, 7).unwrap_err().contains("without"));
        let mut kind = reply(7, 0, A1);
        kind[HEADER_LEN + 4] = 2;
        assert!(reply_document(&kind, 7).unwrap_err().contains("kind 2"));
        let mut bad = reply(7, 0, A1);
        let last = bad.len() - 1;
        bad[last] = 1;
        assert!(reply_document(&bad, 7).unwrap_err().contains("BSON"));
    }
}
