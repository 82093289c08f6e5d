//! Prometheus remote write: any sequence of `push_info`, `push_host_tags`, `push_record`
//! and raw `push_series` into a `WriteRequestEncoder` of any size. Each series is
//! appended whole or not at all (the request written so far never changes); the request,
//! compressed with backhaul's snappy and decompressed with `snap`, decodes with `prost` to
//! exactly the series that were accepted, and is prost's own canonical encoding of them;
//! the series backhaul builds have sorted, valid, non-empty labels.

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::format::remote_write::snappy::{compress, max_compressed_len};
use backhaul_core::format::remote_write::{
    is_valid_label_name, is_valid_metric_name, push_host_tags, push_info, push_record, Collected,
    Label, Options, Sample, SeriesKind, WriteRequestEncoder,
};
use backhaul_core::format::{limits, truncate, BufferFull};
use backhaul_core::name::UnitNames;
use backhaul_core::window::Reduce;
use backhaul_fuzz::{FuzzRecord, Text};
use libfuzzer_sys::fuzz_target;
use prost::Message;

mod pb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub(crate) timeseries: Vec<TimeSeries>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub(crate) labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub(crate) samples: Vec<Sample>,
    }

    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub(crate) struct Label {
        #[prost(string, tag = "1")]
        pub(crate) name: String,
        #[prost(string, tag = "2")]
        pub(crate) value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Sample {
        #[prost(double, tag = "1")]
        pub(crate) value: f64,
        #[prost(int64, tag = "2")]
        pub(crate) timestamp: i64,
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Info {
        record: FuzzRecord,
        application: Text,
        version: Text,
        now_ms: i64,
    },
    HostTags {
        record: FuzzRecord,
        now_ms: i64,
    },
    Record {
        record: FuzzRecord,
        kind: Kind,
        unit_names: bool,
        counter_total: bool,
    },
    Series {
        labels: Vec<(String, String)>,
        value: u64,
        timestamp: i64,
    },
    Clear,
}

#[derive(Arbitrary, Debug)]
enum Kind {
    Average,
    Sum,
    Collected {
        homogeneous: bool,
        counter: bool,
        subsec_millis: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    size: u16,
    ops: Vec<Op>,
    table: u16,
    output_short: Option<u16>,
}

/// A series as plain data: labels, value bits, timestamp.
type Plain = (Vec<(String, String)>, u64, i64);

fn plain(s: &pb::TimeSeries) -> Plain {
    assert_eq!(s.samples.len(), 1, "one sample per series");
    let labels = s
        .labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    (labels, s.samples[0].value.to_bits(), s.samples[0].timestamp)
}

/// A label value as backhaul sends it: cut at `max`, absent when empty.
fn want(s: &str, max: usize) -> Option<&str> {
    Some(truncate(s, max)).filter(|s| !s.is_empty())
}

fn check_built(series: &Plain) {
    let names: Vec<&str> = series.0.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "labels not sorted or repeated: {names:?}"
    );
    for (name, value) in &series.0 {
        assert!(is_valid_label_name(name), "label name {name:?}");
        assert!(!value.is_empty(), "label {name} is empty");
        if name == "__name__" {
            assert!(is_valid_metric_name(value), "metric name {value:?}");
        }
    }
    assert!(names.contains(&"__name__"));
}

fuzz_target!(|input: Input| {
    let mut buf = vec![0u8; usize::from(input.size)];
    let mut encoder = WriteRequestEncoder::new(&mut buf);
    // The series accepted since the last clear, built by backhaul (true) or raw (false).
    let mut accepted: Vec<bool> = Vec::new();
    let mut expected_raw: Vec<Option<Plain>> = Vec::new();
    for op in input.ops.iter().take(16) {
        let before = encoder.as_bytes().to_vec();
        let series_before = encoder.series();
        let (result, raw) = match op {
            Op::Info {
                record,
                application,
                version,
                now_ms,
            } => {
                let o = record.render();
                let host = o.record().host;
                let (a, v) = (application.render(), version.render());
                (push_info(&mut encoder, &host, &a, &v, *now_ms), None)
            }
            Op::HostTags { record, now_ms } => {
                let o = record.render();
                let host = o.record().host;
                match push_host_tags(&mut encoder, &host, *now_ms) {
                    Ok(0) => {
                        assert_eq!(encoder.series(), series_before);
                        continue;
                    }
                    Ok(n) => {
                        assert!(n <= 63);
                        (Ok(()), None)
                    }
                    Err(e) => (Err(e), None),
                }
            }
            Op::Record {
                record,
                kind,
                unit_names,
                counter_total,
            } => {
                let o = record.render();
                let kind = match *kind {
                    Kind::Average => SeriesKind::Stored(Reduce::Average),
                    Kind::Sum => SeriesKind::Stored(Reduce::Sum),
                    Kind::Collected {
                        homogeneous,
                        counter,
                        subsec_millis,
                    } => SeriesKind::Collected(Collected {
                        homogeneous,
                        counter,
                        subsec_millis,
                    }),
                };
                let names = if *unit_names {
                    UnitNames::Old
                } else {
                    UnitNames::Current
                };
                let options = Options::new()
                    .with_unit_names(names)
                    .with_counter_total(*counter_total);
                let r = o.record();
                let result = push_record(&mut encoder, &r, kind, options);
                if result.is_ok() {
                    // The labels carry the record's fields, cut at their limits.
                    let bytes = encoder.as_bytes();
                    let last = pb::WriteRequest::decode(bytes)
                        .unwrap()
                        .timeseries
                        .pop()
                        .unwrap();
                    let (labels, _, _) = plain(&last);
                    let get =
                        |n: &str| labels.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
                    assert_eq!(get("chart"), want(r.chart_label(), limits::NAME));
                    assert_eq!(get("family"), want(r.chart.family, limits::NAME));
                    assert_eq!(get("instance"), want(r.host.hostname, limits::HOSTNAME));
                }
                (result, None)
            }
            Op::Series {
                labels,
                value,
                timestamp,
            } => {
                let ls: Vec<Label<'_>> = labels
                    .iter()
                    .take(8)
                    .map(|(n, v)| Label::new(n, v))
                    .collect();
                let sample = Sample::new(f64::from_bits(*value), *timestamp);
                let expected = (
                    ls.iter()
                        .map(|l| (l.name.to_owned(), l.value.to_owned()))
                        .collect(),
                    *value,
                    *timestamp,
                );
                (encoder.push_series(&ls, sample), Some(expected))
            }
            Op::Clear => {
                encoder.clear();
                assert!(encoder.is_empty() && encoder.series() == 0);
                accepted.clear();
                expected_raw.clear();
                continue;
            }
        };
        match result {
            Ok(()) => {
                assert_eq!(encoder.series(), series_before + 1);
                assert!(
                    encoder.as_bytes().starts_with(&before),
                    "earlier series changed"
                );
                accepted.push(raw.is_none());
                expected_raw.push(raw);
            }
            Err(BufferFull) => {
                assert_eq!(encoder.series(), series_before);
                assert_eq!(
                    encoder.as_bytes(),
                    before.as_slice(),
                    "a failed push changed the request"
                );
            }
        }
    }
    assert_eq!(encoder.len() + encoder.remaining(), usize::from(input.size));
    let request = encoder.as_bytes().to_vec();

    // Compress, decompress with snap, decode with prost.
    let need = max_compressed_len(request.len());
    let mut table = vec![0u16; usize::from(input.table)];
    if let Some(short) = input.output_short {
        let size = need.saturating_sub(usize::from(short).max(1));
        let mut out = vec![0x5a; size];
        assert_eq!(compress(&request, &mut out, &mut table), Err(BufferFull));
        assert!(
            out.iter().all(|&b| b == 0x5a),
            "BufferFull, but the output was touched"
        );
    }
    let mut out = vec![0u8; need];
    let n = compress(&request, &mut out, &mut table).expect("max_compressed_len is enough");
    let body = snap::raw::Decoder::new()
        .decompress_vec(&out[..n])
        .expect("snap decodes backhaul's block");
    assert_eq!(body, request);
    let decoded = pb::WriteRequest::decode(&body[..]).expect("prost decodes the request");
    assert_eq!(decoded.timeseries.len(), accepted.len());
    // prost omits a -0.0 value as if it were the default; backhaul writes it (proto3
    // compares a float field's bits, as libprotobuf does), so the encodings then differ.
    let negative_zero = decoded.timeseries.iter().any(|s| {
        s.samples
            .iter()
            .any(|x| x.value.to_bits() == (-0.0f64).to_bits())
    });
    if !negative_zero {
        assert_eq!(
            decoded.encode_to_vec(),
            request,
            "not prost's canonical encoding"
        );
    }
    for ((series, built), raw) in decoded.timeseries.iter().zip(&accepted).zip(&expected_raw) {
        let p = plain(series);
        if *built {
            check_built(&p);
        } else if let Some((labels, value, timestamp)) = raw {
            assert_eq!(&p.0, labels);
            assert_eq!((p.1, p.2), (*value, *timestamp));
        }
    }
});
