//! Measuring tools shared by the controller and the workers: a mergeable
//! latency histogram, a per-millisecond series of acknowledgements, the
//! wall clock every process agrees on, and what `/proc` says about a process.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch: the clock all processes of the run
/// share (the workers and the controller compare their times with it).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Sub-buckets per power of two: values are kept within about 1.6 %.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

/// A latency histogram in microseconds, log-linear, mergeable across
/// processes (sent over the worker pipe as sparse `(bucket, count)` pairs).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Histogram {
    buckets: BTreeMap<u32, u64>,
    count: u64,
    max_us: u64,
}

fn bucket_of(v: u64) -> u32 {
    if v < SUB {
        return v as u32;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let sub = (v >> (exp - SUB_BITS)) & (SUB - 1);
    ((exp - SUB_BITS + 1) as u64 * SUB + sub) as u32
}

/// The middle of a bucket, in microseconds.
fn value_of(bucket: u32) -> f64 {
    let b = u64::from(bucket);
    if b < SUB {
        return b as f64;
    }
    let exp = (b / SUB) as u32 + SUB_BITS - 1;
    let sub = b % SUB;
    let low = (SUB + sub) << (exp - SUB_BITS);
    let width = 1u64 << (exp - SUB_BITS);
    low as f64 + width as f64 / 2.0
}

impl Histogram {
    pub fn record_us(&mut self, us: u64) {
        *self.buckets.entry(bucket_of(us)).or_insert(0) += 1;
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (b, n) in &other.buckets {
            *self.buckets.entry(*b).or_insert(0) += n;
        }
        self.count += other.count;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// The `q` quantile (0–1) in milliseconds; None when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (b, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some((value_of(*b) / 1000.0).min(self.max_us as f64 / 1000.0));
            }
        }
        Some(self.max_us as f64 / 1000.0)
    }

    pub fn max_ms(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max_us as f64 / 1000.0)
    }

    /// p50, p99 and max in milliseconds, for reports.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            samples: self.count,
            p50_ms: self.quantile_ms(0.50).map(round2),
            p90_ms: self.quantile_ms(0.90).map(round2),
            p99_ms: self.quantile_ms(0.99).map(round2),
            max_ms: self.max_ms().map(round2),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// How many new check-ins were acknowledged in each millisecond (dense,
/// from `start_ms`, Unix ms), from every source of the run: merged, it is
/// the global ack counter that dashboard staleness is measured against.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AckSeries {
    pub start_ms: u64,
    pub counts: Vec<u32>,
}

impl AckSeries {
    /// An empty series whose first millisecond is `ms`.
    pub fn starting_at(ms: u64) -> AckSeries {
        AckSeries {
            start_ms: ms,
            counts: vec![0],
        }
    }

    pub fn add(&mut self, ms: u64, n: u32) {
        if self.counts.is_empty() {
            self.start_ms = ms;
        }
        if ms < self.start_ms {
            let shift = (self.start_ms - ms) as usize;
            let mut grown = vec![0; shift];
            grown.append(&mut self.counts);
            self.counts = grown;
            self.start_ms = ms;
        }
        let i = (ms - self.start_ms) as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += n;
    }

    pub fn record(&mut self, at_us: u64) {
        self.add(at_us / 1000, 1);
    }

    pub fn merge(&mut self, other: &AckSeries) {
        if other.counts.is_empty() {
            return;
        }
        // Make room for both ends first, then add.
        self.add(other.start_ms, 0);
        self.add(other.start_ms + other.counts.len() as u64 - 1, 0);
        let offset = (other.start_ms - self.start_ms) as usize;
        for (i, n) in other.counts.iter().enumerate() {
            self.counts[offset + i] += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().map(|n| u64::from(*n)).sum()
    }

    /// The Unix ms in which the `k`-th acknowledgement (1-based) arrived.
    pub fn ms_of(&self, k: u64) -> Option<u64> {
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += u64::from(*n);
            if seen >= k {
                return Some(self.start_ms + i as u64);
            }
        }
        None
    }

    /// Acknowledgements from Unix ms `from` on.
    pub fn since(&self, from: u64) -> u64 {
        let skip = from.saturating_sub(self.start_ms) as usize;
        self.counts.iter().skip(skip).map(|n| u64::from(*n)).sum()
    }

    /// The most acknowledged in any one-second window.
    pub fn peak_per_second(&self) -> u64 {
        let mut best = 0;
        let mut sum = 0u64;
        for i in 0..self.counts.len() {
            sum += u64::from(self.counts[i]);
            if i >= 1000 {
                sum -= u64::from(self.counts[i - 1000]);
            }
            best = best.max(sum);
        }
        best
    }
}

/// What `/proc/<pid>` says about a process.
pub mod proc {
    /// Resident memory (VmRSS) in kB.
    pub fn rss_kb(pid: u32) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// User + system CPU time in seconds (clock ticks of 100 Hz).
    pub fn cpu_seconds(pid: u32) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may contain spaces: fields start after the last ')'.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / 100.0)
    }

    /// Open file descriptors of a process.
    pub fn open_fds(pid: u32) -> Option<usize> {
        Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
    }

    /// The hard limit on open files of this process.
    pub fn nofile_hard_limit() -> Option<usize> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        // "Max open files  <soft>  <hard>  files"
        fields.get(4)?.parse().ok()
    }
}
