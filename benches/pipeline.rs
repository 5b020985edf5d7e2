//! `cargo bench`: eksaudit's hot path against a bare baseline, measured in the same run.
//!
//! Input: 800 gzip CloudWatch Logs subscription envelopes (what a Kinesis record holds) of
//! 50 audit events each (40,000 events of about 2.8 KiB, 113 MB of JSON in 7.4 MB of gzip),
//! written by `../shared/tools/gen_envelopes.py` from Falco's upstream k8s-audit traces
//! (`$EKSAUDIT_BENCH_INPUT` names another file of gzip members back to back).
//!
//! * `baseline`: gunzip each record, parse the envelope into a `serde_json::Value`, and
//!   parse each message into a `serde_json::Value`: the least any DOM-based consumer does.
//! * `decode_extract`: eksaudit decodes each record into events (gunzip, envelope,
//!   validation, compaction, annotations) and extracts the ~30 fields the upstream
//!   k8saudit rules read, for every event.
//! * `decode_rules`: the whole pipeline on one core: decode, evaluate Falco's upstream
//!   k8s_audit_rules.yaml 0.18.0 (first match, as Falco does) and render every alert as
//!   Falco's json_output line.
//!
//! * `parallel_decode`: two shards' worth of records (the input split in two) decoded and
//!   extracted on two threads, each with its own `Decoder`, against the same on one thread.
//! * `plugin_abi`: the plugin as Falco runs it: the built `libeksaudit.so` loaded with
//!   `dlopen`, the input replayed with `file://` through `next_batch` (by
//!   `falco_plugin_runner`), and the plugin's `ka.*` rule fields extracted through
//!   `plugin_extract_fields`, one per call as libsinsp asks; against `file_extract_ka`,
//!   the same file decoded (the same path: file, gzip members, envelopes) and the same
//!   fields extracted in-process, and `decode_extract_ka`, the same from in-memory records.
//!
//! After criterion's own report, interleaved rounds of every benchmark (each round runs
//! each once, in turn) give the fastest wall time and mean CPU time of each, and for the
//! two comparisons that are ratios of neighbours, two shards against one thread and the
//! plugin against the same file in-process, the ratio of each round's pair: a slow minute
//! of a shared machine slows both members of a pair. `EKSAUDIT_BENCH_QUICK=1` runs those
//! rounds only, `EKSAUDIT_BENCH_ROUNDS=N` sets their number (10), and
//! `EKSAUDIT_BENCH_ONLY=a,b` keeps the baseline and the benchmarks named.
//! `EKSAUDIT_BENCH_PLUGIN_CONFIG` is the plugin's init config (`{}`).
//!
//! Then the ratio `baseline time / eksaudit time` (higher is
//! better; ≥ 1.0 means eksaudit does more work in less time than a bare DOM parse) and
//! events/s are printed from criterion's estimates.

use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput};
use eksaudit::decode::{DecodeOptions, Decoder, Location};
use eksaudit::fields::{FieldRequest, extract};
use eksaudit::rules::{Alert, Engine, EngineOptions, RulesFile};

#[path = "plugin_abi/mod.rs"]
mod plugin_abi;

/// The fields the upstream k8s_audit_rules.yaml 0.18.0 conditions read.
const RULE_FIELDS: &[&str] = &[
    "jevt.value[/stage]",
    "jevt.rawtime",
    "ka.user.name",
    "ka.target.name",
    "ka.target.resource",
    "ka.target.namespace",
    "ka.target.subresource",
    "ka.response.code",
    "ka.response.reason",
    "ka.auth.reason",
    "ka.auth.decision",
    "ka.verb",
    "ka.uri",
    "ka.uri.param[command]",
    "ka.resp.name",
    "ka.req.configmap.name",
    "ka.req.configmap.obj",
    "ka.req.pod.containers.image",
    "ka.req.pod.containers.image.repository",
    "ka.req.pod.containers.privileged",
    "ka.req.pod.initContainers.privileged",
    "ka.req.pod.ephemeralContainers.privileged",
    "ka.req.pod.volumes.hostpath",
    "ka.req.pod.host_network",
    "ka.req.pod.host_pid",
    "ka.req.pod.host_ipc",
    "ka.req.role.rules",
    "ka.req.role.rules.verbs",
    "ka.req.role.rules.resources",
    "ka.req.binding.subjects",
    "ka.req.binding.role",
    "ka.req.service.type",
    "ka.req.service.ports",
    "jevt.value[/requestObject/spec/volumes]",
    "jevt.value[/requestObject/spec/tls]",
];

