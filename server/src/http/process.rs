//! The process' own resource use, as Prometheus' process collector names it
//! (`process_resident_memory_bytes`, `process_cpu_seconds_total`): read from `/proc/self` on
//! Linux, absent elsewhere.

/// Resident memory in bytes and CPU time in seconds (user + system), when the OS tells.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
}

/// Clock ticks per second of `/proc/self/stat`'s times (Linux' USER_HZ, 100 on every platform
/// Linux runs on today).
const TICKS_PER_SECOND: f64 = 100.0;

/// Page size for `/proc/self/statm` (4 KiB on the platforms Eddy builds for).
const PAGE_BYTES: u64 = 4096;

/// The process' stats now.
pub fn current() -> ProcessStats {
    let resident_bytes = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map(|pages| pages * PAGE_BYTES);
    // Fields after the command name (which may hold spaces, in parentheses): utime is the 14th
    // field of the line, stime the 15th.
    let cpu_seconds = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| {
        let rest = s.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / TICKS_PER_SECOND)
    });
    ProcessStats { resident_bytes, cpu_seconds }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_reports_its_memory_and_cpu() {
        let stats = super::current();
        assert!(stats.resident_bytes.is_some_and(|b| b > 1 << 20), "{stats:?}");
        assert!(stats.cpu_seconds.is_some_and(|s| s >= 0.0), "{stats:?}");
    }
}
