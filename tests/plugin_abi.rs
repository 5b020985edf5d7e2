//! The built `libeksaudit.so`, loaded with `dlopen` and driven through its C ABI the way
//! Falco drives it: `falco_plugin_runner` for captures and extraction, direct calls to
//! the exported `plugin_*` functions for the paths the runner hides (init and open
//! errors, `get_last_error`, the raw `next_batch` contract).
//!
//! This test binary deliberately does not link the `eksaudit` crate, so the only plugin
//! code in the process is the shared library under test (in-process values, to compare
//! with, come from running the `eksaudit` binary).

use std::ffi::{CStr, CString, c_char};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use falco_plugin::api::{
    plugin_api, ss_instance_t, ss_plugin_event, ss_plugin_init_input, ss_plugin_owner_t,
    ss_plugin_rc, ss_plugin_t,
};
use falco_plugin_runner::{
    CapturingPluginRunner, Event, ExtractedField, MetricValue, PluginRunner, ScapStatus,
};
use libloading::Library;

#[path = "aws/support.rs"]
#[allow(
    dead_code,
    reason = "shared with the aws tests; this binary uses a part"
)]
mod aws_support;
#[path = "plugin_abi_cloudwatch.rs"]
mod cloudwatch;
#[path = "fixture_paths.rs"]
mod fixture_paths;
#[path = "hostile_corpus.rs"]
mod hostile_corpus;
#[path = "plugin_abi_kinesis.rs"]
mod kinesis;
use fixture_paths::{fixtures, trace_files};
use serde_json::{Map, Value};

/// A file of the project's own test data, by its path in the repository.
fn own(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The project's own EKS-shaped inputs, one per format the plugin reads, with the events
/// and input errors each holds: the bundled samples (CloudWatch subscription envelopes
/// after a control message), one audit event as a JSON line, an `EventList` document, and
/// a JSON document that is not an audit event.
const OWN_INPUTS: [(&str, usize, u64); 4] = [
    ("rules/samples/eks-audit-envelopes.jsonl", 17, 0),
    ("tests/data/events/privileged-pod.json", 1, 0),
    ("tests/data/events/eventlist.json", 3, 0),
    ("tests/data/events/not-an-event.json", 0, 1),
];

const SUCCESS: ss_plugin_rc = 0;
const EOF: ss_plugin_rc = 2;

/// `cargo test` leaves the cdylib next to the test binary in `target/<profile>/deps`.
fn so_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps directory");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        let candidate = dir.join("libeksaudit.so");
        if candidate.exists() {
            return candidate;
        }
    }
    panic!("libeksaudit.so not found next to {}", exe.display());
}

fn library() -> &'static Library {
    static LIB: OnceLock<&'static Library> = OnceLock::new();
    LIB.get_or_init(|| {
        let lib = unsafe { Library::new(so_path()) }.expect("dlopen libeksaudit.so");
        Box::leak(Box::new(lib))
    })
}

fn sym<T: Copy>(name: &str) -> T {
    let name = CString::new(name).unwrap();
    unsafe {
        *library()
            .get::<T>(name.as_bytes_with_nul())
            .unwrap_or_else(|e| panic!("{name:?}: {e}"))
    }
}

/// Open params handed to the plugin by the `open` shim (the runner always passes NULL).
/// Tests that capture hold [`serial`] so they never race on it.
static OPEN_PARAMS: Mutex<Option<CString>> = Mutex::new(None);

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

type OpenFn = unsafe extern "C-unwind" fn(
    *mut ss_plugin_t,
    *const c_char,
    *mut ss_plugin_rc,
) -> *mut ss_instance_t;

unsafe extern "C-unwind" fn open_shim(
    s: *mut ss_plugin_t,
    _params: *const c_char,
    rc: *mut ss_plugin_rc,
) -> *mut ss_instance_t {
    let params = OPEN_PARAMS.lock().unwrap().clone().unwrap_or_default();
    let open: OpenFn = sym("plugin_open");
    unsafe { open(s, params.as_ptr(), rc) }
}