/// The rule fields the plugin exports (the `jevt.*` ones are the `json` plugin's).
fn plugin_fields() -> Vec<&'static str> {
    RULE_FIELDS
        .iter()
        .copied()
        .filter(|f| f.starts_with("ka."))
        .collect()
}

/// The alerts the upstream rules raise on the default input (first match).
const EXPECTED_ALERTS: u64 = 25_064;

fn fixtures() -> PathBuf {
    std::env::var_os("EKSAUDIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/upstream")
        })
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The input file and whether it is the default one (whose alert count is known).
fn input_file() -> (PathBuf, bool) {
    if let Some(path) = std::env::var_os("EKSAUDIT_BENCH_INPUT") {
        return (PathBuf::from(path), false);
    }
    let path = target_dir().join("bench-envelopes-800x50.gz");
    if !path.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/gen_envelopes.py");
        let status = std::process::Command::new("python3")
            .arg(&script)
            .arg(fixtures())
            .arg(&path)
            .args(["800", "50"])
            .status()
            .expect("python3 runs gen_envelopes.py");
        assert!(status.success(), "gen_envelopes.py failed");
    }
    (path, true)
}

/// Gzip subscription envelopes, as Kinesis records carry them: the members of the input.
fn records() -> (Vec<Vec<u8>>, u64, bool) {
    let (path, default) = input_file();
    let data = std::fs::read(&path).expect("bench input");
    let mut records = Vec::new();
    let mut rest = &data[..];
    let mut events = 0u64;
    let mut sink = Vec::new();
    while !rest.is_empty() {
        let mut member = flate2::bufread::GzDecoder::new(rest);
        sink.clear();
        member.read_to_end(&mut sink).expect("gzip member");
        let remaining = member.into_inner();
        records.push(rest[..rest.len() - remaining.len()].to_vec());
        let envelope: serde_json::Value = serde_json::from_slice(&sink).unwrap();
        events += envelope["logEvents"].as_array().map_or(0, Vec::len) as u64;
        rest = remaining;
    }
    (records, events, default)
}

fn baseline(records: &[Vec<u8>]) -> usize {
    let mut buf = Vec::new();
    let mut messages = 0;
    for record in records {
        buf.clear();
        flate2::read::MultiGzDecoder::new(&record[..])
            .read_to_end(&mut buf)
            .unwrap();
        let envelope: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        for log_event in envelope["logEvents"].as_array().unwrap() {
            let message = log_event["message"].as_str().unwrap();
            let event: serde_json::Value = serde_json::from_str(message).unwrap();
            messages += black_box(&event).as_object().map_or(0, |_| 1);
        }
    }
    messages
}

/// Decodes every record with one decoder, exactly as the Kinesis source's shard reader
/// does (`push_kinesis_record`: events annotated with shard and sequence number), calling
/// `each` on every event.
fn decode_records(
    records: &[Vec<u8>],
    options: &DecodeOptions,
    mut each: impl FnMut(eksaudit::decode::Decoded),
) {
    let mut decoder = Decoder::new(options.clone());
    let location = Location::new("kinesis");
    let mut sequence = String::new();
    for (n, record) in records.iter().enumerate() {
        use std::fmt::Write as _;
        sequence.clear();
        let _ = write!(sequence, "{:056}", n + 1);
        decoder.push_kinesis_record(record, &location, "shardId-000000000000", &sequence);
        while let Some(item) = decoder.pop() {
            each(item.unwrap());
        }
    }
}

