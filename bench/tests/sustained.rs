//! A `--sustained` run shrunk to a few MiB measures what the sustained profile
//! exists for: appends and the scale case against the faster raw write, with the
//! core-seconds per GB and the cost of an idle shard in the JSON.

use shardlog_bench::cli::BenchArgs;
use shardlog_bench::report_json::Report;

/// The sustained profile's workloads run end to end and report their figures.
#[test]
fn small_sustained_run_reports_ratios_cpu_and_idle_shards() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let args = BenchArgs {
        dir: dir.path().join("data"),
        sustained: true,
        volume: Some(4),
        repetitions: Some(1),
        shards: vec![1, 4],
        scale_shards: Some(40),
        backend: vec!["buffered".into()],
        record_bytes: 1024,
        batch_records: 100,
        durability: "sync".into(),
        json: Some(json.clone()),
        no_progress: true,
        ..BenchArgs::default()
    };
    let no_url: shardlog_bench::workloads::http::Connector<'_> =
        &|_| Err("no --url in this test".into());
    let no_kinesis: shardlog_bench::workloads::http::KinesisConnector<'_> =
        &|_, _| Err("no --url in this test".into());
    let no_sqs: shardlog_bench::workloads::http::SqsConnector<'_> =
        &|_| Err("no --url in this test".into());
    shardlog_bench::run(args, no_kinesis, no_sqs, no_url).unwrap();
    let report = Report::read(&json).unwrap();
    assert_eq!(report.settings.profile, "sustained");
    let names: Vec<&str> = report.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(report.results.len(), 5, "{names:?}");
    for result in report.results.iter().filter(|r| r.params.shards.is_some()) {
        assert!(result.ratio_to_raw.is_some_and(|r| r > 0.0), "{result:?}");
        let raw = result.raw_baseline_mb_per_s.unwrap();
        let faster = report
            .results
            .iter()
            .filter(|r| r.params.shards.is_none())
            .filter_map(|r| r.mb_per_s)
            .fold(0.0, f64::max);
        assert_eq!(raw, faster, "{}", result.name);
        assert!(result.core_s_per_gb.is_some_and(|c| c > 0.0), "{result:?}");
    }
    let scale = report
        .results
        .iter()
        .find(|r| r.workload == "scale")
        .unwrap();
    let idle = scale.idle_shard.unwrap();
    assert!(idle.open_files >= 1.0, "{idle:?}");
    assert_eq!(scale.params.shards, Some(40));
}