/// The plugin's vtable, filled from the library's exported symbols.
fn api() -> &'static plugin_api {
    static API: OnceLock<&'static plugin_api> = OnceLock::new();
    API.get_or_init(|| {
        let mut api: plugin_api = unsafe { std::mem::zeroed() };
        api.get_required_api_version = Some(sym("plugin_get_required_api_version"));
        api.get_version = Some(sym("plugin_get_version"));
        api.get_name = Some(sym("plugin_get_name"));
        api.get_description = Some(sym("plugin_get_description"));
        api.get_contact = Some(sym("plugin_get_contact"));
        api.get_init_schema = Some(sym("plugin_get_init_schema"));
        api.init = Some(sym("plugin_init"));
        api.destroy = Some(sym("plugin_destroy"));
        api.get_last_error = Some(sym("plugin_get_last_error"));
        api.set_config = Some(sym("plugin_set_config"));
        api.get_metrics = Some(sym("plugin_get_metrics"));
        let source = &mut api.__bindgen_anon_1;
        source.get_id = Some(sym("plugin_get_id"));
        source.get_event_source = Some(sym("plugin_get_event_source"));
        source.open = Some(open_shim);
        source.close = Some(sym("plugin_close"));
        source.list_open_params = Some(sym("plugin_list_open_params"));
        source.get_progress = Some(sym("plugin_get_progress"));
        source.event_to_string = Some(sym("plugin_event_to_string"));
        source.next_batch = Some(sym("plugin_next_batch"));
        let extract = &mut api.__bindgen_anon_2;
        extract.get_extract_event_sources = Some(sym("plugin_get_extract_event_sources"));
        extract.get_extract_event_types = Some(sym("plugin_get_extract_event_types"));
        extract.get_fields = Some(sym("plugin_get_fields"));
        extract.extract_fields = Some(sym("plugin_extract_fields"));
        Box::leak(Box::new(api))
    })
}

fn c_text(f: unsafe extern "C-unwind" fn() -> *const c_char) -> String {
    unsafe { CStr::from_ptr(f()) }
        .to_string_lossy()
        .into_owned()
}

/// The fields the plugin declares, from `plugin_get_fields`.
fn declared_fields() -> Vec<Value> {
    let get_fields = api().__bindgen_anon_2.get_fields.unwrap();
    serde_json::from_str(&c_text(get_fields)).expect("get_fields is JSON")
}

fn capture(config: &str, params: &str) -> CapturingPluginRunner {
    *OPEN_PARAMS.lock().unwrap() = Some(CString::new(params).unwrap());
    let mut runner = PluginRunner::new();
    runner
        .register_plugin(api(), &CString::new(config).unwrap())
        .expect("plugin init");
    runner.start_capture().expect("open")
}

fn status(e: &anyhow::Error) -> Option<ScapStatus> {
    e.downcast_ref::<ScapStatus>().copied()
}

/// The capture's next event, `None` at its end; timeouts (a batch of nothing but errors:
/// Falco calls again) are waited out, and any other failure fails the test, naming `what`.
fn next_or_end(runner: &mut CapturingPluginRunner, what: &dyn std::fmt::Display) -> Option<Event> {
    loop {
        match runner.next_event() {
            Ok(event) => return Some(event),
            Err(e) if status(&e) == Some(ScapStatus::Eof) => return None,
            Err(e) if status(&e) == Some(ScapStatus::Timeout) => {}
            Err(e) => panic!("{what}: next_event: {e:#}"),
        }
    }
}

/// A capture of one of the project's files (by its path in the repository) and its
/// first event.
fn first_event_of(path: &str) -> (CapturingPluginRunner, Event) {
    let mut runner = capture("{}", &format!("file://{}", own(path).display()));
    let event = runner.next_event().unwrap();
    (runner, event)
}

/// A one-string value as the runner hands it back.
fn text(s: &str) -> ExtractedField {
    ExtractedField::String(CString::new(s).unwrap())
}

/// Every extraction request to make for a field: with and without arguments.
fn requests(field: &Value) -> Vec<String> {
    let name = field["name"].as_str().unwrap().to_string();
    let arg = &field["arg"];
    if arg["isKey"] == true {
        let keys: &[&str] = match name.as_str() {
            "ka.uri.param" => &["command", "container", "watch"],
            "ka.req.volume.hostpath" => &["/proc*", "/var/run/docker.sock", "/"],
            _ => &["cluster-admin"],
        };
        keys.iter().map(|k| format!("{name}[{k}]")).collect()
    } else if arg["isIndex"] == true {
        vec![
            name.clone(),
            format!("{name}[0]"),
            format!("{name}[1]"),
            format!("{name}[7]"),
        ]
    } else {
        vec![name]
    }
}

