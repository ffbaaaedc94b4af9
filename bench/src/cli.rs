//! `shardlog bench`: its options (clap), their checks, and the run that measures
//! the selected workloads and writes the table, JSON and HTML.

use crate::workloads::engine::EngineSettings;
use crate::workloads::http::Wire;
use crate::workloads::WorkloadKind;
use clap::Args;
use shardlog_segment::{BackendKind, Durability};
use std::path::PathBuf;
use std::time::Duration;

/// Most records a PutRecords call may carry.
pub const BATCH_RECORDS_MAX: usize = 500;
/// Largest record payload Kinesis accepts: 1 MiB.
pub const RECORD_BYTES_MAX: usize = 1 << 20;
/// Most shards a bench stream may have.
pub const SHARDS_MAX: u32 = 256;
/// Most shards of the scale case's stream (the engine's limit per stream).
pub const SCALE_SHARDS_MAX: u32 = 10_000;
/// Most repetitions of one case.
pub const REPETITIONS_MAX: usize = 100;

/// Benchmark storage hardware with a log-shaped workload: raw device baselines,
/// engine append / replay / seek / end-to-end latency / mixed, and the same over
/// HTTP with `--url`. Prints a table with ratios to the raw device.
#[derive(Args, Debug, Clone, Default)]
pub struct BenchArgs {
    /// Where the benchmark writes its files (created if missing; emptied of what
    /// the run wrote afterwards).
    #[arg(long, default_value = "shardlog-bench-data")]
    pub dir: PathBuf,
    /// The quick profile: small volumes and short runs, under a minute.
    #[arg(long, conflicts_with = "sustained")]
    pub quick: bool,
    /// The sustained profile: 16 GiB per measured run (no time limit short of an
    /// hour, no warm-up), shards 1,16, both backends, workloads append and scale
    /// unless given: long enough for the device's steady state, not its cache.
    #[arg(long)]
    pub sustained: bool,
    /// Workloads to run, comma-separated (default: all; the HTTP ones only with
    /// --url): raw-direct-write, raw-buffered-write, raw-fdatasync, raw-read-cold,
    /// raw-read-warm, append, replay, seek-sequence, seek-timestamp, e2e, mixed,
    /// scale, http-append, http-replay, http-seek-sequence, http-seek-timestamp, http-e2e.
    /// Raw baselines the selected ones are compared with are added.
    #[arg(long, value_delimiter = ',')]
    pub workload: Vec<String>,
    /// Longest measured run of each case, seconds (quick: 1, full: 5, sustained:
    /// 3600).
    #[arg(long, allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Most data each measured run moves, MiB (quick: 32, full: 1024, sustained:
    /// 16384); a run stops at whichever of --duration and --volume comes first.
    #[arg(long)]
    pub volume: Option<u64>,
    /// Measured repetitions of each case, 1 to 100 (min / median / max reported;
    /// default 3).
    #[arg(long)]
    pub repetitions: Option<usize>,
    /// Longest warm-up run before the measured ones, seconds; 0 for none (quick:
    /// 0.3, full: 1, sustained: 0).
    #[arg(long, allow_negative_numbers = true)]
    pub warmup: Option<f64>,
    /// Shard counts of the append runs, comma-separated, each 1 to 256 (quick:
    /// 1,4; full: 1,2,4,8,16; sustained: 1,16); mixed and HTTP use the largest.
    #[arg(long, value_delimiter = ',')]
    pub shards: Vec<u32>,
    /// Payload bytes per record, 1 to 1048576.
    #[arg(long, default_value_t = 1024)]
    pub record_bytes: usize,
    /// Records per PutRecords call, 1 to 500.
    #[arg(long, default_value_t = 500)]
    pub batch_records: usize,
    /// Producer threads, 1 to 1024 (default: 2 per shard, 4 to 32).
    #[arg(long)]
    pub producers: Option<usize>,
    /// Durability of the writes: sync, interval:<ms> or none.
    #[arg(long, default_value = "sync")]
    pub durability: String,
    /// Write backends of the append and scale runs, comma-separated: buffered,
    /// io_uring, or auto (what a storage opened here would choose; the case names
    /// the backend chosen) (quick: buffered; full and sustained: both).
    #[arg(long, value_delimiter = ',')]
    pub backend: Vec<String>,
    /// Rate-limit the append and mixed producers to this many records/s in all;
    /// latency is then measured from each call's intended start.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Shards of the scale case's stream, 1 to 10000 (quick: 100; full and
    /// sustained: 1000).
    #[arg(long)]
    pub scale_shards: Option<u32>,
    /// How far ahead of its writes each shard's active segment is reserved in the
    /// append and scale runs, KiB: 0 for none, else 256 to 1048576 (default: the
    /// engine's: none). For comparing with and without preallocation.
    #[arg(long)]
    pub preallocate_kib: Option<u64>,
    /// Records/s of the end-to-end latency run (quick: 500, full: 1000).
    #[arg(long)]
    pub e2e_rate: Option<u64>,
    /// Records in the shard the seeks search (quick: 200000, full: 2000000).
    #[arg(long)]
    pub seek_records: Option<u64>,
    /// Seeks of each kind per repetition (quick: 2000, full: 20000).
    #[arg(long)]
    pub seek_lookups: Option<u64>,
    /// A running server's endpoint (http://host:port) for the HTTP workloads.
    #[arg(long)]
    pub url: Option<String>,
    /// The Kinesis wire of http-append and http-replay: json (JSON 1.1, blobs as
    /// base64) or cbor (CBOR 1.1, blobs as bytes, as the Java SDK and KPL send).
    #[arg(long, value_enum, default_value_t = Wire::Json)]
    pub wire: Wire,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report with charts here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Compare two JSON result files side by side instead of running.
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"])]
    pub compare: Vec<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// queue-memory: messages sent to the queue (quick: 100000, full: 1000000).
    #[arg(long)]
    pub messages: Option<u64>,
    /// queue-memory, SQS and SNS workloads: body bytes of each message, 1 to
    /// 262144 (default: 1024 for the sqs-* cases but sqs-backlog's 16; 16 for
    /// queue-memory and sns-*).
    #[arg(long)]
    pub message_bytes: Option<usize>,
    /// sqs-backlog: messages queued before each drain, comma-separated, each 1 to
    /// 10^9 (default 1000000,100000000).
    #[arg(long, value_delimiter = ',')]
    pub backlog_messages: Vec<u64>,
    /// growth: sizes in GiB the one shard is grown to, ascending, comma-separated,
    /// each 1 to 100000 (default 1,100; the disk must hold the largest).
    #[arg(long, value_delimiter = ',')]
    pub growth_gib: Vec<u64>,
    /// sns-publish, sns-latency and sns-fill: SQS queue subscriptions of the topic,
    /// comma-separated, each 1 to 100 (default 1,10,100).
    #[arg(long, value_delimiter = ',')]
    pub subscriptions: Vec<usize>,
    /// sns-*: deliver notification documents (JSON, signed), SNS's default,
    /// instead of raw messages.
    #[arg(long)]
    pub sns_envelope: bool,
    /// Also run the SQS and SNS workloads against moto's server (started here on
    /// 127.0.0.1; `moto_server` from $SHARDLOG_MOTO_SERVER, .venv-clients or PATH,
    /// else installed into .venv-clients) and print shardlog's ratio to it.
    #[arg(long)]
    pub compare_moto: bool,
    /// Internal: run one phase of queue-memory in this process on --dir.
    #[arg(long, hide = true)]
    pub queue_memory_phase: Option<String>,
}

