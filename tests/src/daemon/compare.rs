//! What a peer stored against what the daemon printed. The printed records are the
//! expected set: each test converts both sides to maps keyed the same way (series and
//! timestamp, say), and these functions require them equal, naming a few differences
//! when they are not.

use std::collections::BTreeMap;
use std::fmt::Debug;

/// How many missing or unexpected keys a failure names.
const EXAMPLES: usize = 5;

/// Requires `got` to hold exactly the keys of `want`: none missing, none unexpected.
///
/// # Panics
/// Otherwise, with `what`, the counts and a few keys of each.
pub fn assert_same_keys<K: Ord + Debug, A, B>(
    what: &str,
    got: &BTreeMap<K, A>,
    want: &BTreeMap<K, B>,
) {
    let missing: Vec<&K> = want.keys().filter(|k| !got.contains_key(k)).collect();
    let extra: Vec<&K> = got.keys().filter(|k| !want.contains_key(k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} of {} points missing (e.g. {:?}), {} unexpected (e.g. {:?})",
        missing.len(),
        want.len(),
        &missing[..missing.len().min(EXAMPLES)],
        extra.len(),
        &extra[..extra.len().min(EXAMPLES)]
    );
}

/// [`assert_same_keys`], and every value equal bit for bit: a peer that stored a
/// rounded or reparsed value fails.
///
/// # Panics
/// On the first difference, with `what`.
pub fn assert_same_points<K: Ord + Debug>(
    what: &str,
    got: &BTreeMap<K, f64>,
    want: &BTreeMap<K, f64>,
) {
    assert_same_keys(what, got, want);
    for (k, v) in want {
        assert_eq!(
            got[k].to_bits(),
            v.to_bits(),
            "{what}: value of {k:?}: {} stored, {v} printed",
            got[k]
        );
    }
}
