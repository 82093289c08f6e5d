//! Graphite plaintext: any record, any buffer. The line is written whole or not at all
//! (BufferFull leaves the buffer untouched), never longer than `MAX_LINE_LEN`, one line
//! ending in `\n`, and exactly the line an independent rendering of the format gives:
//! `PREFIX.HOST.CHART.DIM[;TAGS] VALUE TS`, fields cut and mapped so that none can add a
//! space, a `;` or a line.

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::format::graphite;
use backhaul_core::format::limits;
use backhaul_fuzz::maps::{backend_name, mapped, path, word};
use backhaul_fuzz::{all_or_nothing, assert_one_line, value_text, FuzzRecord, Room};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    record: FuzzRecord,
    room: Room,
    fill: u8,
}

fuzz_target!(|input: Input| {
    let owned = input.record.render();
    let r = owned.record();
    let len = graphite::len(&r);
    let Some(line) = all_or_nothing(len, graphite::MAX_LINE_LEN, input.room, input.fill, |out| {
        graphite::write(&r, out)
    }) else {
        return;
    };
    assert_one_line(&line);
    let mut want = mapped(r.host.prefix, limits::PREFIX, path);
    want.push(b'.');
    want.extend(mapped(r.host.hostname, limits::HOSTNAME, path));
    want.push(b'.');
    want.extend(backend_name(r.chart_label()));
    want.push(b'.');
    want.extend(backend_name(r.dimension_label()));
    if !r.host.tags.is_empty() {
        want.push(b';');
        want.extend(mapped(r.host.tags, limits::TAGS, word));
    }
    want.extend(format!(" {} {}\n", value_text(r.value), r.timestamp).bytes());
    assert_eq!(
        String::from_utf8_lossy(&line),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(line, want);
    assert_eq!(line.iter().filter(|&&b| b == b' ').count(), 2);
});
