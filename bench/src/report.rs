//! What a scenario measured, the process counters it reads, and the table printed at the end.

use std::time::{Duration, Instant};

/// CPU time and peak RSS of this process so far (getrusage).
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub cpu: Duration,
    pub peak_rss_kb: u64,
}

impl Usage {
    pub fn now() -> Self {
        // SAFETY: getrusage only writes the struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
        Usage { cpu: tv(u.ru_utime) + tv(u.ru_stime), peak_rss_kb: u.ru_maxrss as u64 }
    }
}

/// Wall clock and CPU time of a measured section.
pub struct Stopwatch {
    start: Instant,
    usage: Usage,
}

impl Stopwatch {
    pub fn start() -> Self {
        Self { start: Instant::now(), usage: Usage::now() }
    }

    /// Wall time and CPU time since the start.
    pub fn stop(&self) -> (Duration, Duration) {
        (self.start.elapsed(), Usage::now().cpu.saturating_sub(self.usage.cpu))
    }
}

/// One scenario's figures.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub name: String,
    /// Input events processed.
    pub events: u64,
    /// Input bytes (record values) processed.
    pub bytes: u64,
    /// Output records written.
    pub outputs: u64,
    pub wall: Duration,
    pub cpu: Duration,
    /// p50 and p99 end-to-end latency, when the scenario measures it.
    pub latency: Option<(Duration, Duration)>,
    /// Which broker (or "none": engine only).
    pub broker: String,
    /// A figure the table has no column for (memory scenarios), printed below it.
    pub note: Option<String>,
}

/// Resident set size of a process now, in KiB (`/proc/PID/status`, VmRSS).
pub fn rss_kb(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

impl Measurement {
    fn per_second(&self, n: f64, over: Duration) -> f64 {
        if over.is_zero() {
            0.0
        } else {
            n / over.as_secs_f64()
        }
    }
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The results table: one row per scenario.
pub fn table(rows: &[Measurement]) -> String {
    let header = [
        "scenario",
        "events",
        "outputs",
        "seconds",
        "events/s",
        "events/s/core",
        "busy cores",
        "MB/s",
        "p50 ms",
        "p99 ms",
        "CPU s",
        "broker",
    ];
    let peak = Usage::now().peak_rss_kb;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|m| {
            let busy = if m.wall.is_zero() { 0.0 } else { m.cpu.as_secs_f64() / m.wall.as_secs_f64() };
            let ms = |d: Duration| {
                let ms = d.as_secs_f64() * 1000.0;
                if ms < 10.0 {
                    format!("{ms:.2}")
                } else {
                    format!("{ms:.1}")
                }
            };
            vec![
                m.name.clone(),
                thousands(m.events as f64),
                thousands(m.outputs as f64),
                format!("{:.2}", m.wall.as_secs_f64()),
                thousands(m.per_second(m.events as f64, m.wall)),
                thousands(m.per_second(m.events as f64, m.cpu)),
                format!("{busy:.2}"),
                format!("{:.1}", m.per_second(m.bytes as f64 / 1e6, m.wall)),
                m.latency.map(|(p50, _)| ms(p50)).unwrap_or_else(|| "-".into()),
                m.latency.map(|(_, p99)| ms(p99)).unwrap_or_else(|| "-".into()),
                format!("{:.2}", m.cpu.as_secs_f64()),
                m.broker.clone(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| cells.iter().map(|r| r[i].len()).chain(std::iter::once(header[i].len())).max().unwrap_or(0))
        .collect();
    let line = |cols: Vec<String>| -> String {
        cols.iter()
            .enumerate()
            .map(|(i, c)| if i == 0 { format!("{c:<w$}", w = widths[i]) } else { format!("{c:>w$}", w = widths[i]) })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(header.iter().map(|s| s.to_string()).collect());
    out.push('\n');
    for row in cells {
        out.push_str(&line(row));
        out.push('\n');
    }
    out.push_str(&format!("peak RSS of the process: {:.1} MB\n", peak as f64 / 1024.0));
    for m in rows {
        if let Some(note) = &m.note {
            out.push_str(&format!("{}: {note}\n", m.name));
        }
    }
    out
}