fn metric(runner: &mut CapturingPluginRunner, name: &str) -> u64 {
    let full = format!("k8saudit-eks.{name}");
    let metrics = runner.get_metrics();
    let m = metrics
        .iter()
        .find(|m| m.name == full)
        .unwrap_or_else(|| panic!("no metric {full}"));
    match m.value {
        MetricValue::U64(v) => v,
        ref other => panic!("{full}: {other:?}"),
    }
}

#[test]
fn identity_lets_upstream_rules_accept_the_plugin() {
    let api = api();
    assert_eq!(c_text(api.get_name.unwrap()), "k8saudit-eks");
    let version = c_text(api.get_version.unwrap());
    let parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts[0], 0, "upstream rules require major version 0");
    assert!(
        (parts[1], parts[2]) >= (12, 0),
        "upstream 0.18.0 rules require >= 0.12.0, got {version}"
    );
    assert_eq!(unsafe { api.__bindgen_anon_1.get_id.unwrap()() }, 9);
    assert_eq!(
        c_text(api.__bindgen_anon_1.get_event_source.unwrap()),
        "k8s_audit"
    );
    let required = c_text(api.get_required_api_version.unwrap());
    assert!(required.starts_with("3."), "{required}");
}

#[test]
fn declares_every_ka_field_and_no_json_field() {
    let fields = declared_fields();
    let names: Vec<&str> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with("ka.")).count(), 100);
    assert!(names.iter().filter(|n| n.starts_with("eks.")).count() >= 12);
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("json.") || n.starts_with("jevt."))
    );
    for f in &fields {
        assert_eq!(f["type"], "string", "{f}");
        assert!(!f["desc"].as_str().unwrap().is_empty(), "{f}");
    }
    let uri = fields.iter().find(|f| f["name"] == "ka.uri.param").unwrap();
    assert_eq!(
        uri["arg"],
        serde_json::json!({"isKey": true, "isRequired": true})
    );
    let image = fields
        .iter()
        .find(|f| f["name"] == "ka.req.pod.containers.image")
        .unwrap();
    assert_eq!(
        (image["isList"].clone(), image["arg"].clone()),
        (Value::Bool(true), serde_json::json!({"isIndex": true}))
    );
}

#[test]
fn init_schema_is_json_and_forbids_unknown_keys() {
    let schema = init_schema();
    assert_eq!(schema["additionalProperties"], false);
    for key in [
        "region",
        "profile",
        "buffer_size",
        "shift",
        "polling_interval",
        "use_async",
        "max_event_size",
    ] {
        assert!(
            schema["properties"][key].is_object(),
            "schema lacks k8saudit-eks key {key}"
        );
    }
}

#[test]
#[cfg_attr(
    not(has_upstream_fixtures),
    ignore = "needs Falco's upstream fixtures: set EKSAUDIT_FIXTURES or put them at ../shared/fixtures/upstream"
)]
fn replays_every_upstream_trace_and_extracts_every_field() {
    let _serial = serial();
    let fields = declared_fields();
    let requests: Vec<String> = fields.iter().flat_map(requests).collect();
    let traces = trace_files();
    assert!(
        traces.len() >= 79,
        "expected the 47 k8s_audit and 32 PSP traces, found {}",
        traces.len()
    );
    let (mut total_events, mut extractions) = (0, 0);
    for trace in &traces {
        let expected = std::fs::read_to_string(trace)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty() && l.contains("\"Event\""))
            .count();
        let mut runner = capture("{}", &format!("file://{}", trace.display()));
        let mut events = 0;
        while let Some(event) = next_or_end(&mut runner, &trace.display()) {
            events += 1;
            for request in &requests {
                match runner.extract_field(&event, request) {
                    Some(Ok(_)) => extractions += 1,
                    Some(Err(rc)) => panic!(
                        "{}: extracting {request} failed with rc {rc}",
                        trace.display()
                    ),
                    None => panic!("{request} is not a field of the plugin"),
                }
            }
            // evt.plugininfo is the event's JSON, whose root is the audit Event.
            let Some(Ok(ExtractedField::String(info))) =
                runner.extract_field(&event, "evt.plugininfo")
            else {
                panic!("no evt.plugininfo");
            };
            let json: Value = serde_json::from_slice(info.as_bytes()).unwrap();
            assert!(json.get("auditID").is_some(), "{}", trace.display());
        }
        assert_eq!(events, expected, "{}", trace.display());
        assert_eq!(metric(&mut runner, "events"), events as u64);
        total_events += events;
    }
    assert!(total_events >= 83, "{total_events}");
    assert!(extractions > 10_000, "{extractions}");
}

