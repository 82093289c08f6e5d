//! Kinesis: `Splitter` and `Batches` on any buffer (of lines or not) and any limits. The
//! chunks and batches tile the input in order; every record is whole lines within the
//! record limit, ending with `\n` except possibly the input's last; an oversized chunk is
//! exactly one line longer than the limit; a batch holds 1 to `batch_records` records
//! within `batch_bytes` (keys counted), and its `records()` are exactly the records the
//! splitter cut.

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::format::kinesis::{Batches, Chunk, Group, Limits, PartitionKeys, Splitter};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    lines: Vec<(u16, u8)>,
    tail: Vec<u8>,
    record_bytes: u16,
    key_bytes: u8,
    batch_records: u8,
    batch_bytes: u16,
    key_start: u64,
}

fn check_chunks(input: &[u8], limit: usize, chunks: &[Chunk<'_>]) {
    let mut joined = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let bytes = chunk.bytes();
        assert!(!bytes.is_empty());
        joined.extend_from_slice(bytes);
        let ends = bytes.last() == Some(&b'\n');
        assert!(
            ends || (last && !input.ends_with(b"\n")),
            "a chunk cut inside a line"
        );
        match chunk {
            Chunk::Record(r) => assert!(r.len() <= limit, "record of {} > {limit}", r.len()),
            Chunk::Oversized(line) => {
                assert!(line.len() > limit);
                let body = if ends { &line[..line.len() - 1] } else { line };
                assert!(
                    !body.contains(&b'\n'),
                    "an oversized chunk of several lines"
                );
            }
        }
    }
    assert_eq!(joined, input, "the chunks are the input");
}

fuzz_target!(|input: Input| {
    let mut buf = Vec::new();
    for &(len, byte) in input.lines.iter().take(64) {
        let byte = if byte == b'\n' { b'x' } else { byte };
        buf.extend(std::iter::repeat_n(byte, usize::from(len % 600)));
        buf.push(b'\n');
    }
    buf.extend_from_slice(&input.tail);
    let limits = Limits {
        record_bytes: usize::from(input.record_bytes % 2048),
        key_bytes: usize::from(input.key_bytes % 40),
        batch_records: usize::from(input.batch_records),
        batch_bytes: usize::from(input.batch_bytes),
    };
    let limit = limits.record_data();

    let chunks: Vec<_> = Splitter::with_limit(&buf, limit).collect();
    check_chunks(&buf, limit, &chunks);
    let records: Vec<&[u8]> = chunks
        .iter()
        .filter_map(|c| match c {
            Chunk::Record(r) => Some(*r),
            Chunk::Oversized(_) => None,
        })
        .collect();

    let mut pos = 0;
    let mut from_batches: Vec<&[u8]> = Vec::new();
    let mut keys = PartitionKeys::starting_at(input.key_start);
    for group in Batches::with_limits(&buf, limits) {
        match group {
            Group::Oversized(range) => {
                assert_eq!(range.start, pos);
                assert!(range.end - range.start > limit);
                pos = range.end;
            }
            Group::Batch(batch) => {
                let range = batch.range();
                assert_eq!(range.start, pos);
                assert_eq!(batch.bytes(), &buf[range.clone()]);
                pos = range.end;
                let recs: Vec<_> = batch.records().collect();
                assert_eq!(recs.len(), batch.len());
                assert!(!batch.is_empty());
                assert!(batch.len() == 1 || batch.len() <= limits.batch_records);
                let cost: usize = recs.iter().map(|r| r.len() + limits.key_bytes).sum();
                assert!(
                    batch.len() == 1 || cost <= limits.batch_bytes,
                    "batch of {cost} bytes"
                );
                assert_eq!(recs.concat(), batch.bytes());
                for r in recs {
                    assert!(r.len() <= limit);
                    let key = keys.next_key();
                    assert!(key.as_str().starts_with("netdata_"));
                    from_batches.push(r);
                }
            }
        }
    }
    assert_eq!(pos, buf.len(), "the groups tile the input");
    assert_eq!(from_batches, records, "batches hold the splitter's records");
});