fn decode_extract(
    records: &[Vec<u8>],
    requests: &[FieldRequest],
    options: &DecodeOptions,
) -> usize {
    let mut values = 0;
    decode_records(records, options, |decoded| {
        values += extract_each(&decoded.event.view(), requests);
    });
    values
}

/// Extracts every request from one event; answers how many values came out.
fn extract_each(view: &eksaudit::event::EventView<'_>, requests: &[FieldRequest]) -> usize {
    let mut values = 0;
    for request in requests {
        if let Ok(Some(v)) = extract(view, request.field, request.arg.as_arg()) {
            values += black_box(v).as_slice().len();
        }
    }
    values
}

/// The input file decoded as the plugin's `file://` replay decodes it (`InputDecoder`), and
/// `requests` extracted from every event: the plugin's work without the C ABI.
fn file_extract(path: &Path, requests: &[FieldRequest], options: &DecodeOptions) -> usize {
    let inputs = vec![eksaudit::decode::Input::File(path.to_path_buf())];
    let mut values = 0;
    for item in eksaudit::decode::InputDecoder::new(inputs, options.clone()) {
        let decoded = item.expect("the bench input decodes");
        values += extract_each(&decoded.event.view(), requests);
    }
    values
}

/// `eksaudit forward` to a JSON lines sink, in-process: decode every record and write
/// each event as a line into one reused buffer (the file sink's work before its write).
fn decode_jsonl(records: &[Vec<u8>], options: &DecodeOptions) -> usize {
    let mut out: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut written = 0;
    decode_records(records, options, |decoded| {
        if out.len() > 1 << 20 {
            written += out.len();
            black_box(&out);
            out.clear();
        }
        out.extend_from_slice(decoded.event.payload());
        out.push(b'\n');
    });
    written + out.len()
}

fn upstream_rules() -> Engine {
    let path =
        fixtures().join("plugins-k8saudit-0.18.0/plugins/k8saudit/rules/k8s_audit_rules.yaml");
    let file = RulesFile::from_path(&path).expect("upstream rules");
    let options = EngineOptions {
        hostname: "bench".into(),
        ..EngineOptions::default()
    };
    let (engine, _) = Engine::load(&[file], &options).expect("upstream rules load");
    engine
}

/// Decodes, evaluates and renders alerts; returns (events, alerts, rendered bytes).
fn decode_rules(
    records: &[Vec<u8>],
    engine: &Engine,
    options: &DecodeOptions,
) -> (u64, u64, usize) {
    let mut evaluator = engine.evaluator();
    let mut alerts: Vec<Alert> = Vec::new();
    let mut line = String::with_capacity(4096);
    let (mut events, mut alert_count, mut bytes) = (0, 0, 0);
    decode_records(records, options, |decoded| {
        events += 1;
        alerts.clear();
        evaluator.evaluate(&decoded.event.view(), events, &mut alerts);
        for alert in &alerts {
            alert_count += 1;
            // Rendered into one reused buffer, as a writer does.
            line.clear();
            alert.write_json(&mut line);
            bytes += black_box(&line).len();
        }
    });
    (events, alert_count, bytes)
}

/// Decodes and extracts each half of the records (a shard each) on its own thread.
fn parallel_decode(
    shards: [&[Vec<u8>]; 2],
    requests: &[FieldRequest],
    options: &DecodeOptions,
) -> usize {
    std::thread::scope(|scope| {
        let other = scope.spawn(|| decode_extract(shards[1], requests, options));
        decode_extract(shards[0], requests, options) + other.join().unwrap()
    })
}