#[test]
fn field_values_through_the_abi() {
    let _serial = serial();
    let (mut runner, event) = first_event_of("tests/data/events/privileged-pod.json");
    let mut get = |f: &str| runner.extract_field(&event, f).unwrap().unwrap();
    assert_eq!(get("ka.verb"), text("create"));
    assert_eq!(get("ka.target.resource"), text("pods"));
    assert_eq!(get("ka.target.name"), text("debug-node"));
    assert_eq!(get("ka.response.code"), text("201"));
    assert_eq!(get("ka.req.pod.containers.privileged"), text("true"));
    assert_eq!(get("ka.req.pod.host_network"), text("true"));
    assert_eq!(
        get("ka.req.pod.containers.image[0]"),
        text("public.ecr.aws/docker/library/busybox:1.36")
    );
    assert_eq!(
        get("ka.req.pod.containers.image.repository[0]"),
        text("public.ecr.aws/docker/library/busybox")
    );
    assert_eq!(get("ka.req.pod.volumes.hostpath[0]"), text("/"));
    assert_eq!(get("ka.req.volume.hostpath[/]"), text("true"));
    assert_eq!(get("ka.auth.decision"), text("allow"));
    assert_eq!(
        get("eks.iam.canonical_arn"),
        text("arn:aws:iam::111122223333:role/PlatformAdmin")
    );
    assert_eq!(get("eks.iam.kind"), text("assumed-role"));
    assert_eq!(get("eks.iam.session_name"), text("alice"));
    assert_eq!(get("eks.iam.account"), text("111122223333"));
    assert_eq!(get("eks.source_ip"), text("203.0.113.10"));
    // A plain JSON line carries no CloudWatch envelope: no cluster to record.
    assert_eq!(get("ka.cluster.name"), ExtractedField::None);
    assert_eq!(get("eks.cluster"), ExtractedField::None);
    assert!(matches!(get("ka.user.groups"), ExtractedField::Vec(ref v) if v.len() == 2));
    assert!(
        matches!(get("ka.req.pod.containers.name"), ExtractedField::Vec(ref v) if v.len() == 2)
    );
}

/// Every request's value through the C ABI is the value `eksaudit extract` prints for it
/// in-process, on every upstream trace and the project's own events: cut at the first NUL
/// (as C reads a string), a scalar's last value, and a one-item list as one string (as
/// the runner returns it).
#[test]
fn abi_values_are_the_in_process_values() {
    let _serial = serial();
    let requests: Vec<(String, bool)> = declared_fields()
        .iter()
        .flat_map(|field| {
            let list = field["isList"] == true;
            requests(field).into_iter().map(move |r| (r, list))
        })
        .collect();
    let mut inputs = trace_files();
    inputs.extend(OWN_INPUTS.iter().map(|(path, _, _)| own(path)));
    inputs.push(own("tests/data/events/nul-in-values.json"));
    let mut compared = 0;
    for input in &inputs {
        let expected = in_process_values(input, &requests);
        let mut runner = capture("{}", &format!("file://{}", input.display()));
        let mut events = 0;
        while let Some(event) = next_or_end(&mut runner, &input.display()) {
            let want = expected
                .get(events)
                .unwrap_or_else(|| panic!("{}: more events through the ABI", input.display()));
            for (request, list) in &requests {
                let got = match runner.extract_field(&event, request) {
                    Some(Ok(value)) => value,
                    other => panic!("{}: {request}: {other:?}", input.display()),
                };
                let want = as_extracted(want.get(request), *list);
                assert_eq!(got, want, "{}: event {events}, {request}", input.display());
                compared += 1;
            }
            events += 1;
        }
        assert_eq!(events, expected.len(), "{}", input.display());
    }
    assert!(compared > 10_000, "{compared}");
}

/// What the NUL test event gives through the ABI: strings end at their first NUL.
#[test]
fn values_end_at_their_first_nul() {
    let _serial = serial();
    let (mut runner, event) = first_event_of("tests/data/events/nul-in-values.json");
    let mut get = |f: &str| runner.extract_field(&event, f).unwrap().unwrap();
    assert_eq!(get("ka.user.name"), text("ad"));
    assert_eq!(
        get("ka.user.groups"),
        ExtractedField::Vec(vec![text("system:mas"), text("system:authenticated")])
    );
    assert_eq!(get("ka.target.name"), text("aws-auth"));
}

