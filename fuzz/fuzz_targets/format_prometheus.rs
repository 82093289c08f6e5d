//! The Prometheus text exposition: every piece (`write_header`, `write_info`,
//! `write_host_tags`, `write_variables_header`, `write_variable`, `write_chart`,
//! `write_collected`, `write_stored`) for any host, query, chart, dimension and buffer.
//! Each piece is written whole or not at all, within its `MAX_*_LEN`, as whole lines each
//! within `MAX_LINE_LEN`; a piece has exactly the samples it should (none injected by a
//! newline in a name); and, when the prefix is a valid metric-name prefix, every sample
//! line parses as the text format (name, escaped labels, value, timestamp).

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::config::DataSource;
use backhaul_core::decimal::Decimal;
use backhaul_core::format::prometheus::{
    self, Algorithm, Exposition, PromChart, PromDimension, PromOptions, Scrape,
};
use backhaul_core::format::{ChartMeta, DimensionMeta, HostMeta};
use backhaul_core::window::Window;
use backhaul_fuzz::{all_or_nothing, known_findings, Room, Text};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    prefix: Text,
    hostname: Text,
    tags: Text,
    source: u8,
    options: [bool; 7],
    all_hosts: bool,
    chart: [Text; 6],
    homogeneous: bool,
    dim: [Text; 2],
    pieces: Vec<Piece>,
    room: Room,
    fill: u8,
}

#[derive(Arbitrary, Debug)]
enum Piece {
    Header {
        server: Text,
        now: i64,
        previous: Option<i64>,
        update_every: u32,
    },
    Info {
        application: Text,
        version: Text,
        now_ms: i64,
    },
    Tags(i64),
    VariablesHeader,
    Variable {
        name: Text,
        value: u64,
        now_s: i64,
    },
    Chart,
    Collected {
        algorithm: u8,
        multiplier: i64,
        divisor: i64,
        value: i64,
        ms: i64,
    },
    Stored {
        negative: bool,
        units: u128,
        first: i64,
        last: i64,
    },
}

/// A metric or label name: `[a-zA-Z_:][a-zA-Z0-9_:]*` (no `:` for labels).
fn name_len(s: &[u8], colon: bool) -> usize {
    let ok = |b: u8, first: bool| {
        b.is_ascii_alphabetic()
            || b == b'_'
            || (colon && b == b':')
            || (!first && b.is_ascii_digit())
    };
    s.iter()
        .enumerate()
        .take_while(|&(i, &b)| ok(b, i == 0))
        .count()
}

/// Checks one sample line (without its `\n`) of the text format.
fn check_sample(line: &[u8]) {
    let what = || String::from_utf8_lossy(line).into_owned();
    let n = name_len(line, true);
    assert!(n > 0, "no metric name: {}", what());
    let mut rest = &line[n..];
    if let Some(labels) = rest.strip_prefix(b"{") {
        rest = labels;
        loop {
            if let Some(r) = rest.strip_prefix(b"}") {
                rest = r;
                break;
            }
            let n = name_len(rest, false);
            assert!(n > 0, "no label name: {}", what());
            rest = rest[n..]
                .strip_prefix(b"=\"")
                .unwrap_or_else(|| panic!("no =\": {}", what()));
            loop {
                match rest {
                    [b'"', r @ ..] => {
                        rest = r;
                        break;
                    }
                    [b'\\', b'\\' | b'"' | b'n', r @ ..] => rest = r,
                    [b'\\', ..] => panic!("bad escape: {}", what()),
                    [b'\n', ..] | [] => panic!("unterminated label value: {}", what()),
                    [_, r @ ..] => rest = r,
                }
            }
            if let Some(r) = rest.strip_prefix(b",") {
                rest = r;
            }
        }
    }
    let rest = rest
        .strip_prefix(b" ")
        .unwrap_or_else(|| panic!("no value: {}", what()));
    let text = std::str::from_utf8(rest).expect("value and timestamp are ASCII");
    let mut words = text.split(' ');
    let value = words.next().unwrap();
    assert!(value.parse::<f64>().is_ok(), "value {value:?}: {}", what());
    if let Some(ts) = words.next() {
        assert!(ts.parse::<i64>().is_ok(), "timestamp {ts:?}: {}", what());
    }
    assert!(
        words.next().is_none(),
        "more than value and timestamp: {}",
        what()
    );
}