/// A set of defaults: how big and long a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Quick,
    Full,
    Sustained,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Profile::Quick => "quick",
            Profile::Full => "full",
            Profile::Sustained => "sustained",
        }
    }

    /// The default of a setting under each profile.
    fn pick<T>(self, quick: T, full: T, sustained: T) -> T {
        match self {
            Profile::Quick => quick,
            Profile::Full => full,
            Profile::Sustained => sustained,
        }
    }
}

/// Workloads of the sustained profile when none are named.
const SUSTAINED_WORKLOADS: [WorkloadKind; 2] = [WorkloadKind::Append, WorkloadKind::Scale];

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where files go.
    pub dir: PathBuf,
    /// `quick`, `full` or `sustained`.
    pub profile: &'static str,
    /// The workloads, baselines included, in run order.
    pub workloads: Vec<WorkloadKind>,
    /// Most bytes per measured run.
    pub volume_bytes: u64,
    /// Longest measured run.
    pub duration: Duration,
    /// Measured repetitions.
    pub repetitions: usize,
    /// Longest warm-up.
    pub warmup: Duration,
    /// Engine knobs.
    pub engine: EngineSettings,
    /// End-to-end records/s.
    pub e2e_rate: u64,
    /// Records of the seek shard.
    pub seek_records: u64,
    /// Seeks of each kind per repetition.
    pub seek_lookups: u64,
    /// HTTP endpoint.
    pub url: Option<String>,
    /// The Kinesis wire of the HTTP cases.
    pub wire: Wire,
    /// queue-memory's settings.
    pub queue_memory: crate::workloads::queue_memory::QueueMemorySettings,
    /// The SQS workloads' settings.
    pub sqs: crate::workloads::sqs::SqsSettings,
    /// The engine-API SQS workloads' settings.
    pub sqs_engine: crate::workloads::sqs_engine::SqsEngineSettings,
    /// The SNS cases' knobs.
    pub sns: crate::workloads::sns::SnsSettings,
    /// Run the SQS and SNS workloads against moto too.
    pub compare_moto: bool,
    /// The growth case's shard sizes, bytes, ascending.
    pub growth_bytes: Vec<u64>,
}

