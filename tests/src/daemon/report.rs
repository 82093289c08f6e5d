//! The daemon's accounting in its log: at exit, one `NAME: N records delivered, M lost`
//! line per network destination, and before it a `NAME: N records lost: REASON` line per
//! reason of loss. Tests compare these counters with the records that did and did not
//! arrive, so they are parsed strictly: a line in another shape fails the test.

use std::collections::BTreeMap;

use super::Daemon;

impl Daemon {
    /// The exit report of destination `name`: (delivered, lost).
    ///
    /// # Panics
    /// If the log has no report for `name`, or it is malformed.
    pub fn delivered(&self, name: &str) -> (u64, u64) {
        let log = self.log();
        let prefix = format!("backhaul: {name}: ");
        let line = log
            .lines()
            .find(|l| l.starts_with(&prefix) && l.contains(" records delivered"))
            .unwrap_or_else(|| panic!("no delivery report for {name} in:\n{log}"));
        line.strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(" lost"))
            .and_then(|rest| rest.split_once(" records delivered, "))
            .and_then(|(delivered, lost)| Some((delivered.parse().ok()?, lost.parse().ok()?)))
            .unwrap_or_else(|| panic!("malformed delivery report {line:?}"))
    }

    /// The records the log says destination `name` lost, summed per reason (the reason
    /// as logged, an HTTP status included).
    ///
    /// # Panics
    /// If a `records lost` line of `name` does not start with a count.
    pub fn logged_losses(&self, name: &str) -> BTreeMap<String, u64> {
        let prefix = format!("backhaul: {name}: ");
        let mut out = BTreeMap::new();
        for line in self.log().lines() {
            let Some((count, reason)) = line
                .strip_prefix(&prefix)
                .and_then(|rest| rest.split_once(" records lost: "))
            else {
                continue;
            };
            let count: u64 = count
                .parse()
                .unwrap_or_else(|_| panic!("malformed loss line {line:?}"));
            *out.entry(reason.to_owned()).or_default() += count;
        }
        out
    }
}
