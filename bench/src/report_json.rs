//! The JSON document of a run (`--json PATH`): the machine, the settings, and one
//! entry per measured case; also what `--compare` and the HTML report read.

use crate::machine::Machine;
use crate::workloads::BenchResult;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Version of this JSON shape; bumped when a field changes meaning.
pub const FORMAT_VERSION: u32 = 1;

/// What a run chose, as the JSON records it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `quick` or `full`.
    pub profile: String,
    /// Longest measured run of each case, seconds.
    pub duration_s: f64,
    /// Most data each measured run moves, bytes.
    pub volume_bytes: u64,
    /// Measured repetitions of each case.
    pub repetitions: usize,
    /// Longest warm-up run, seconds.
    pub warmup_s: f64,
    /// The workloads run.
    pub workloads: Vec<String>,
    /// The HTTP endpoint, if any.
    pub url: Option<String>,
}

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always `shardlog bench`.
    pub tool: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// shardlog's version.
    pub version: String,
    /// The command line that produced it.
    pub command: String,
    /// When the run started, seconds since the Unix epoch.
    pub started_unix_s: u64,
    /// How long the run took, seconds.
    pub wall_s: f64,
    /// The machine.
    pub machine: Machine,
    /// The run's settings.
    pub settings: Settings,
    /// One entry per measured case.
    pub results: Vec<BenchResult>,
    /// The queue-memory workload's figures, if it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_memory: Option<crate::workloads::queue_memory::QueueMemoryReport>,
}

impl Report {
    /// Writes the report as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| format!("encoding JSON: {e}"))?;
        std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Reads a report written by [`Report::write`].
    pub fn read(path: &Path) -> Result<Report, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a shardlog bench JSON report: {e}",
                path.display()
            )
        })
    }
}