fn positive_seconds(
    name: &str,
    value: Option<f64>,
    default: f64,
    zero_ok: bool,
) -> Result<Duration, String> {
    let seconds = value.unwrap_or(default);
    let valid = seconds.is_finite()
        && (seconds > 0.0 || (zero_ok && seconds == 0.0))
        && seconds <= 86_400.0;
    if !valid {
        let what = if zero_ok { "0 or more" } else { "more than 0" };
        return Err(format!(
            "--{name} must be {what} seconds (at most a day), not {seconds}"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    value: T,
    low: T,
    high: T,
) -> Result<T, String> {
    if value < low || value > high {
        return Err(format!(
            "--{name} must be between {low} and {high}, not {value}"
        ));
    }
    Ok(value)
}

/// The workloads asked for, with their baselines, in run order.
pub fn select_workloads(names: &[String], url: bool) -> Result<Vec<WorkloadKind>, String> {
    let mut chosen: Vec<WorkloadKind> = if names.is_empty() {
        WorkloadKind::ALL
            .into_iter()
            .filter(|k| (url || !k.is_http()) && !k.only_when_named())
            .collect()
    } else {
        names
            .iter()
            .map(|name| {
                WorkloadKind::parse(name.trim()).ok_or_else(|| {
                    let known: Vec<&str> = WorkloadKind::ALL.iter().map(|k| k.name()).collect();
                    format!(
                        "unknown workload '{name}'; known workloads: {}",
                        known.join(", ")
                    )
                })
            })
            .collect::<Result<_, _>>()?
    };
    if let Some(http) = chosen.iter().find(|k| k.is_http()) {
        if !url {
            return Err(format!(
                "workload '{}' needs --url of a running server",
                http.name()
            ));
        }
    }
    let baselines: Vec<WorkloadKind> = chosen
        .iter()
        .flat_map(|k| k.baselines().iter().copied())
        .collect();
    chosen.extend(baselines);
    chosen.sort();
    chosen.dedup();
    Ok(chosen)
}

impl BenchArgs {
    /// The engine workloads' options, checked, with the profile's defaults.
    fn engine_settings(&self, profile: Profile) -> Result<EngineSettings, String> {
        let shard_counts = if self.shards.is_empty() {
            profile.pick(vec![1, 4], vec![1, 2, 4, 8, 16], vec![1, 16])
        } else {
            self.shards.clone()
        };
        for &shards in &shard_counts {
            in_range("shards", shards, 1, SHARDS_MAX)?;
        }
        let durability = Durability::parse(&self.durability).ok_or_else(|| {
            format!(
                "--durability must be sync, interval:<ms> or none, not '{}'",
                self.durability
            )
        })?;
        let backends = if self.backend.is_empty() {
            let both = vec![BackendKind::Buffered, BackendKind::IoUring];
            profile.pick(vec![BackendKind::Buffered], both.clone(), both)
        } else {
            self.backend
                .iter()
                .map(|name| match BackendKind::parse(name) {
                    Some(BackendKind::Auto) => Ok(auto_backend(&self.dir)),
                    Some(kind) => Ok(kind),
                    None => Err(format!(
                        "--backend must be auto, buffered or io_uring, not '{name}'"
                    )),
                })
                .collect::<Result<_, _>>()?
        };
        let rate_records_per_s = match self.rate {
            Some(0) => return Err("--rate must be a positive number of records per second".into()),
            other => other,
        };
        Ok(EngineSettings {
            shard_counts,
            record_bytes: in_range("record-bytes", self.record_bytes, 1, RECORD_BYTES_MAX)?,
            batch_records: in_range("batch-records", self.batch_records, 1, BATCH_RECORDS_MAX)?,
            producers: self
                .producers
                .map(|p| in_range("producers", p, 1, 1024))
                .transpose()?,
            durability,
            backends,
            rate_records_per_s,
            preallocate_bytes_max: self
                .preallocate_kib
                .map(|kib| match kib {
                    0 => Ok(0),
                    kib => in_range("preallocate-kib", kib, 256, 1 << 20).map(|kib| kib << 10),
                })
                .transpose()?,
            scale_shards: in_range(
                "scale-shards",
                self.scale_shards.unwrap_or(profile.pick(100, 1000, 1000)),
                1,
                SCALE_SHARDS_MAX,
            )?,
        })
    }

    /// Checks every option and applies the profile's defaults.
    pub fn plan(&self) -> Result<Plan, String> {
        let profile = match (self.quick, self.sustained) {
            (true, true) => return Err("--quick and --sustained exclude each other".into()),
            (true, false) => Profile::Quick,
            (false, true) => Profile::Sustained,
            (false, false) => Profile::Full,
        };
        let url = match &self.url {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(format!(
                    "--url must start with http:// or https://, not '{url}'"
                ));
            }
            other => other.clone(),
        };
        let workloads = if profile == Profile::Sustained && self.workload.is_empty() {
            let names = SUSTAINED_WORKLOADS.map(|k| k.name().to_string());
            select_workloads(&names, url.is_some())?
        } else {
            select_workloads(&self.workload, url.is_some())?
        };
        let duration = positive_seconds(
            "duration",
            self.duration,
            profile.pick(1.0, 5.0, 3600.0),
            false,
        )?;
        let warmup = positive_seconds("warmup", self.warmup, profile.pick(0.3, 1.0, 0.0), true)?;
        let volume_mib = in_range(
            "volume",
            self.volume.unwrap_or(profile.pick(32, 1024, 16 << 10)),
            1,
            1 << 20,
        )?;
        let repetitions = in_range(
            "repetitions",
            self.repetitions.unwrap_or(3),
            1,
            REPETITIONS_MAX,
        )?;
        let quick = profile == Profile::Quick;
        let e2e_rate = in_range(
            "e2e-rate",
            self.e2e_rate.unwrap_or(if quick { 500 } else { 1000 }),
            1,
            1_000_000,
        )?;
        let engine = self.engine_settings(profile)?;
        let durability = engine.durability;
        let sqs_rate = engine.rate_records_per_s.unwrap_or(1_000);
        let cbor_only = [WorkloadKind::HttpAppend, WorkloadKind::HttpReplay];
        if self.wire == Wire::Cbor
            && workloads
                .iter()
                .any(|k| k.is_http() && !cbor_only.contains(k))
        {
            return Err("--wire cbor runs http-append and http-replay only: select those".into());
        }
        if self.compare_moto && !workloads.iter().any(|k| k.is_sqs() || k.is_sns()) {
            return Err("--compare-moto compares the sqs-* and sns-* workloads: select one".into());
        }
        let message_bytes = |default: usize| {
            in_range(
                "message-bytes",
                self.message_bytes.unwrap_or(default),
                1,
                256 << 10,
            )
        };
        // Issue 17 measures SQS with 1 KiB messages.
        let sqs = crate::workloads::sqs::SqsSettings {
            message_bytes: message_bytes(1024)?,
            threads: self.producers.unwrap_or(16),
            rate: sqs_rate,
        };
        let backlog_messages = if self.backlog_messages.is_empty() {
            vec![1_000_000, 100_000_000]
        } else {
            self.backlog_messages.clone()
        };
        for &count in &backlog_messages {
            let max = crate::workloads::sqs_engine::BACKLOG_MESSAGES_MAX;
            in_range("backlog-messages", count, 1, max)?;
        }
        let sqs_engine = crate::workloads::sqs_engine::SqsEngineSettings {
            message_bytes: sqs.message_bytes,
            threads: sqs.threads,
            durability,
            backlog_messages,
        };
        let growth_gib = if self.growth_gib.is_empty() {
            vec![1, 100]
        } else {
            self.growth_gib.clone()
        };
        for &size in &growth_gib {
            in_range("growth-gib", size, 1, 100_000)?;
        }
        if growth_gib.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err("--growth-gib sizes must be ascending".into());
        }
        let subscriptions = if self.subscriptions.is_empty() {
            vec![1, 10, 100]
        } else {
            self.subscriptions.clone()
        };
        for &count in &subscriptions {
            in_range("subscriptions", count, 1, 100)?;
        }
        Ok(Plan {
            dir: self.dir.clone(),
            profile: profile.name(),
            workloads,
            volume_bytes: volume_mib << 20,
            duration,
            repetitions,
            warmup,
            engine,
            e2e_rate,
            seek_records: in_range(
                "seek-records",
                self.seek_records
                    .unwrap_or(if quick { 200_000 } else { 2_000_000 }),
                2,
                1_000_000_000,
            )?,
            seek_lookups: in_range(
                "seek-lookups",
                self.seek_lookups
                    .unwrap_or(if quick { 2_000 } else { 20_000 }),
                1,
                100_000_000,
            )?,
            url,
            wire: self.wire,
            queue_memory: crate::workloads::queue_memory::QueueMemorySettings {
                messages: in_range(
                    "messages",
                    self.messages
                        .unwrap_or(if quick { 100_000 } else { 1_000_000 }),
                    1,
                    10_000_000_000,
                )?,
                body_bytes: message_bytes(16)?,
                threads: self.producers.unwrap_or(8),
                durability,
            },
            sqs,
            sqs_engine,
            sns: crate::workloads::sns::SnsSettings {
                base: crate::workloads::sqs::SqsSettings {
                    message_bytes: message_bytes(16)?,
                    ..sqs
                },
                subscriptions,
                envelope: self.sns_envelope,
            },
            compare_moto: self.compare_moto,
            growth_bytes: growth_gib.iter().map(|gib| gib << 30).collect(),
        })
    }
}

/// What `--backend auto` resolves to for files in `dir` (probed when it exists),
/// said on stderr: io_uring, or buffered with the refusal of io_uring or O_DIRECT.
fn auto_backend(dir: &std::path::Path) -> BackendKind {
    let fs = shardlog_segment::io::RealFs::shared();
    let probe = Some(dir).filter(|dir| dir.is_dir());
    let choice = shardlog_segment::backend::choose(fs.as_ref(), probe);
    let kind = choice.backend.kind();
    match choice.refusal {
        None => eprintln!("--backend auto: {}", kind.name()),
        Some(refusal) => eprintln!("--backend auto: {} ({refusal})", kind.name()),
    }
    kind
}

/// Creates `dir` if needed and proves it writable by creating and removing a file.
pub fn check_dir_writable(dir: &std::path::Path) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("--dir {} is not writable: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".shardlog-bench-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

#[cfg(test)]
mod tests {
    //! Options parse, default by profile, and fail with clear messages.
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn plan(args: &[&str]) -> Result<Plan, String> {
        let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.args.plan()
    }

    /// The quick profile picks small volumes and adds the raw baselines of the
    /// workloads asked for.
    #[test]
    fn quick_profile_and_baselines() {
        let p = plan(&["--quick", "--workload", "append,replay"]).unwrap();
        assert_eq!(p.profile, "quick");
        assert_eq!(p.volume_bytes, 32 << 20);
        let names: Vec<&str> = p.workloads.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "raw-direct-write",
                "raw-buffered-write",
                "raw-read-cold",
                "raw-read-warm",
                "append",
                "replay"
            ]
        );
        let full = plan(&[]).unwrap();
        assert_eq!(full.engine.shard_counts, [1, 2, 4, 8, 16]);
        assert!(!full.workloads.iter().any(|k| k.is_http()));
    }

    /// The sustained profile writes 16 GiB per run over 1 and 16 shards, appends
    /// and the scale case, both write baselines; a volume given still wins.
    #[test]
    fn sustained_profile_defaults_and_overrides() {
        let p = plan(&["--sustained"]).unwrap();
        assert_eq!(p.profile, "sustained");
        assert_eq!(p.volume_bytes, 16 << 30);
        assert_eq!(p.engine.shard_counts, [1, 16]);
        assert_eq!(p.engine.scale_shards, 1000);
        assert_eq!(p.engine.backends.len(), 2);
        let names: Vec<&str> = p.workloads.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            ["raw-direct-write", "raw-buffered-write", "append", "scale"]
        );
        let small = plan(&["--sustained", "--volume", "8", "--workload", "append"]).unwrap();
        assert_eq!(small.volume_bytes, 8 << 20);
        assert!(!small.workloads.contains(&WorkloadKind::Scale));
        assert!(plan(&["--sustained", "--quick"]).is_err());
    }

    /// Each bad option gets an error naming it.
    #[test]
    fn bad_options_are_named() {
        let cases: [(&[&str], &str); 11] = [
            (&["--workload", "nosuch"], "unknown workload 'nosuch'"),
            (&["--duration", "0"], "--duration must be more than 0"),
            (&["--duration", "-1"], "--duration must be more than 0"),
            (&["--rate", "0"], "--rate must be a positive"),
            (&["--rate", "fast"], "invalid value 'fast'"),
            (
                &["--batch-records", "501"],
                "--batch-records must be between 1 and 500",
            ),
            (&["--durability", "maybe"], "--durability must be sync"),
            (&["--workload", "http-append"], "needs --url"),
            (&["--url", "ftp://x"], "--url must start with http://"),
            (
                &[
                    "--url",
                    "http://x",
                    "--wire",
                    "cbor",
                    "--workload",
                    "http-e2e",
                ],
                "--wire cbor runs http-append and http-replay only",
            ),
            (
                &["--scale-shards", "10001"],
                "--scale-shards must be between 1 and 10000",
            ),
        ];
        for (args, wanted) in cases {
            let error = plan(args).unwrap_err();
            assert!(error.contains(wanted), "{args:?}: {error}");
        }
    }

    /// A directory under a file cannot be created, and says so.
    #[test]
    fn unwritable_dir_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let error = check_dir_writable(&file.join("sub")).unwrap_err();
        assert!(error.contains("is not writable"), "{error}");
        check_dir_writable(&dir.path().join("fresh")).unwrap();
    }

    /// `--backend auto` runs the backend a storage would choose here, named as such
    /// (never "auto"), beside explicit ones; an unknown name is refused.
    #[test]
    fn backend_auto_resolves_to_a_concrete_backend() {
        let p = plan(&["--backend", "auto,buffered"]).unwrap();
        let chosen = shardlog_segment::backend::choose(
            shardlog_segment::io::RealFs::shared().as_ref(),
            None,
        )
        .backend
        .kind();
        assert_eq!(p.engine.backends, [chosen, BackendKind::Buffered]);
        assert_ne!(chosen, BackendKind::Auto);
        let error = plan(&["--backend", "fast"]).unwrap_err();
        assert!(error.contains("auto, buffered or io_uring"), "{error}");
    }
}