/// `eksaudit extract` of every request over `input`: one JSON object per event.
fn in_process_values(input: &Path, requests: &[(String, bool)]) -> Vec<Map<String, Value>> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eksaudit"));
    command.arg("extract");
    for (request, _) in requests {
        command.arg("--field").arg(request);
    }
    let output = command.arg(input).output().expect("eksaudit runs");
    String::from_utf8(output.stdout)
        .expect("extract prints UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("extract prints JSON objects"))
        .collect()
}

/// What the runner hands back for a value `eksaudit extract` printed.
fn as_extracted(value: Option<&Value>, list: bool) -> ExtractedField {
    let mut strings: Vec<&str> = match value {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().unwrap()).collect(),
        Some(other) => panic!("extract printed {other}"),
    };
    if !list && strings.len() > 1 {
        strings.drain(..strings.len() - 1);
    }
    let c_string = |s: &&str| text(s.split('\0').next().unwrap_or_default());
    match strings.as_slice() {
        [] => ExtractedField::None,
        [one] => c_string(one),
        many => ExtractedField::Vec(many.iter().map(c_string).collect()),
    }
}

/// The bundled samples arrive in CloudWatch envelopes: the cluster, account and log group
/// come from the envelope, through the event's annotations.
#[test]
fn envelope_metadata_through_the_abi() {
    let _serial = serial();
    let (mut runner, event) = first_event_of("rules/samples/eks-audit-envelopes.jsonl");
    let mut get = |f: &str| runner.extract_field(&event, f).unwrap().unwrap();
    assert_eq!(get("ka.cluster.name"), text("prod-eu"));
    assert_eq!(get("eks.cluster"), text("prod-eu"));
    assert_eq!(get("eks.account"), text("111122223333"));
    assert_eq!(get("eks.log_group"), text("/aws/eks/prod-eu/cluster"));
    assert_eq!(get("ka.verb"), text("list"));
    assert_eq!(metric(&mut runner, "control_messages"), 1);
}

/// Every input format of the project's own data replays through the C ABI, every declared
/// field (with and without arguments) extracts without error on every event, and the
/// metrics count what was read.
#[test]
fn replays_own_data_and_extracts_every_field() {
    let _serial = serial();
    let requests: Vec<String> = declared_fields().iter().flat_map(requests).collect();
    let mut extractions = 0;
    for (path, expected_events, expected_errors) in OWN_INPUTS {
        let mut runner = capture("{}", &format!("file://{}", own(path).display()));
        let mut events = 0;
        while let Some(event) = next_or_end(&mut runner, &path) {
            events += 1;
            for request in &requests {
                match runner.extract_field(&event, request) {
                    Some(Ok(_)) => extractions += 1,
                    Some(Err(rc)) => panic!("{path}: extracting {request} failed with rc {rc}"),
                    None => panic!("{request} is not a field of the plugin"),
                }
            }
            let Some(Ok(ExtractedField::String(info))) =
                runner.extract_field(&event, "evt.plugininfo")
            else {
                panic!("{path}: no evt.plugininfo");
            };
            let json: Value = serde_json::from_slice(info.as_bytes()).unwrap();
            assert_eq!(json["kind"], "Event", "{path}");
            assert!(json["auditID"].is_string(), "{path}");
        }
        assert_eq!(events, expected_events, "{path}");
        assert_eq!(metric(&mut runner, "events"), events as u64, "{path}");
        assert_eq!(metric(&mut runner, "errors"), expected_errors, "{path}");
    }
    assert!(extractions > 2_000, "{extractions}");
}

#[test]
fn not_an_audit_event_yields_no_event_and_an_error() {
    let _serial = serial();
    let path = own("tests/data/events/not-an-event.json");
    let mut runner = capture("{}", &format!("file://{}", path.display()));
    let err = runner.next_event().unwrap_err();
    assert_eq!(status(&err), Some(ScapStatus::Eof));
    assert_eq!(metric(&mut runner, "events"), 0);
    assert_eq!(metric(&mut runner, "errors_not_audit_event"), 1);
    assert_eq!(metric(&mut runner, "errors"), 1);
}

