//! Snappy compression: any input (random, or runs and repeats that make copies), any
//! hash-table size, any output size. With `max_compressed_len` bytes of output the block
//! always fits and `snap` decompresses it to the input; with less, the result is
//! `BufferFull` and the output is untouched.

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::format::remote_write::snappy::{compress, max_compressed_len, Compressor};
use backhaul_core::format::BufferFull;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Piece {
    Bytes(Vec<u8>),
    Run(u8, u16),
    /// Repeat the last `back` bytes `len` times over (overlapping copies).
    Copy {
        back: u16,
        len: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    pieces: Vec<Piece>,
    table: u16,
    short: Option<u16>,
    fill: u8,
}

fuzz_target!(|input: Input| {
    let mut data = Vec::new();
    for piece in &input.pieces {
        match piece {
            Piece::Bytes(b) => data.extend_from_slice(b),
            Piece::Run(b, n) => data.extend(std::iter::repeat_n(*b, usize::from(*n))),
            Piece::Copy { back, len } => {
                let back = usize::from(*back).min(data.len());
                if back > 0 {
                    let start = data.len() - back;
                    for i in 0..usize::from(*len) {
                        data.push(data[start + i % back]);
                    }
                }
            }
        }
        if data.len() > 300_000 {
            break;
        }
    }
    let need = max_compressed_len(data.len());
    let mut table = vec![0xffffu16; usize::from(input.table)];
    if let Some(short) = input.short {
        let size = need.saturating_sub(usize::from(short).max(1));
        let mut out = vec![input.fill; size];
        assert_eq!(compress(&data, &mut out, &mut table), Err(BufferFull));
        assert!(
            out.iter().all(|&b| b == input.fill),
            "BufferFull, but the output was touched"
        );
    }
    let mut out = vec![input.fill; need];
    let n = compress(&data, &mut out, &mut table).expect("max_compressed_len is enough");
    assert!(n <= need);
    let back = snap::raw::Decoder::new()
        .decompress_vec(&out[..n])
        .expect("snap decodes the block");
    assert_eq!(back, data);
    assert_eq!(snap::raw::decompress_len(&out[..n]).unwrap(), data.len());
    // The compressor with its own table gives a valid block too.
    let mut c: Compressor<256> = Compressor::new();
    let m = c.compress(&data, &mut out).expect("fits");
    assert_eq!(
        snap::raw::Decoder::new().decompress_vec(&out[..m]).unwrap(),
        data
    );
});
