//! A whole `shardlog bench` run: check the options, probe the machine, measure
//! every selected case, print the table, write the JSON and HTML.

use crate::cli::{check_dir_writable, BenchArgs, Plan};
use crate::machine::Machine;
use crate::report_json::{Report, Settings, FORMAT_VERSION};
use crate::workloads::http::{http_cases, Connector, Endpoint, HttpSettings};
use crate::workloads::http::{KinesisConnector, SqsConnector};
use crate::workloads::moto::Moto;
use crate::workloads::{apply_ratios, cases_for_plan, queue_memory, run_case, RunnerConfig};
use crate::workloads::{sns, sqs, WorkloadKind};
use crate::{compare, report_html, table};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Runs `shardlog bench` with `args`; `connector` makes the Kinesis HTTP client
/// for `--url` in the `--wire` asked for, `sqs_connector` the SQS one and
/// `sns_connector` the SNS one (for `--url` and moto).
pub fn run(
    args: BenchArgs,
    connector: KinesisConnector<'_>,
    sqs_connector: SqsConnector<'_>,
    sns_connector: Connector<'_>,
) -> Result<(), String> {
    if !args.compare.is_empty() {
        return run_compare(&args.compare[0], &args.compare[1]);
    }
    let plan = args.plan()?;
    if let Some(phase) = &args.queue_memory_phase {
        return queue_memory::run_phase(&plan.queue_memory, &plan.dir, phase);
    }
    let kinesis = plan
        .url
        .as_deref()
        .map(|url| connector(url, plan.wire))
        .transpose()?;
    if let (Some(kinesis), Some(url)) = (&kinesis, &plan.url) {
        // Fail before minutes of local measuring, not after them.
        (kinesis.call)("ListStreams", &serde_json::json!({"Limit": 1}))
            .map_err(|e| format!("--url {url} does not answer the Kinesis API: {e}"))?;
    }
    let created_dir = !plan.dir.exists();
    check_dir_writable(&plan.dir)?;
    for path in [&args.json, &args.report].into_iter().flatten() {
        check_output_writable(path)?;
    }
    let root = plan
        .dir
        .join(format!("shardlog-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let sqs = sqs_endpoints(&plan, sqs_connector, sns_connector)?;
    let outcome = measure(&args, &plan, &root, kinesis, sqs);
    let cleanup =
        std::fs::remove_dir_all(&root).map_err(|e| format!("removing {}: {e}", root.display()));
    if created_dir {
        // Only the directory this run created, and only if nothing else is in it.
        let _ = std::fs::remove_dir(&plan.dir);
    }
    let report = outcome?;
    cleanup?;
    if let Some(path) = &args.json {
        report.write(path)?;
        println!("JSON written to {}", path.display());
    }
    if let Some(path) = &args.report {
        std::fs::write(path, report_html::render(&report))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("HTML report written to {}", path.display());
    }
    Ok(())
}

/// The SQS and SNS endpoints of the run: `--url`'s, and moto's (started here)
/// with `--compare-moto`; none without SQS or SNS workloads.
fn sqs_endpoints(
    plan: &Plan,
    sqs_connector: SqsConnector<'_>,
    sns_connector: Connector<'_>,
) -> Result<SqsEndpoints, String> {
    let wants_sqs = plan.workloads.iter().any(|k| k.is_sqs());
    let wants_sns = plan.workloads.iter().any(|k| k.is_sns());
    let (Some(url), true) = (&plan.url, wants_sqs || wants_sns) else {
        return Ok(SqsEndpoints::default());
    };
    let clients = |url: &str| -> Result<Clients, String> {
        let sqs = sqs_connector(url)?;
        let sns = match wants_sns {
            true => Some((sns_connector(url)?, sqs_connector(url)?.call)),
            false => None,
        };
        Ok(Clients { sqs, sns })
    };
    let shardlog = clients(url)?;
    (shardlog.sqs.call)("ListQueues", &serde_json::json!({}))
        .map_err(|e| format!("--url {url} does not answer the SQS API: {e}"))?;
    if let Some((sns, _)) = &shardlog.sns {
        sns("ListTopics", &serde_json::json!({}))
            .map_err(|e| format!("--url {url} does not answer the SNS API: {e}"))?;
    }
    let moto = if plan.compare_moto {
        let moto = Moto::start()?;
        let clients = clients(&moto.url)?;
        Some((moto, clients))
    } else {
        None
    };
    Ok(SqsEndpoints {
        shardlog: Some(shardlog),
        moto,
    })
}

/// The clients of one endpoint: SQS (calls in JSON terms, and raw ones for the
/// message loops), and SNS with its own SQS client (for the SNS cases' queues)
/// when SNS workloads run.
struct Clients {
    sqs: Endpoint,
    sns: Option<(
        Box<crate::workloads::http::Call>,
        Box<crate::workloads::http::Call>,
    )>,
}

/// Where the SQS and SNS cases send their requests.
#[derive(Default)]
struct SqsEndpoints {
    shardlog: Option<Clients>,
    /// moto's server (stopped when dropped) and clients of it.
    moto: Option<(Moto, Clients)>,
}

/// The SQS and SNS cases of the plan against one endpoint's `clients`.
fn service_cases<'a>(
    plan: &Plan,
    clients: Clients,
    label: &str,
) -> Vec<crate::workloads::Case<'a>> {
    let endpoint = Arc::new(clients.sqs);
    let mut cases = sqs::sqs_cases(&plan.workloads, endpoint, label, plan.sqs);
    if let Some((sns, sqs)) = clients.sns {
        cases.extend(sns::sns_cases(
            &plan.workloads,
            Arc::new(sns),
            Arc::new(sqs),
            label,
            &plan.sns,
        ));
    }
    cases
}

