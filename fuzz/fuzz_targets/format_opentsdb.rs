//! OpenTSDB: the telnet `put` line, the HTTP object and the JSON array of objects, for
//! any records and buffers. Each is written whole or not at all, within its declared
//! maximum; the line is one line, `put METRIC TS VALUE host=HOST[ TAGS]`, with fields that
//! cannot add a word or a line; the object and the array are valid JSON whose strings
//! are the fields as the telnet line has them.

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::format::opentsdb::{self, JsonArray};
use backhaul_core::format::{limits, BufferFull};
use backhaul_fuzz::maps::{backend_name, line, mapped, path, word};
use backhaul_fuzz::{all_or_nothing, assert_one_line, parse_json, value_text, FuzzRecord, Room};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    records: Vec<FuzzRecord>,
    room: Room,
    fill: u8,
    array_room: u16,
}

fuzz_target!(|input: Input| {
    let owned: Vec<_> = input
        .records
        .iter()
        .take(8)
        .map(FuzzRecord::render)
        .collect();
    for o in &owned {
        let r = o.record();
        let metric = {
            let mut m = mapped(r.host.prefix, limits::PREFIX, path);
            m.push(b'.');
            m.extend(backend_name(r.chart_label()));
            m.push(b'.');
            m.extend(backend_name(r.dimension_label()));
            String::from_utf8(m).expect("UTF-8")
        };
        let host = String::from_utf8(mapped(r.host.hostname, limits::HOSTNAME, word)).unwrap();
        let tags = String::from_utf8(mapped(r.host.tags, limits::TAGS, line)).unwrap();
        let mut host_tag = host.clone();
        if !tags.is_empty() {
            host_tag.push(' ');
            host_tag.push_str(&tags);
        }
        let value = value_text(r.value);

        // Telnet.
        let len = opentsdb::len(&r);
        if let Some(bytes) =
            all_or_nothing(len, opentsdb::MAX_LINE_LEN, input.room, input.fill, |out| {
                opentsdb::write(&r, out)
            })
        {
            assert_one_line(&bytes);
            let want = format!("put {metric} {} {value} host={host_tag}\n", r.timestamp);
            assert_eq!(String::from_utf8_lossy(&bytes), want);
        }

        // HTTP object.
        let len = opentsdb::object_len(&r);
        if let Some(bytes) = all_or_nothing(
            len,
            opentsdb::MAX_OBJECT_LEN,
            input.room,
            input.fill,
            |out| opentsdb::write_object(&r, out),
        ) {
            assert!(!bytes.contains(&b'\n'));
            let v = parse_json(&bytes);
            assert_eq!(v["metric"], metric.as_str());
            assert_eq!(v["timestamp"].to_string(), r.timestamp.to_string());
            assert_eq!(v["value"].to_string(), value);
            assert_eq!(v["tags"]["host"], host_tag.as_str());
            assert_eq!(v.as_object().unwrap().len(), 4);
        }
    }

    // An array of them in one buffer.
    let size = usize::from(input.array_room);
    let mut buf = vec![input.fill; size];
    let mut before = Vec::new();
    let (n, count) = match JsonArray::new(&mut buf) {
        Err(BufferFull) => {
            assert!(size < 2);
            assert!(buf.iter().all(|&b| b == input.fill));
            return;
        }
        Ok(mut array) => {
            let mut count = 0;
            for o in &owned {
                let r = o.record();
                let closed = array.closed_len();
                match array.try_push(&r) {
                    Ok(n) => {
                        count += 1;
                        assert_eq!(n, opentsdb::object_len(&r) + usize::from(count > 1));
                        assert_eq!(array.closed_len(), closed + n);
                    }
                    Err(BufferFull) => {
                        assert_eq!(array.closed_len(), closed);
                        assert!(closed + opentsdb::object_len(&r) + usize::from(count > 0) > size);
                    }
                }
                assert_eq!(array.count(), count);
                before.push(array.closed_len());
            }
            let closed = array.closed_len();
            let n = array.finish();
            assert_eq!(n, closed);
            (n, count)
        }
    };
    assert!(n <= size && n <= opentsdb::max_array_len(count));
    assert!(buf[n..].iter().all(|&b| b == input.fill));
    let v = parse_json(&buf[..n]);
    let elements = v.as_array().expect("an array");
    assert_eq!(elements.len(), count);
});
