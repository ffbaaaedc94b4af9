//! Facts about the machine a run measured: CPU, cores, kernel, memory, and the
//! file system and device under the benchmark directory. Read from `/proc`,
//! `/sys` and `uname`; a fact that cannot be read is `None`, never guessed.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// What the JSON's `machine` object holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Host name.
    pub hostname: Option<String>,
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu: Option<String>,
    /// Logical cores available to this process.
    pub cores: usize,
    /// Kernel release and version (`uname -r -v`).
    pub kernel: Option<String>,
    /// Total memory, bytes.
    pub memory_bytes: Option<u64>,
    /// The benchmark directory, absolute.
    pub dir: String,
    /// Mount point holding the directory.
    pub mount_point: Option<String>,
    /// File system type (ext4, xfs, tmpfs, overlay, ...).
    pub filesystem: Option<String>,
    /// Mount source: the device (`/dev/nvme0n1p2`) or a pseudo source (`overlay`).
    pub device: Option<String>,
    /// Device model from `/sys/block/<dev>/device/model`, where readable.
    pub device_model: Option<String>,
    /// Whether the block device is rotational, where readable.
    pub rotational: Option<bool>,
    /// The device's I/O scheduler line, where readable.
    pub scheduler: Option<String>,
}

impl Machine {
    /// Reads the facts for a run writing under `dir` (which must exist).
    pub fn probe(dir: &Path) -> Machine {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mount = read("/proc/self/mountinfo").and_then(|text| mount_of(&text, &dir));
        let block = mount
            .as_ref()
            .and_then(|m| block_device_name(&m.source))
            .map(|name| format!("/sys/block/{name}"));
        let sys = |leaf: &str| {
            block
                .as_ref()
                .and_then(|b| read(&format!("{b}/{leaf}")))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        Machine {
            hostname: read("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()),
            cpu: read("/proc/cpuinfo").and_then(|text| cpu_model(&text)),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: kernel(),
            memory_bytes: read("/proc/meminfo").and_then(|text| memory_bytes(&text)),
            dir: dir.display().to_string(),
            mount_point: mount.as_ref().map(|m| m.mount_point.clone()),
            filesystem: mount.as_ref().map(|m| m.filesystem.clone()),
            device: mount.as_ref().map(|m| m.source.clone()),
            device_model: sys("device/model"),
            rotational: sys("queue/rotational").map(|s| s == "1"),
            scheduler: sys("queue/scheduler"),
        }
    }

    /// One line for the head of the table.
    pub fn summary(&self) -> String {
        let unknown = || "?".to_string();
        format!(
            "{} ({} cores), {} RAM, kernel {}, {} on {} ({}{})",
            self.cpu.clone().unwrap_or_else(unknown),
            self.cores,
            self.memory_bytes.map_or_else(unknown, |b| format!(
                "{:.1} GiB",
                b as f64 / (1u64 << 30) as f64
            )),
            self.kernel.clone().unwrap_or_else(unknown),
            self.filesystem.clone().unwrap_or_else(unknown),
            self.mount_point.clone().unwrap_or_else(unknown),
            self.device.clone().unwrap_or_else(unknown),
            self.device_model
                .as_ref()
                .map_or_else(String::new, |m| format!(", {m}")),
        )
    }
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn kernel() -> Option<String> {
    let release = read("/proc/sys/kernel/osrelease")?;
    let version = read("/proc/sys/kernel/version").unwrap_or_default();
    Some(
        format!("{} {}", release.trim(), version.trim())
            .trim()
            .to_string(),
    )
}

/// The `model name` of the first processor in `/proc/cpuinfo`.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, name)| name.trim().to_string())
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn memory_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One mount from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    /// Where it is mounted.
    pub mount_point: String,
    /// File system type.
    pub filesystem: String,
    /// Mount source (device or pseudo name).
    pub source: String,
}

/// The mount whose mount point is the longest prefix of `dir`.
pub fn mount_of(mountinfo: &str, dir: &Path) -> Option<Mount> {
    mountinfo
        .lines()
        .filter_map(parse_mountinfo_line)
        .filter(|m| dir.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.len())
}

/// Fields: id parent major:minor root mount-point options [optional...] - fstype source super-options.
fn parse_mountinfo_line(line: &str) -> Option<Mount> {
    let (before, after) = line.split_once(" - ")?;
    let mount_point = before.split(' ').nth(4)?;
    let mut after = after.split(' ');
    let filesystem = after.next()?;
    let source = after.next()?;
    Some(Mount {
        mount_point: unescape_octal(mount_point),
        filesystem: filesystem.to_string(),
        source: unescape_octal(source),
    })
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(byte) => {
                out.push(byte as char);
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `/sys/block` name of a device path: `/dev/nvme0n1p2` → `nvme0n1`,
/// `/dev/sda1` → `sda`; `None` for pseudo sources.
pub fn block_device_name(source: &str) -> Option<String> {
    let name = source.strip_prefix("/dev/")?;
    let name = name.rsplit('/').next()?;
    if Path::new("/sys/block").join(name).exists() {
        return Some(name.to_string());
    }
    // A partition: its parent is the name without the partition suffix.
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let parent =
        if trimmed.ends_with('p') && trimmed[..trimmed.len() - 1].ends_with(char::is_numeric) {
            &trimmed[..trimmed.len() - 1]
        } else {
            trimmed
        };
    (!parent.is_empty()).then(|| parent.to_string())
}

#[cfg(test)]
mod tests {
    //! The parsers read the kernel's formats.
    use super::*;

    /// The longest matching mount point wins, and escapes are decoded.
    #[test]
    fn mount_of_picks_the_longest_prefix() {
        let info = "22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw\n\
                    30 22 259:2 / /work\\040dir rw,relatime shared:2 - ext4 /dev/nvme0n1p2 rw\n";
        let mount = mount_of(info, Path::new("/work dir/bench")).unwrap();
        assert_eq!(mount.mount_point, "/work dir");
        assert_eq!(mount.filesystem, "ext4");
        assert_eq!(mount.source, "/dev/nvme0n1p2");
        let root = mount_of(info, Path::new("/tmp")).unwrap();
        assert_eq!(root.filesystem, "overlay");
    }

    /// CPU model and memory come from their lines.
    #[test]
    fn cpu_and_memory_parse() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Example CPU @ 3.0GHz\n";
        assert_eq!(cpu_model(cpuinfo).unwrap(), "Example CPU @ 3.0GHz");
        assert_eq!(memory_bytes("MemTotal:       1024 kB\n"), Some(1024 * 1024));
        assert_eq!(memory_bytes("nothing"), None);
    }

    /// Partition names map to their disk; pseudo sources map to nothing.
    #[test]
    fn block_device_names() {
        assert_eq!(block_device_name("overlay"), None);
        let nvme = block_device_name("/dev/nvme0n1p2").unwrap();
        assert!(nvme == "nvme0n1p2" || nvme == "nvme0n1", "{nvme}");
        let sda = block_device_name("/dev/sda1").unwrap();
        assert!(sda == "sda1" || sda == "sda", "{sda}");
    }

    /// Probing the temp dir fills the facts every Linux machine has.
    #[test]
    fn probe_reads_this_machine() {
        let machine = Machine::probe(&std::env::temp_dir());
        assert!(machine.cores > 0);
        assert!(machine.kernel.is_some());
        assert!(machine.memory_bytes.unwrap_or(0) > 0);
        assert!(machine.filesystem.is_some());
        assert!(!machine.summary().is_empty());
    }
}
