//! MongoDB documents: any record, any buffer. The document is written whole or not at
//! all, within `MAX_DOCUMENT_LEN`, its length is `document_len`, and the `bson` crate
//! reads it back with netdata's fields in netdata's order: strings cut at their limits
//! with NUL made `_`, host tags a string present only when not empty, the value an int32,
//! int64 or double as libbson types netdata's JSON, and the timestamp an int32 or int64.

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::format::{bson as format, limits, truncate, Value};
use backhaul_fuzz::{all_or_nothing, value_text, FuzzRecord, Room};
use bson::{Bson, Document};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    record: FuzzRecord,
    room: Room,
    fill: u8,
}

fn integer(n: i64) -> Bson {
    i32::try_from(n).map_or(Bson::Int64(n), Bson::Int32)
}

fuzz_target!(|input: Input| {
    let owned = input.record.render();
    let r = owned.record();
    let len = format::document_len(&r);
    let Some(bytes) = all_or_nothing(
        len,
        format::MAX_DOCUMENT_LEN,
        input.room,
        input.fill,
        |out| format::write_document(&r, out),
    ) else {
        return;
    };
    let doc = Document::from_reader(&mut &bytes[..]).expect("bson reads the document");
    let field = |s: &str, max: usize| Bson::String(truncate(s, max).replace('\0', "_"));
    let (h, c, d) = (&r.host, &r.chart, &r.dimension);
    let mut want = vec![
        ("prefix", field(h.prefix, limits::PREFIX)),
        ("hostname", field(h.hostname, limits::HOSTNAME)),
    ];
    if !h.tags.is_empty() {
        want.push(("host_tags", field(h.tags, limits::TAGS)));
    }
    for (key, s) in [
        ("chart_id", c.id),
        ("chart_name", c.name),
        ("chart_family", c.family),
        ("chart_context", c.context),
        ("chart_type", c.chart_type),
        ("units", c.units),
        ("id", d.id),
        ("name", d.name),
    ] {
        want.push((key, field(s, limits::NAME)));
    }
    let value = match r.value {
        Value::Collected(n) => integer(n),
        Value::Stored(_) => Bson::Double(value_text(r.value).parse::<f64>().unwrap()),
    };
    want.push(("value", value));
    want.push(("timestamp", integer(r.timestamp)));
    let got: Vec<(&str, &Bson)> = doc.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(got.len(), want.len());
    for ((gk, gv), (wk, wv)) in got.iter().zip(&want) {
        assert_eq!(gk, wk);
        match (gv, wv) {
            // Compare doubles bit for bit (-0.0 is kept).
            (Bson::Double(a), Bson::Double(b)) => assert_eq!(a.to_bits(), b.to_bits(), "{wk}"),
            _ => assert_eq!(*gv, wv, "{wk}"),
        }
    }
});