#[test]
#[cfg_attr(
    not(has_upstream_fixtures),
    ignore = "needs Falco's upstream fixtures: set EKSAUDIT_FIXTURES or put them at ../shared/fixtures/upstream"
)]
fn upstream_malformed_event_yields_no_event_and_an_error() {
    let _serial = serial();
    let trace = fixtures().join("falco-0.31.1/test/trace_files/k8s_audit/fal_01_003.json");
    let mut runner = capture("{}", &format!("file://{}", trace.display()));
    let err = runner.next_event().unwrap_err();
    assert_eq!(status(&err), Some(ScapStatus::Eof));
    assert_eq!(metric(&mut runner, "events"), 0);
    assert_eq!(metric(&mut runner, "errors_not_audit_event"), 1);
    assert_eq!(metric(&mut runner, "errors"), 1);
}

fn big_event_file(dir: &Path, size: usize) -> PathBuf {
    let event = serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "big", "stage": "ResponseComplete",
        "verb": "update", "objectRef": {"resource": "configmaps"}, "stageTimestamp": "2024-01-01T00:00:00Z",
        "requestObject": {"data": {"blob": "x".repeat(size)}}
    });
    let path = dir.join("big.json");
    std::fs::write(&path, format!("{event}\n")).unwrap();
    path
}

#[test]
fn max_event_size_from_the_init_config() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = big_event_file(dir.path(), 5 << 20);
    let params = format!("file://{}", path.display());
    // The default (256 KiB) applies with an empty config, and with `null`, which is what
    // Falco passes for `init_config: {}`.
    for config in ["{}", "null"] {
        let mut runner = capture(config, &params);
        assert_eq!(
            status(&runner.next_event().unwrap_err()),
            Some(ScapStatus::Eof),
            "{config}"
        );
        assert_eq!(metric(&mut runner, "errors_event_too_large"), 1, "{config}");
    }
    let mut runner = capture(r#"{"max_event_size": 8388608}"#, &params);
    let event = runner.next_event().unwrap();
    assert_eq!(
        runner.extract_field(&event, "ka.auditid").unwrap().unwrap(),
        ExtractedField::String(c"big".into())
    );
    assert_eq!(metric(&mut runner, "events"), 1);
}

unsafe extern "C-unwind" fn owner_last_error(_owner: *mut ss_plugin_owner_t) -> *const c_char {
    c"".as_ptr()
}

/// Direct C ABI access for what the runner does not expose.
struct Raw {
    plugin: *mut ss_plugin_t,
}

impl Raw {
    fn init(config: &str) -> Result<Raw, String> {
        let config = CString::new(config).unwrap();
        let mut input: ss_plugin_init_input = unsafe { std::mem::zeroed() };
        input.config = config.as_ptr();
        // A host must identify itself; this one has no tables and no errors to report.
        input.owner = std::ptr::NonNull::dangling().as_ptr();
        input.get_owner_last_error = Some(owner_last_error);
        let mut rc = SUCCESS;
        let plugin = unsafe { api().init.unwrap()(&input, &mut rc) };
        let raw = Raw { plugin };
        if rc == SUCCESS {
            Ok(raw)
        } else {
            Err(raw.last_error())
        }
    }

    fn last_error(&self) -> String {
        let text = unsafe { api().get_last_error.unwrap()(self.plugin) };
        if text.is_null() {
            String::new()
        } else {
            unsafe { CStr::from_ptr(text) }
                .to_string_lossy()
                .into_owned()
        }
    }

    fn open(&self, params: &str) -> Result<*mut ss_instance_t, String> {
        let params = CString::new(params).unwrap();
        let open: OpenFn = sym("plugin_open");
        let mut rc = SUCCESS;
        let instance = unsafe { open(self.plugin, params.as_ptr(), &mut rc) };
        if rc == SUCCESS {
            Ok(instance)
        } else {
            Err(self.last_error())
        }
    }

    /// One `next_batch` call: (rc, number of events).
    fn next_batch(&self, instance: *mut ss_instance_t) -> (ss_plugin_rc, u32) {
        let mut nevts = 0u32;
        let mut evts: *mut *mut ss_plugin_event = std::ptr::null_mut();
        let rc = unsafe {
            api().__bindgen_anon_1.next_batch.unwrap()(self.plugin, instance, &mut nevts, &mut evts)
        };
        (rc, nevts)
    }

    fn close(&self, instance: *mut ss_instance_t) {
        unsafe { api().__bindgen_anon_1.close.unwrap()(self.plugin, instance) };
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        if !self.plugin.is_null() {
            unsafe { api().destroy.unwrap()(self.plugin) };
        }
    }
}