fn mean_ns(group: &str, bench: &str) -> Option<f64> {
    let path = target_dir()
        .join("criterion")
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let estimates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

/// `EKSAUDIT_BENCH_RUN=<bench>[:N]`: runs one benchmark N times (default 1) without
/// criterion, for `valgrind --tool=callgrind` or `perf`, printing each run's wall and CPU
/// time. `field_costs` is `decode_extract` with each field in a function of its own
/// (`callgrind --demangle=no` tells them apart; the addresses printed name them).
fn run_once(
    spec: &str,
    records: &[Vec<u8>],
    requests: &[FieldRequest],
    options: &DecodeOptions,
    abi: Option<&plugin_abi::Abi>,
) {
    let (name, times) = spec.split_once(':').unwrap_or((spec, "1"));
    let times: usize = times.parse().expect("EKSAUDIT_BENCH_RUN=<bench>[:N]");
    let engine = (name == "decode_rules").then(upstream_rules);
    for _ in 0..times {
        let (wall, cpu) = timed(|| match name {
            "baseline" => {
                black_box(baseline(records));
            }
            "decode_only" => {
                black_box(decode_extract(records, &[], options));
            }
            "decode_extract" => {
                black_box(decode_extract(records, requests, options));
            }
            "decode_extract_ka" => {
                black_box(decode_extract(records, &plugin_requests(), options));
            }
            "file_extract_ka" => {
                black_box(file_extract(&input_file().0, &plugin_requests(), options));
            }
            "plugin_abi" => {
                let (events, values) = abi.expect("libeksaudit.so next to the bench").replay();
                eprintln!("{events} events, {values} values through the C ABI");
            }
            "field_costs" => field_costs(records, requests, options),
            "decode_rules" => {
                let (events, alerts, bytes) =
                    decode_rules(records, engine.as_ref().unwrap(), options);
                eprintln!("{events} events, {alerts} alerts, {bytes} bytes of alerts");
            }
            other => panic!("unknown bench {other}"),
        });
        eprintln!(
            "{name}: {:.1} ms wall, {:.1} ms cpu",
            wall / 1e6,
            cpu.map_or(f64::NAN, |c| c as f64 / 1e6)
        );
    }
}

/// One field's extraction, as its own function per field slot, so that a profiler
/// (`EKSAUDIT_BENCH_RUN=field_costs` under callgrind) shows each field's cost apart.
#[inline(never)]
fn probe<const SLOT: usize>(
    view: &eksaudit::event::EventView<'_>,
    request: &FieldRequest,
) -> usize {
    // SLOT in the body keeps the 35 copies apart (identical ones would be merged).
    black_box(SLOT);
    match extract(view, request.field, request.arg.as_arg()) {
        Ok(Some(v)) => black_box(v).as_slice().len(),
        _ => 0,
    }
}

type Probe = fn(&eksaudit::event::EventView<'_>, &FieldRequest) -> usize;
const PROBES: [Probe; 35] = [
    probe::<0>,
    probe::<1>,
    probe::<2>,
    probe::<3>,
    probe::<4>,
    probe::<5>,
    probe::<6>,
    probe::<7>,
    probe::<8>,
    probe::<9>,
    probe::<10>,
    probe::<11>,
    probe::<12>,
    probe::<13>,
    probe::<14>,
    probe::<15>,
    probe::<16>,
    probe::<17>,
    probe::<18>,
    probe::<19>,
    probe::<20>,
    probe::<21>,
    probe::<22>,
    probe::<23>,
    probe::<24>,
    probe::<25>,
    probe::<26>,
    probe::<27>,
    probe::<28>,
    probe::<29>,
    probe::<30>,
    probe::<31>,
    probe::<32>,
    probe::<33>,
    probe::<34>,
];

/// `decode_extract` with every field through its own [`probe`] (slot = its place in
/// `RULE_FIELDS`): for callgrind's per-function costs.
fn field_costs(records: &[Vec<u8>], requests: &[FieldRequest], options: &DecodeOptions) {
    // Each slot's address, to name the (hash-mangled) probe symbols: `nm` gives theirs.
    let base = field_costs as fn(&[Vec<u8>], &[FieldRequest], &DecodeOptions) as usize;
    for (slot, probe) in PROBES.iter().enumerate() {
        let offset = *probe as usize as isize - base as isize;
        eprintln!(
            "probe {slot:2} at field_costs{offset:+}: {}",
            RULE_FIELDS[slot]
        );
    }
    let mut values = 0;
    decode_records(records, options, |decoded| {
        let view = decoded.event.view();
        for (request, probe) in requests.iter().zip(PROBES) {
            values += probe(&view, request);
        }
    });
    black_box(values);
}

/// CPU time this thread has run, in ns (`/proc/thread-self/schedstat`), when available.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Runs `run` once: its wall time and the CPU time this thread spent in it, in ns.
fn timed(run: impl FnOnce()) -> (f64, Option<u64>) {
    let before = thread_cpu_ns();
    let started = std::time::Instant::now();
    run();
    let wall = started.elapsed().as_nanos() as f64;
    (wall, thread_cpu_ns().zip(before).map(|(a, b)| a - b))
}

/// Every round's wall time of each benchmark, and its mean CPU time.
struct Rounds {
    names: Vec<&'static str>,
    wall: Vec<Vec<f64>>,
    cpu: Vec<Option<f64>>,
}

impl Rounds {
    fn at(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| *n == name)
    }

    fn fastest(&self, k: usize) -> f64 {
        self.wall[k].iter().copied().fold(f64::MAX, f64::min)
    }

    /// Benchmark `a`'s time over `b`'s, round by round (the two ran next to each other in
    /// each round, so a slow minute of the machine slows both): sorted.
    fn paired(&self, a: usize, b: usize) -> Vec<f64> {
        let mut ratios: Vec<f64> = self.wall[a]
            .iter()
            .zip(&self.wall[b])
            .map(|(a, b)| a / b)
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios
    }
}

fn median(sorted: &[f64]) -> f64 {
    sorted[sorted.len() / 2]
}

/// Interleaved rounds of each benchmark, every round's wall time and the mean CPU time
/// of each. On a shared machine, where other processes take the core away for whole
/// benchmarks at a time, the fastest rounds and ratios of neighbouring runs are steadier
/// than criterion's means.
fn interleaved(runs: &[(&'static str, &dyn Fn())], rounds: usize) -> Rounds {
    let mut wall = vec![Vec::with_capacity(rounds); runs.len()];
    let mut cpu = vec![Some(0u64); runs.len()];
    for _ in 0..rounds {
        for (k, (_, run)) in runs.iter().enumerate() {
            let (run_wall, run_cpu) = timed(run);
            wall[k].push(run_wall);
            cpu[k] = cpu[k].zip(run_cpu).map(|(sum, c)| sum + c);
        }
    }
    Rounds {
        names: runs.iter().map(|(name, _)| *name).collect(),
        wall,
        cpu: cpu
            .into_iter()
            .map(|c| c.map(|c| c as f64 / rounds as f64))
            .collect(),
    }
}

fn plugin_requests() -> Vec<FieldRequest> {
    plugin_fields()
        .iter()
        .map(|f| FieldRequest::parse(f).unwrap())
        .collect()
}

fn main() {
    let (records, events, default_input) = records();
    let abi = plugin_abi::Abi::load(&input_file().0, &plugin_fields());
    let ka_requests = plugin_requests();
    let bytes: usize = records.iter().map(Vec::len).sum();
    let requests: Vec<FieldRequest> = RULE_FIELDS
        .iter()
        .map(|f| FieldRequest::parse(f).unwrap())
        .collect();
    let options = DecodeOptions::default();
    if let Some(spec) = std::env::var_os("EKSAUDIT_BENCH_RUN") {
        return run_once(
            &spec.to_string_lossy(),
            &records,
            &requests,
            &options,
            abi.as_ref(),
        );
    }
    assert!(decode_extract(&records, &requests, &options) > 0);

    // EKSAUDIT_BENCH_QUICK: only the interleaved rounds, not criterion's runs.
    let quick = std::env::var_os("EKSAUDIT_BENCH_QUICK").is_some();
    let mut criterion = Criterion::default().configure_from_args();
    let group_name = "pipeline";
    let mut group = criterion.benchmark_group(group_name);
    group.throughput(Throughput::Elements(events));
    if !quick {
        group.bench_function("baseline", |b| b.iter(|| baseline(black_box(&records))));
    }
    if !quick && std::env::var_os("EKSAUDIT_BENCH_PHASES").is_some() {
        group.bench_function("decode_only", |b| {
            b.iter(|| decode_extract(black_box(&records), &[], &options))
        });
    }
    if !quick {
        group.bench_function("decode_extract", |b| {
            b.iter(|| decode_extract(black_box(&records), &requests, &options))
        });
    }
    let engine = upstream_rules();
    let (decoded, alerts, _) = decode_rules(&records, &engine, &options);
    assert_eq!(decoded, events, "every event decodes");
    if default_input {
        assert_eq!(
            alerts, EXPECTED_ALERTS,
            "the upstream rules' alert count moved"
        );
    }
    if let Some(abi) = &abi {
        assert_eq!(abi.replay().0, events, "the plugin replays every event");
    }
    let (first, second) = records.split_at(records.len() / 2);
    if !quick {
        group.bench_function("decode_rules", |b| {
            b.iter(|| decode_rules(black_box(&records), &engine, &options))
        });
        group.bench_function("parallel_decode", |b| {
            b.iter(|| parallel_decode([black_box(first), black_box(second)], &requests, &options))
        });
        if let Some(abi) = &abi {
            group.bench_function("decode_extract_ka", |b| {
                b.iter(|| decode_extract(black_box(&records), &ka_requests, &options))
            });
            group.bench_function("plugin_abi", |b| b.iter(|| abi.replay()));
            let path = input_file().0;
            group.bench_function("file_extract_ka", |b| {
                b.iter(|| file_extract(black_box(&path), &ka_requests, &options))
            });
        }
    }
    group.finish();
    criterion.final_summary();

    let per_sec = |ns: f64| events as f64 / (ns / 1e9);
    println!();
    println!(
        "input: {} gzip envelopes, {events} events, {bytes} compressed bytes; \
         the upstream rules raise {alerts} alerts",
        records.len()
    );
    let single: [(&'static str, &dyn Fn()); 5] = [
        ("baseline", &|| {
            black_box(baseline(&records));
        }),
        ("decode_jsonl", &|| {
            black_box(decode_jsonl(&records, &options));
        }),
        ("decode_extract", &|| {
            black_box(decode_extract(&records, &requests, &options));
        }),
        ("parallel_decode", &|| {
            black_box(parallel_decode([first, second], &requests, &options));
        }),
        ("decode_rules", &|| {
            black_box(decode_rules(&records, &engine, &options));
        }),
    ];
    let in_process_ka = || {
        black_box(decode_extract(&records, &ka_requests, &options));
    };
    let input_path = input_file().0;
    let in_process_file_ka = || {
        black_box(file_extract(&input_path, &ka_requests, &options));
    };
    let through_abi = || {
        if let Some(abi) = &abi {
            black_box(abi.replay());
        }
    };
    let mut runs = single.to_vec();
    if abi.is_some() {
        runs.push(("decode_extract_ka", &in_process_ka));
        runs.push(("plugin_abi", &through_abi));
        runs.push(("file_extract_ka", &in_process_file_ka));
    }
    // EKSAUDIT_BENCH_ONLY=a,b: the baseline and these only.
    if let Ok(only) = std::env::var("EKSAUDIT_BENCH_ONLY") {
        let only: Vec<&str> = only.split(',').collect();
        runs.retain(|(name, _)| *name == "baseline" || only.contains(name));
    }
    let rounds = std::env::var("EKSAUDIT_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10)
        .max(1);
    let measured = interleaved(&runs, rounds);
    println!("interleaved, {rounds} rounds (fastest wall time; mean CPU time):");
    let base_wall = measured.fastest(0);
    let base_cpu = measured.cpu[0];
    for (k, name) in measured.names.iter().enumerate() {
        if *name == "parallel_decode" {
            continue;
        }
        let wall = measured.fastest(k);
        let cpu_ratio = match (base_cpu, measured.cpu[k]) {
            (Some(b), Some(c)) => format!("  cpu {:>8.1} ms  ratio {:.2}x", c / 1e6, b / c),
            _ => String::new(),
        };
        println!(
            "  {name:<16} {:>8.1} ms {:>10.0} events/s  ratio {:.2}x{cpu_ratio}",
            wall / 1e6,
            per_sec(wall),
            base_wall / wall
        );
    }
    let summary = |ratios: &[f64]| {
        format!(
            "median {:.2}x, rounds {:.2}-{:.2}x",
            median(ratios),
            ratios[0],
            ratios[ratios.len() - 1]
        )
    };
    if let (Some(one), Some(two)) = (
        measured.at("decode_extract"),
        measured.at("parallel_decode"),
    ) {
        let paired = measured.paired(one, two);
        println!(
            "  two shards on 2 threads vs one thread (decode + extract): {:.2}x fastest wall; \
             each round's pair: {}",
            measured.fastest(one) / measured.fastest(two),
            summary(&paired)
        );
    }
    if let (Some(abi_at), Some(file)) = (measured.at("plugin_abi"), measured.at("file_extract_ka"))
    {
        let paired = measured.paired(abi_at, file);
        let memory = measured
            .at("decode_extract_ka")
            .map_or(String::new(), |memory| {
                format!(
                    ", {:.2}x in-memory records",
                    measured.fastest(abi_at) / measured.fastest(memory)
                )
            });
        println!(
            "  plugin through the C ABI vs in-process, same {} ka.* fields: {:.2}x the same \
             file decoded in-process (fastest wall; each round's pair: {}){memory}",
            plugin_fields().len(),
            measured.fastest(abi_at) / measured.fastest(file),
            summary(&paired),
        );
    }
    let Some(base) = mean_ns(group_name, "baseline").filter(|_| !quick) else {
        return;
    };
    let baseline = "baseline (gunzip + serde_json::Value of envelope and messages)";
    println!("{baseline:<62} {:>10.0} events/s", per_sec(base));
    let benches = [
        (
            "decode_extract",
            format!(
                "eksaudit decode + extract {} rule fields",
                RULE_FIELDS.len()
            ),
        ),
        (
            "decode_rules",
            "eksaudit decode + upstream 0.18.0 rules + JSON alerts".to_string(),
        ),
        (
            "parallel_decode",
            "eksaudit decode + extract, two shards on 2 threads".to_string(),
        ),
    ];
    for (bench, what) in benches {
        if let Some(ours) = mean_ns(group_name, bench) {
            println!(
                "{what:<62} {:>10.0} events/s  ratio {:.2}x",
                per_sec(ours),
                base / ours
            );
        }
    }
    if let (Some(one), Some(two)) = (
        mean_ns(group_name, "decode_extract"),
        mean_ns(group_name, "parallel_decode"),
    ) {
        println!("two threads vs one (decode + extract): {:.2}x", one / two);
    }
    if let (Some(in_process), Some(file), Some(abi)) = (
        mean_ns(group_name, "decode_extract_ka"),
        mean_ns(group_name, "file_extract_ka"),
        mean_ns(group_name, "plugin_abi"),
    ) {
        println!(
            "plugin next_batch + {} ka.* fields through the C ABI: {:>10.0} events/s, \
             {:.2}x the in-process cost of the same file, {:.2}x of in-memory records",
            plugin_fields().len(),
            per_sec(abi),
            abi / file,
            abi / in_process
        );
    }
}