fn run_compare(a: &Path, b: &Path) -> Result<(), String> {
    let (a, b) = (Report::read(a)?, Report::read(b)?);
    print!("{}", compare::render(&a, &b));
    Ok(())
}

/// Fails early, before minutes of measuring, if an output file cannot be written.
fn check_output_writable(path: &Path) -> Result<(), String> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn measure(
    args: &BenchArgs,
    plan: &Plan,
    root: &Path,
    kinesis: Option<Endpoint>,
    sqs: SqsEndpoints,
) -> Result<Report, String> {
    let started = Instant::now();
    let started_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let machine = Machine::probe(&plan.dir);
    println!("shardlog bench, {} profile", plan.profile);
    println!("machine: {}", machine.summary());
    println!(
        "each case: warm-up up to {:.1} s, then {} runs of up to {:.1} s or {} MiB; data under {}",
        plan.warmup.as_secs_f64(),
        plan.repetitions,
        plan.duration.as_secs_f64(),
        plan.volume_bytes >> 20,
        root.display()
    );
    let config = RunnerConfig {
        budget: crate::workloads::Budget {
            volume_bytes: plan.volume_bytes,
            duration: plan.duration,
        },
        repetitions: plan.repetitions,
        warmup: plan.warmup,
        progress: !args.no_progress && std::io::stderr().is_terminal(),
    };
    let mut results = run_cases(plan, root, kinesis, sqs, &config)?;
    apply_ratios(&mut results);
    if !results.is_empty() {
        println!("{}", table::render(&results));
    }
    if plan.compare_moto {
        println!("{}", sqs::moto_ratios(&results));
    }
    if let Some(line) = crate::workloads::sqs_engine::backlog_ratio(&results) {
        println!("{line}");
    }
    let queue_memory = if plan.workloads.contains(&WorkloadKind::QueueMemory) {
        let report = queue_memory::run(&plan.queue_memory, root, &args.durability)?;
        println!("{}", queue_memory::render(&report));
        Some(report)
    } else {
        None
    };
    Ok(Report {
        tool: "shardlog bench".into(),
        format_version: FORMAT_VERSION,
        version: env!("CARGO_PKG_VERSION").into(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        started_unix_s,
        wall_s: started.elapsed().as_secs_f64(),
        machine,
        settings: settings_of(plan),
        results,
        queue_memory,
    })
}

/// The settings as the JSON records them.
fn settings_of(plan: &Plan) -> Settings {
    Settings {
        profile: plan.profile.into(),
        duration_s: plan.duration.as_secs_f64(),
        volume_bytes: plan.volume_bytes,
        repetitions: plan.repetitions,
        warmup_s: plan.warmup.as_secs_f64(),
        workloads: plan
            .workloads
            .iter()
            .map(|k| k.name().to_string())
            .collect(),
        url: plan.url.clone(),
    }
}

/// Builds every case of the plan and measures them in order.
fn run_cases(
    plan: &Plan,
    root: &Path,
    kinesis: Option<Endpoint>,
    sqs: SqsEndpoints,
    config: &RunnerConfig,
) -> Result<Vec<crate::workloads::BenchResult>, String> {
    let mut results = Vec::new();
    // The cases own the engines and files of the run; they are dropped (shut
    // down, deleted) when this returns, before the run directory is removed.
    let mut cases = cases_for_plan(plan, root);
    if let Some(kinesis) = kinesis {
        let http = HttpSettings {
            seek_lookups: plan.seek_lookups,
            e2e_rate: plan.e2e_rate,
            wire: plan.wire,
        };
        cases.extend(http_cases(&plan.workloads, kinesis, &plan.engine, http));
    }
    // moto (if asked for) stays up until the cases have run.
    let SqsEndpoints { shardlog, moto } = sqs;
    if let Some(clients) = shardlog {
        cases.extend(service_cases(plan, clients, "shardlog"));
    }
    let _moto = moto.map(|(moto, clients)| {
        cases.extend(service_cases(plan, clients, "moto"));
        moto
    });
    let per_case = plan.warmup + plan.duration * plan.repetitions as u32;
    println!(
        "{} cases: at most about {:.0} s of measuring, plus filling and cache work\n",
        cases.len(),
        (per_case * cases.len() as u32).as_secs_f64()
    );
    for case in cases.iter_mut() {
        let result = run_case(case, config)?;
        eprintln!(
            "done: {:<42} {:>8} MB/s {:>10} rec/s",
            result.name,
            table::number(result.mb_per_s, 0),
            table::number(result.records_per_s, 0)
        );
        results.push(result);
    }
    Ok(results)
}