#[test]
fn bad_config_is_rejected_with_its_message() {
    let err = Raw::init(r#"{"bogus": 1}"#)
        .err()
        .expect("unknown key refused");
    assert!(err.contains("unknown field `bogus`"), "{err}");
    let err = Raw::init(r#"{"max_event_size": 0}"#)
        .err()
        .expect("bad value refused");
    assert!(err.contains("max_event_size must be between"), "{err}");
    let err = Raw::init(r#"{"max_event_size": "big"}"#)
        .err()
        .expect("bad type refused");
    assert!(err.contains("invalid type"), "{err}");
    assert!(Raw::init("{}").is_ok());
}

/// The init schema the plugin publishes through `plugin_get_init_schema`.
fn init_schema() -> Value {
    let mut schema_type = 0u32;
    let schema = unsafe { api().get_init_schema.unwrap()(&mut schema_type) };
    assert_eq!(schema_type, 1, "SS_PLUGIN_SCHEMA_JSON");
    serde_json::from_str(&unsafe { CStr::from_ptr(schema) }.to_string_lossy()).unwrap()
}

/// Validates `value` against `schema` the way Falco's validator (valijson) does, for the
/// keywords our schema uses. A keyword it does not know fails the test rather than being
/// skipped, so a schema change cannot make this check pass by not checking.
fn schema_errors(schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(schema) = schema.as_object() else {
        panic!("{at}: schema is not an object");
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "$schema" | "title" | "description" | "default" | "format" => {}
            "type" => {
                let allowed: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    other => panic!("{at}: type {other}"),
                };
                let actual = match value {
                    Value::Null => "null",
                    Value::Bool(_) => "boolean",
                    Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                };
                let ok = allowed.contains(&actual)
                    || (actual == "integer" && allowed.contains(&"number"));
                if !ok {
                    errors.push(format!("{at}: type {actual} not permitted by {rule}"));
                }
            }
            "minimum" | "maximum" => {
                if let (Some(v), Some(bound)) = (value.as_f64(), rule.as_f64()) {
                    let ok = if keyword == "minimum" {
                        v >= bound
                    } else {
                        v <= bound
                    };
                    if !ok {
                        errors.push(format!("{at}: {v} violates {keyword} {bound}"));
                    }
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (key, sub) in rule.as_object().unwrap() {
                        if let Some(v) = object.get(key) {
                            errors.extend(schema_errors(sub, v, &format!("{at}/{key}")));
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(rule, &Value::Bool(false), "{at}: additionalProperties");
                if let Some(object) = value.as_object() {
                    let known = schema["properties"].as_object().unwrap();
                    for key in object.keys().filter(|k| !known.contains_key(*k)) {
                        errors.push(format!("{at}: property {key} not allowed"));
                    }
                }
            }
            other => panic!("{at}: the test's validator does not know keyword {other}"),
        }
    }
    errors
}

/// What Falco 0.44.1 hands to `plugin_init` for each way a user writes `init_config` in
/// falco.yaml (checked against a real Falco: a YAML map is converted to JSON, an empty map
/// to `null`; an empty or absent config becomes `{}`): every one validates against the
/// published schema, and initialises the plugin with the defaults.
#[test]
fn init_config_as_falco_passes_it_loads() {
    let schema = init_schema();
    let cases = [
        ("init_config: {}", "null"),
        ("init_config: null", "{}"),
        ("init_config: \"\"", "{}"),
        ("(no init_config)", "{}"),
        (
            "init_config: {max_event_size: 4194304}",
            r#"{"max_event_size":4194304}"#,
        ),
        (
            "init_config: '{\"region\": \"eu-west-1\"}'",
            r#"{"region": "eu-west-1"}"#,
        ),
    ];
    for (yaml, passed) in cases {
        let value: Value = serde_json::from_str(passed).unwrap();
        let errors = schema_errors(&schema, &value, "<root>");
        assert!(
            errors.is_empty(),
            "{yaml} ({passed}) refused by the schema: {errors:?}"
        );
        if let Err(e) = Raw::init(passed) {
            panic!("{yaml} ({passed}) refused by plugin_init: {e}");
        }
    }
    // The validator is real: it refuses what Falco refuses...
    let bogus = serde_json::json!({"bogus": 1});
    assert_eq!(
        schema_errors(&schema, &bogus, "<root>"),
        ["<root>: property bogus not allowed"]
    );
    let negative = serde_json::json!({"max_event_size": -1});
    assert_eq!(schema_errors(&schema, &negative, "<root>").len(), 1);
    // ...and a root typed "object" alone, as before, refuses `init_config: {}`.
    let mut object_only = schema.clone();
    object_only["type"] = "object".into();
    assert_eq!(schema_errors(&object_only, &Value::Null, "<root>").len(), 1);
}

#[test]
fn open_errors_are_clear() {
    let raw = Raw::init("{}").unwrap();
    let err = raw.open("kinesis://audit-stream?regoin=x").unwrap_err();
    assert!(err.contains("unknown key \"regoin\""), "{err}");
    let err = raw.open("my cluster").unwrap_err();
    assert!(err.contains("an EKS cluster name has"), "{err}");
    let err = raw.open("file:///nonexistent/eks-audit").unwrap_err();
    assert!(err.contains("cannot open /nonexistent/eks-audit"), "{err}");
    let err = raw.open("").unwrap_err();
    assert!(err.contains("open_params is empty"), "{err}");
}

#[test]
fn batches_are_never_empty_successes() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("mixed.json");
    let good = std::fs::read_to_string(own("rules/samples/eks-audit-envelopes.jsonl")).unwrap();
    std::fs::write(&garbage, format!("not json\n{good}\n{{\"kind\":0}}\n")).unwrap();
    let raw = Raw::init(r#"{"max_batch_events": 4}"#).unwrap();
    let instance = raw.open(&format!("file://{}", garbage.display())).unwrap();
    let mut total = 0;
    loop {
        match raw.next_batch(instance) {
            (SUCCESS, n) => {
                assert!((1..=4).contains(&n), "a successful batch held {n} events");
                total += n;
            }
            (EOF, _) => break,
            (rc, _) => panic!("next_batch failed with {rc}: {}", raw.last_error()),
        }
    }
    assert_eq!(total, 17);
    raw.close(instance);
}

#[test]
fn panics_are_caught_at_every_entry_point() {
    let _serial = serial();
    let raw = Raw::init("{}").unwrap();
    let err = raw.open("eksaudit-test-panic://open").unwrap_err();
    assert!(
        err.contains("recovered panic: injected panic in open"),
        "{err}"
    );
    let instance = raw.open("eksaudit-test-panic://next_batch").unwrap();
    let (rc, _) = raw.next_batch(instance);
    assert_ne!(rc, SUCCESS);
    assert!(
        raw.last_error().contains("injected panic in next_batch"),
        "{}",
        raw.last_error()
    );
    raw.close(instance);
    // The plugin keeps working after a recovered panic.
    let trace = own("tests/data/events/privileged-pod.json");
    let instance = raw.open(&format!("file://{}", trace.display())).unwrap();
    assert_eq!(raw.next_batch(instance).0, SUCCESS);
    raw.close(instance);
    drop(raw);

    let params = format!("eksaudit-test-panic://extract@file://{}", trace.display());
    let mut runner = capture("{}", &params);
    let event = runner.next_event().unwrap();
    assert!(matches!(
        runner.extract_field(&event, "ka.verb"),
        Some(Err(_))
    ));
    assert!(matches!(
        runner.extract_field(&event, "ka.user.name"),
        Some(Err(_))
    ));
}

/// The hostile-input corpus through the `.so`, as Falco drives it: no panic and no
/// abort, each input's events delivered and its problems counted in the plugin's
/// metrics by kind, and the plugin still serves the next capture.
#[test]
fn hostile_inputs_through_the_plugin_are_counted_by_kind() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    for case in hostile_corpus::write(dir.path()) {
        let name = case.name;
        let mut runner = capture("{}", &format!("file://{}", case.path.display()));
        let mut events = 0u64;
        while next_or_end(&mut runner, &name).is_some() {
            events += 1;
        }
        assert_eq!(events, case.events, "{name}");
        assert_eq!(metric(&mut runner, "events"), case.events, "{name}");
        let total: u64 = case.errors.iter().map(|(_, n)| n).sum();
        assert_eq!(metric(&mut runner, "errors"), total, "{name}");
        for (kind, n) in case.errors {
            assert_eq!(
                metric(&mut runner, &format!("errors_{kind}")),
                *n,
                "{name}: {kind}"
            );
        }
    }
}
