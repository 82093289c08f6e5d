//! Varints: `write_varint` and `sizeof_varint` agree and round-trip through `read_varint`
//! (and through prost's decoder); `write_varint` into a short buffer is `BufferFull` with
//! the buffer untouched; `read_varint` takes any bytes without panicking and, when it
//! reads a value, consumed at most ten bytes, the last without its continuation bit.

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::format::remote_write::varint::{
    read_varint, sizeof_varint, sizeof_varint_i64, write_varint, MAX_VARINT_LEN,
};
use backhaul_core::format::BufferFull;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    value: u64,
    room: u8,
    bytes: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let v = input.value;
    let len = sizeof_varint(v);
    assert!((1..=MAX_VARINT_LEN).contains(&len));
    assert_eq!(sizeof_varint_i64(v as i64), len);
    let mut buf = [0xa5u8; 16];
    let room = usize::from(input.room) % 12;
    match write_varint(v, &mut buf[..room]) {
        Ok(n) => {
            assert_eq!(n, len);
            assert!(room >= len);
            assert!(buf[n..].iter().all(|&b| b == 0xa5));
            assert_eq!(read_varint(&buf[..n]), Some((v, n)));
            assert_eq!(read_varint(&buf), Some((v, n)));
            let mut slice = &buf[..n];
            assert_eq!(prost::encoding::decode_varint(&mut slice).unwrap(), v);
            let mut theirs = Vec::new();
            prost::encoding::encode_varint(v, &mut theirs);
            assert_eq!(theirs, &buf[..n]);
        }
        Err(BufferFull) => {
            assert!(room < len);
            assert!(buf.iter().all(|&b| b == 0xa5));
        }
    }
    if let Some((value, n)) = read_varint(&input.bytes) {
        assert!((1..=MAX_VARINT_LEN).contains(&n) && n <= input.bytes.len());
        assert_eq!(input.bytes[n - 1] & 0x80, 0);
        assert!(input.bytes[..n - 1].iter().all(|&b| b & 0x80 != 0));
        assert!(sizeof_varint(value) <= n);
        let mut slice = &input.bytes[..n];
        assert_eq!(prost::encoding::decode_varint(&mut slice).ok(), Some(value));
    }
});
