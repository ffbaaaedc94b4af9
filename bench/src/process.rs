//! What the benchmark process itself costs, read from `/proc/self`: CPU time
//! (user and system, all threads), anonymous resident memory, and open files.
//! These are the engine's costs because the engine runs inside this process; CPU
//! time is also what other load on the machine disturbs least.

use std::time::Duration;

/// CPU time the whole process has used so far, all threads.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    /// In user mode.
    pub user: Duration,
    /// In the kernel on the process's behalf.
    pub system: Duration,
}

impl CpuTimes {
    /// The process's CPU time now (`utime` and `stime` of `/proc/self/stat`).
    pub fn now() -> Result<CpuTimes, String> {
        let text = std::fs::read_to_string("/proc/self/stat")
            .map_err(|e| format!("reading /proc/self/stat: {e}"))?;
        parse_stat_times(&text, rustix::param::clock_ticks_per_second())
    }

    /// The time used between `earlier` and `self`.
    pub fn since(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    /// User plus system time: core-seconds.
    pub fn total(self) -> Duration {
        self.user + self.system
    }
}

/// `utime` and `stime` (fields 14 and 15, in clock ticks) of a `/proc/<pid>/stat`
/// line. The command name (field 2) is in parentheses and may hold spaces and
/// parentheses itself, so fields are counted after its last `)`.
fn parse_stat_times(text: &str, ticks_per_s: u64) -> Result<CpuTimes, String> {
    let bad = || format!("/proc/self/stat has no CPU times: {text:.80}");
    let after_name = &text[text.rfind(')').ok_or_else(bad)? + 1..];
    // After the name come field 3 (state) onwards: utime is the 12th of those.
    let mut fields = after_name.split_ascii_whitespace().skip(11);
    let mut ticks = || -> Result<u64, String> {
        fields
            .next()
            .and_then(|field| field.parse().ok())
            .ok_or_else(bad)
    };
    let (user, system) = (ticks()?, ticks()?);
    let ticks_per_s = ticks_per_s.max(1);
    let duration = |ticks: u64| Duration::from_secs_f64(ticks as f64 / ticks_per_s as f64);
    Ok(CpuTimes {
        user: duration(user),
        system: duration(system),
    })
}

/// Anonymous resident memory of the process (`RssAnon` of `/proc/self/status`):
/// heap and stacks, not file pages or mappings of segment files.
pub fn rss_anon_bytes() -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("reading /proc/self/status: {e}"))?;
    parse_status_kib(&text, "RssAnon:").map(|kib| kib * 1024)
}

/// The value of a `<name> <n> kB` line of `/proc/<pid>/status`.
fn parse_status_kib(text: &str, name: &str) -> Result<u64, String> {
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_ascii_whitespace().next())
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| format!("/proc/self/status has no {name} line"))
}

/// Open file descriptors of the process (entries of `/proc/self/fd`).
pub fn open_files() -> Result<u64, String> {
    let entries =
        std::fs::read_dir("/proc/self/fd").map_err(|e| format!("listing /proc/self/fd: {e}"))?;
    // The listing's own descriptor is among the entries: it is not the engine's.
    Ok((entries.count() as u64).saturating_sub(1))
}

#[cfg(test)]
mod tests {
    //! The `/proc` parsers read the fields they name, and the live readings move
    //! the way the process does.
    use super::*;

    /// utime and stime are found after a command name holding spaces and
    /// parentheses, and converted from ticks.
    #[test]
    fn stat_times_skip_a_tricky_command_name() {
        let line = "42 (a b) c)) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 1 0\n";
        let times = parse_stat_times(line, 100).unwrap();
        assert_eq!(times.user, Duration::from_millis(2500));
        assert_eq!(times.system, Duration::from_millis(750));
        assert!(parse_stat_times("42 (x) S 1", 100).is_err());
    }

    /// RssAnon is read in kB and a missing line is an error.
    #[test]
    fn status_lines_are_read_in_kib() {
        let text = "Name:\tx\nRssAnon:\t    1234 kB\nRssFile:\t 5 kB\n";
        assert_eq!(parse_status_kib(text, "RssAnon:").unwrap(), 1234);
        assert!(parse_status_kib(text, "VmSwap:").is_err());
    }

    /// Spinning adds CPU time, a held file is counted, and memory is read.
    #[test]
    fn live_readings_follow_the_process() {
        let before = CpuTimes::now().unwrap();
        let started = std::time::Instant::now();
        let mut x = 1u64;
        while CpuTimes::now().unwrap().since(before).total() < Duration::from_millis(30) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            assert!(started.elapsed() < Duration::from_secs(60), "{x}");
        }
        // Other tests of this binary open and close files meanwhile: only a
        // lower bound is certain.
        let file = tempfile::tempfile().unwrap();
        assert!(open_files().unwrap() >= 1);
        drop(file);
        assert!(rss_anon_bytes().unwrap() > 0);
    }
}
