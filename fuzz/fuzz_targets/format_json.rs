//! JSON lines: any record, any buffer. The line is written whole or not at all, within
//! `MAX_LINE_LEN`, one line ending in `\n`, valid JSON with netdata's fields in netdata's
//! order, each string field the record's field cut at its limit, the value and timestamp
//! the numbers netdata prints, and host tags either one valid JSON value (pasted) or a
//! string.

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::format::{json, limits, truncate};
use backhaul_fuzz::{all_or_nothing, assert_one_line, parse_json, value_text, FuzzRecord, Room};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    record: FuzzRecord,
    room: Room,
    fill: u8,
}

const KEYS: [&str; 12] = [
    "chart_id",
    "chart_name",
    "chart_family",
    "chart_context",
    "chart_type",
    "units",
    "id",
    "name",
    "value",
    "timestamp",
    "prefix",
    "hostname",
];

fuzz_target!(|input: Input| {
    let owned = input.record.render();
    let r = owned.record();
    let len = json::len(&r);
    let Some(line) = all_or_nothing(len, json::MAX_LINE_LEN, input.room, input.fill, |out| {
        json::write(&r, out)
    }) else {
        return;
    };
    assert_one_line(&line);
    let v = parse_json(&line[..line.len() - 1]);
    let object = v.as_object().expect("an object");
    let tags = truncate(r.host.tags, limits::TAGS);
    assert_eq!(object.len(), KEYS.len() + usize::from(!tags.is_empty()));
    for key in KEYS {
        assert!(object.contains_key(key), "{key} missing");
    }
    assert_eq!(v["prefix"], truncate(r.host.prefix, limits::PREFIX));
    assert_eq!(v["hostname"], truncate(r.host.hostname, limits::HOSTNAME));
    let c = &r.chart;
    let d = &r.dimension;
    for (key, field) in [
        ("chart_id", c.id),
        ("chart_name", c.name),
        ("chart_family", c.family),
        ("chart_context", c.context),
        ("chart_type", c.chart_type),
        ("units", c.units),
        ("id", d.id),
        ("name", d.name),
    ] {
        assert_eq!(v[key], truncate(field, limits::NAME), "{key}");
    }
    assert_eq!(v["value"].to_string(), value_text(r.value));
    assert_eq!(v["timestamp"].to_string(), r.timestamp.to_string());
    if !tags.is_empty() {
        let got = &v["host_tags"];
        let pasted = tags.starts_with(['{', '[', '"'])
            && serde_json::from_str::<serde_json::Value>(tags).is_ok_and(|t| t == *got);
        assert!(pasted || *got == tags, "host tags {tags:?} became {got}");
    }
    // netdata's key order.
    let text = String::from_utf8_lossy(&line);
    assert!(text.starts_with("{\"prefix\":\""));
    assert!(text.ends_with(&format!(",\"timestamp\": {}}}\n", r.timestamp)));
});