fuzz_target!(|input: Input| {
    let prefix = input.prefix.render();
    let hostname = input.hostname.render();
    let tags = input.tags.render();
    let host = HostMeta {
        prefix: &prefix,
        hostname: &hostname,
        tags: &tags,
    };
    let [help, types, names, timestamps, variables, old_units, hide_units] = input.options;
    let exp = Exposition {
        host,
        source: [
            DataSource::Average,
            DataSource::Sum,
            DataSource::AsCollected,
        ][usize::from(input.source % 3)],
        options: PromOptions {
            help,
            types,
            names,
            timestamps,
            variables,
            old_units,
            hide_units,
        },
        all_hosts: input.all_hosts,
    };
    let chart_text = input.chart.clone().map(|t| t.render());
    let [id, name, family, context, chart_type, units] = &chart_text;
    let chart = PromChart {
        meta: ChartMeta {
            id,
            name,
            family,
            context,
            chart_type,
            units,
        },
        homogeneous: input.homogeneous,
    };
    let dim_text = input.dim.clone().map(|t| t.render());
    let dim = DimensionMeta {
        id: &dim_text[0],
        name: &dim_text[1],
    };
    let strict = prefix.is_empty() || name_len(prefix.as_bytes(), true) == prefix.len();

    for piece in input.pieces.iter().take(8) {
        let mut texts = Vec::new();
        let write = |out: &mut [u8]| -> prometheus::Result<usize> {
            match piece {
                Piece::Header {
                    server,
                    now,
                    previous,
                    update_every,
                } => {
                    let server = server.render();
                    exp.write_header(&Scrape::new(&server, *now, *previous, *update_every), out)
                }
                Piece::Info {
                    application,
                    version,
                    now_ms,
                } => exp.write_info(&application.render(), &version.render(), *now_ms, out),
                Piece::Tags(now_ms) => exp.write_host_tags(*now_ms, out),
                Piece::VariablesHeader => exp.write_variables_header(out),
                Piece::Variable { name, value, now_s } => {
                    exp.write_variable(&name.render(), f64::from_bits(*value), *now_s, out)
                }
                Piece::Chart => exp.write_chart(&chart, out),
                Piece::Collected {
                    algorithm,
                    multiplier,
                    divisor,
                    value,
                    ms,
                } => {
                    let d = PromDimension {
                        meta: dim,
                        algorithm: [
                            Algorithm::Absolute,
                            Algorithm::Incremental,
                            Algorithm::PercentageOfAbsoluteRow,
                            Algorithm::PercentageOfIncrementalRow,
                        ][usize::from(algorithm % 4)],
                        multiplier: *multiplier,
                        divisor: *divisor,
                        last_collected_value: *value,
                        last_collected_ms: *ms,
                    };
                    exp.write_collected(&chart, &d, out)
                }
                Piece::Stored {
                    negative,
                    units,
                    first,
                    last,
                } => {
                    let window = Window {
                        first_timestamp: *first,
                        last_timestamp: *last,
                    };
                    exp.write_stored(
                        &chart,
                        &dim,
                        Decimal::from_units(*negative, *units),
                        &window,
                        out,
                    )
                }
            }
        };
        let (max, samples) = match piece {
            Piece::Header { .. } => (prometheus::MAX_HEADER_LEN, 0),
            Piece::Info { .. } => (prometheus::MAX_INFO_LEN, 1),
            Piece::Tags(_) => (prometheus::MAX_HOST_TAGS_LEN, 2),
            Piece::VariablesHeader => (prometheus::MAX_VARIABLES_HEADER_LEN, 0),
            Piece::Variable { value, .. } => (
                prometheus::MAX_VARIABLE_LEN,
                usize::from(f64::from_bits(*value).is_finite()),
            ),
            Piece::Chart => (prometheus::MAX_CHART_LEN, 0),
            Piece::Collected { .. } => (prometheus::MAX_COLLECTED_LEN, 1),
            Piece::Stored { .. } => (prometheus::MAX_STORED_LEN, 1),
        };
        assert!(max <= prometheus::MAX_PIECE_LEN);
        // The piece's length, from a buffer that holds any piece.
        let mut big = vec![0u8; prometheus::MAX_PIECE_LEN];
        let len = write(&mut big).expect("MAX_PIECE_LEN holds any piece");
        texts.push(big[..len].to_vec());
        let Some(bytes) = all_or_nothing(len, max, input.room, input.fill, write) else {
            continue;
        };
        assert_eq!(bytes, texts[0], "the same piece twice");
        if bytes.is_empty() {
            continue; // turned off by an output switch
        }
        assert_eq!(bytes.last(), Some(&b'\n'), "a piece ends with a line end");
        // A label value is cut at netdata's 256-byte budget, possibly inside a
        // character: an open finding (docs/reliability.md), checked on request.
        if known_findings() {
            assert!(
                std::str::from_utf8(&bytes).is_ok(),
                "not UTF-8: {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let mut sample_lines = 0;
        for line in bytes[..bytes.len() - 1].split(|&b| b == b'\n') {
            assert!(
                line.len() < prometheus::MAX_LINE_LEN,
                "a line of {} bytes",
                line.len() + 1
            );
            if line.is_empty() || line.starts_with(b"# COMMENT ") || line.starts_with(b"# TYPE ") {
                continue;
            }
            sample_lines += 1;
            if strict && !matches!(piece, Piece::Tags(_)) {
                check_sample(line);
            }
        }
        if !prefix.starts_with('#') {
            let samples = if matches!(piece, Piece::Tags(_)) && tags.is_empty() {
                0
            } else {
                samples
            };
            assert_eq!(
                sample_lines,
                samples,
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
});
