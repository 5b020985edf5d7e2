use std::io::Write;

use serde_json::json;

use super::*;
use crate::fields::{Arg, Value, extract, find};

fn event_json(audit_id: &str) -> serde_json::Value {
    json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": audit_id, "stage": "ResponseComplete", "verb": "get",
        "requestURI": "/api/v1/namespaces/default/secrets/s",
        "user": {"username": "alice"},
        "objectRef": {"resource": "secrets", "namespace": "default", "name": "s"},
        "responseStatus": {"code": 200},
        "stageTimestamp": "2024-05-01T10:00:00.123456Z"
    })
}

fn line(audit_id: &str) -> String {
    event_json(audit_id).to_string()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn envelope(stream: &str, messages: &[String]) -> String {
    let log_events: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("3800000000000000000000000000000000000000000000000{i}"), "timestamp": 1714557600123u64, "message": m}))
        .collect();
    json!({
        "messageType": "DATA_MESSAGE", "owner": "111122223333",
        "logGroup": "/aws/eks/prod/cluster", "logStream": stream,
        "subscriptionFilters": ["to-kinesis"], "logEvents": log_events
    })
    .to_string()
}

struct Run {
    events: Vec<Decoded>,
    errors: Vec<DecodeError>,
    stats: DecodeStats,
}

fn decode_with(bytes: &[u8], options: &DecodeOptions) -> Run {
    let mut decoder = decode_bytes(bytes, "input.json", options);
    let mut run = Run {
        events: Vec::new(),
        errors: Vec::new(),
        stats: DecodeStats::default(),
    };
    for item in decoder.by_ref() {
        match item {
            Ok(e) => run.events.push(e),
            Err(e) => run.errors.push(e),
        }
    }
    run.stats = decoder.stats();
    run
}

fn decode(bytes: &[u8]) -> Run {
    decode_with(bytes, &DecodeOptions::default())
}

fn field(ev: &Decoded, name: &str) -> Option<String> {
    let view = ev.event.view();
    match extract(&view, find(name).unwrap(), Arg::None).unwrap()? {
        Value::One(v) => Some(String::from_utf8_lossy(&v).into_owned()),
        Value::List(v) => Some(format!("{v:?}")),
    }
}

fn kinds(run: &Run) -> Vec<DecodeErrorKind> {
    run.errors.iter().map(|e| e.kind).collect()
}

#[test]
fn json_lines_with_times_and_locations() {
    let input = format!("{}\n\n{}\n", line("a"), line("b"));
    let run = decode(input.as_bytes());
    assert!(run.errors.is_empty());
    assert_eq!(run.events.len(), 2);
    assert_eq!(run.events[0].event.time_ns(), 1_714_557_600_123_456_000);
    assert_eq!(run.events[1].location.to_string(), "input.json:3");
    assert_eq!(field(&run.events[1], "ka.auditid").as_deref(), Some("b"));
    // No source metadata for plain files: the payload is the compact event, unchanged.
    assert_eq!(run.events[0].event.payload(), line("a").as_bytes());
    assert_eq!(run.stats.events, 2);
    assert_eq!(run.stats.input_bytes, input.len() as u64);
}

#[test]
fn pretty_printed_event_list_is_compacted() {
    let list = json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [event_json("a"), event_json("b")]});
    let pretty = serde_json::to_string_pretty(&list).unwrap();
    let run = decode(pretty.as_bytes());
    assert_eq!(run.events.len(), 2);
    assert_eq!(run.events[1].event.payload(), line("b").as_bytes());
    assert_eq!(run.events[1].location.to_string(), "input.json:1 items[1]");
}

#[test]
fn a_bad_event_list_item_is_skipped_alone() {
    let mut bad = event_json("bad");
    bad.as_object_mut().unwrap().remove("stageTimestamp");
    let list = json!({"kind": "EventList", "items": [event_json("a"), bad, event_json("c")]});
    let run = decode(list.to_string().as_bytes());
    assert_eq!(run.events.len(), 2);
    assert_eq!(kinds(&run), vec![DecodeErrorKind::MissingTimestamp]);
    assert_eq!(run.errors[0].audit_id.as_deref(), Some("bad"));
    assert_eq!(run.errors[0].location.item, Some(1));
    assert!(
        run.errors[0]
            .to_string()
            .contains("can't read stageTimestamp")
    );
}

#[test]
fn a_bad_array_element_is_skipped_alone() {
    let array = json!([event_json("a"), {"kind": 0}, [event_json("c")]]);
    let run = decode(array.to_string().as_bytes());
    assert_eq!(run.events.len(), 2);
    assert_eq!(kinds(&run), vec![DecodeErrorKind::NotAuditEvent]);
}

#[test]
fn not_recognized_matches_upstream_text() {
    let run = decode(br#"{"kind": 0}"#);
    assert!(run.events.is_empty());
    assert_eq!(kinds(&run), vec![DecodeErrorKind::NotAuditEvent]);
    assert!(
        run.errors[0]
            .to_string()
            .contains("data not recognized as a k8s audit event")
    );
    for doc in [
        r#""x""#,
        "12",
        r#"{"kind":"Pod"}"#,
        r#"{"kind":"EventList","items":{}}"#,
    ] {
        assert_eq!(
            kinds(&decode(doc.as_bytes())),
            vec![DecodeErrorKind::NotAuditEvent],
            "{doc}"
        );
    }
}

#[test]
fn api_versions() {
    let with = |v: serde_json::Value| {
        let mut e = event_json("a");
        e["apiVersion"] = v;
        decode(e.to_string().as_bytes())
    };
    assert_eq!(with(json!("audit.k8s.io/v1beta1")).events.len(), 1);
    assert_eq!(with(json!("audit.k8s.io/v1")).events.len(), 1);
    assert_eq!(
        kinds(&with(json!("audit.k8s.io/v2"))),
        vec![DecodeErrorKind::NotAuditEvent]
    );
    assert_eq!(kinds(&with(json!(1))), vec![DecodeErrorKind::NotAuditEvent]);
    let mut none = event_json("a");
    none.as_object_mut().unwrap().remove("apiVersion");
    assert_eq!(decode(none.to_string().as_bytes()).events.len(), 1);
}

#[test]
fn timestamps_of_the_wrong_type_or_format() {
    for (stamp, kind) in [
        (json!(1714557600), DecodeErrorKind::BadTimestamp),
        (json!("yesterday"), DecodeErrorKind::BadTimestamp),
        (json!(null), DecodeErrorKind::BadTimestamp),
    ] {
        let mut e = event_json("a");
        e["stageTimestamp"] = stamp;
        assert_eq!(kinds(&decode(e.to_string().as_bytes())), vec![kind]);
    }
}

#[test]
fn gzip_envelopes_with_concatenated_members() {
    let first = gzip(envelope("kube-apiserver-audit-0123", &[line("a"), line("b")]).as_bytes());
    let second = gzip(envelope("kube-apiserver-audit-0123", &[line("c")]).as_bytes());
    let run = decode(&[first, second].concat());
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(run.events.len(), 3);
    let ev = &run.events[0];
    assert_eq!(field(ev, "ka.cluster.name").as_deref(), Some("prod"));
    assert_eq!(field(ev, "eks.cluster").as_deref(), Some("prod"));
    assert_eq!(field(ev, "eks.account").as_deref(), Some("111122223333"));
    assert_eq!(
        field(ev, "eks.log_group").as_deref(),
        Some("/aws/eks/prod/cluster")
    );
    assert_eq!(
        field(ev, "eks.log_stream").as_deref(),
        Some("kube-apiserver-audit-0123")
    );
    assert!(
        ev.location
            .to_string()
            .starts_with("input.json:1 logEvents[0] (id 38")
    );
    // The audit event is still the root of the payload.
    assert_eq!(field(ev, "ka.verb").as_deref(), Some("get"));
}

#[test]
fn envelope_ids_may_be_numbers_and_control_messages_are_counted() {
    let env = json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/eks/x/cluster",
        "logStream": "kube-apiserver-audit-1", "logEvents": [{"id": 42, "timestamp": 1, "message": line("a")}]});
    let control = json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
        "logStream": "", "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]});
    let run = decode(format!("{control}\n{env}").as_bytes());
    assert!(run.errors.is_empty());
    assert_eq!(run.events.len(), 1);
    assert_eq!(
        run.events[0].location.log_event,
        Some((0, "42".to_string()))
    );
    assert_eq!(run.stats.control_messages, 1);
}

#[test]
fn truncated_messages_are_counted_with_their_audit_id() {
    let full = line("7f7a9f3c-1111-2222-3333-444455556666");
    let truncated = format!("{}[Truncated...]", &full[..120]);
    let run = decode(
        gzip(envelope("kube-apiserver-audit-1", &[truncated, line("ok")]).as_bytes()).as_slice(),
    );
    assert_eq!(run.events.len(), 1);
    assert_eq!(kinds(&run), vec![DecodeErrorKind::Truncated]);
    assert_eq!(
        run.errors[0].audit_id.as_deref(),
        Some("7f7a9f3c-1111-2222-3333-444455556666")
    );
    assert_eq!(run.stats.errors(DecodeErrorKind::Truncated), 1);
    // The same text as a JSON line of a file.
    let file = format!("{}[Truncated...]\n{}\n", &full[..120], line("ok"));
    let run = decode(file.as_bytes());
    assert_eq!(
        (run.events.len(), kinds(&run)),
        (1, vec![DecodeErrorKind::Truncated])
    );
}

#[test]
fn non_audit_streams_are_skipped_and_counted() {
    let env = envelope(
        "authenticator-0123",
        &["time=\"2024\" level=info msg=\"access granted\"".to_string()],
    );
    let run = decode(env.as_bytes());
    assert!(run.events.is_empty() && run.errors.is_empty());
    assert_eq!(run.stats.non_audit_log_events, 1);
}

#[test]
fn envelopes_with_wrong_types() {
    let cases = [
        json!({"messageType": 1, "logEvents": []}),
        json!({"messageType": "DATA_MESSAGE"}),
        json!({"messageType": "DATA_MESSAGE", "logEvents": {"a": 1}}),
        json!({"messageType": "SOMETHING", "logEvents": []}),
    ];
    for case in cases {
        assert_eq!(
            kinds(&decode(case.to_string().as_bytes())),
            vec![DecodeErrorKind::BadEnvelope],
            "{case}"
        );
    }
    let no_message = json!({"messageType": "DATA_MESSAGE", "logStream": "kube-apiserver-audit-1",
        "logEvents": [{"id": "1"}, {"id": "2", "message": 5}, {"id": "3", "message": "{not json"}]});
    assert_eq!(
        kinds(&decode(no_message.to_string().as_bytes())),
        vec![
            DecodeErrorKind::BadEnvelope,
            DecodeErrorKind::BadEnvelope,
            DecodeErrorKind::InvalidJson
        ]
    );
}

#[test]
fn bad_gzip_keeps_what_came_before() {
    let good = gzip(format!("{}\n", line("a")).as_bytes());
    let mut corrupt = gzip(format!("{}\n", line("b")).as_bytes());
    let mid = corrupt.len() / 2;
    corrupt[mid..].iter_mut().for_each(|b| *b ^= 0x5a);
    let run = decode(&[good, corrupt].concat());
    assert_eq!(run.events.len(), 1);
    // What inflated before the corruption may be reported as a cut JSON document first.
    let (last, before) = kinds(&run)
        .split_last()
        .map(|(l, b)| (*l, b.to_vec()))
        .unwrap();
    assert_eq!(last, DecodeErrorKind::Gzip);
    assert!(
        before.iter().all(|k| *k == DecodeErrorKind::InvalidJson),
        "{before:?}"
    );
    // Garbage after a gzip member is also a gzip error, not a crash.
    let run = decode(&[gzip(line("a").as_bytes()), b"garbage".to_vec()].concat());
    assert_eq!(
        (run.events.len(), kinds(&run)),
        (1, vec![DecodeErrorKind::Gzip])
    );
}

#[test]
fn truncated_json_line_costs_only_that_line() {
    let full = line("a");
    let input = format!(
        "{}\n{}\n{}",
        &full[..full.len() / 2],
        line("b"),
        &full[..10]
    );
    let run = decode(input.as_bytes());
    assert_eq!(run.events.len(), 1);
    assert_eq!(
        kinds(&run),
        vec![DecodeErrorKind::InvalidJson, DecodeErrorKind::InvalidJson]
    );
    assert_eq!(run.errors[0].location.line, Some(1));
    assert_eq!(run.errors[0].audit_id.as_deref(), Some("a"));
    assert_eq!(run.errors[1].location.line, Some(3));
}

fn big_event(bytes: usize) -> String {
    let mut e = event_json("big");
    e["requestObject"] = json!({"data": {"blob": "x".repeat(bytes)}});
    e.to_string()
}

#[test]
fn five_mib_event_is_dropped_by_default_and_accepted_when_allowed() {
    let input = format!("{}\n{}\n", big_event(5 << 20), line("small"));
    let run = decode(input.as_bytes());
    assert_eq!(run.events.len(), 1);
    assert_eq!(kinds(&run), vec![DecodeErrorKind::EventTooLarge]);
    assert!(
        run.errors[0].detail.contains("size=52"),
        "{}",
        run.errors[0].detail
    );
    assert_eq!(run.errors[0].audit_id.as_deref(), Some("big"));
    let run = decode_with(
        input.as_bytes(),
        &DecodeOptions::with_max_event_size(8 << 20),
    );
    assert_eq!((run.events.len(), run.errors.len()), (2, 0));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "{}{}\n{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000),
        line("a")
    );
    let run = decode(deep.as_bytes());
    assert_eq!(run.events.len(), 1);
    assert_eq!(kinds(&run), vec![DecodeErrorKind::InvalidJson]);
    assert!(run.errors[0].detail.contains("deeper than 300"));
}

#[test]
fn invalid_utf8_passes_through_to_fields() {
    let mut bytes = line("a").into_bytes();
    let at = bytes.windows(5).position(|w| w == b"alice").unwrap();
    bytes.splice(at..at + 5, b"al\xff\xfeice".iter().copied());
    let run = decode(&bytes);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let view = run.events[0].event.view();
    let Some(Value::One(name)) = extract(&view, find("ka.user.name").unwrap(), Arg::None).unwrap()
    else {
        panic!("no user name");
    };
    assert_eq!(&name[..], b"al\xff\xfeice");
}

#[test]
fn directories_are_read_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, id: &str, age_secs: u64| {
        let path = dir.path().join(name);
        std::fs::write(&path, line(id)).unwrap();
        let time = std::time::SystemTime::now() - std::time::Duration::from_secs(age_secs);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    };
    write("b.json", "newest", 10);
    write("a.json", "oldest", 100);
    write(".hidden", "hidden", 50);
    std::fs::write(dir.path().join("c.json.gz"), gzip(line("gz").as_bytes())).unwrap();
    let ids: Vec<_> = read_path(dir.path(), &DecodeOptions::default())
        .unwrap()
        .map(|r| field(&r.unwrap(), "ka.auditid").unwrap())
        .collect();
    assert_eq!(ids, ["oldest", "newest", "gz"]);
    assert!(read_path(&dir.path().join("missing"), &DecodeOptions::default()).is_err());
}

/// An envelope with keys in CloudWatch's order, which takes the serde fast path.
fn cloudwatch_ordered(messages: &[String]) -> String {
    let log_events: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": i.to_string(), "timestamp": 1, "message": m}))
        .collect();
    format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"/aws/eks/prod/cluster","logStream":"kube-apiserver-audit-1","subscriptionFilters":["f"],"logEvents":{}}}"#,
        serde_json::Value::Array(log_events)
    )
}

#[test]
fn envelope_fast_path_and_exact_path_agree() {
    let messages = [line("a"), line("b"), "{broken".to_string(), line("c")];
    let fast = cloudwatch_ordered(&messages);
    // A duplicated key makes serde refuse the envelope: the exact path decodes it.
    let exact = fast.replacen(
        r#""owner":"111122223333","#,
        r#""owner":"111122223333","owner":"9","#,
        1,
    );
    let run_fast = decode(gzip(format!("{fast}{fast}").as_bytes()).as_slice());
    let run_exact = decode(gzip(format!("{exact}{exact}").as_bytes()).as_slice());
    assert_eq!(run_fast.events.len(), 6);
    assert_eq!(run_fast.events, run_exact.events);
    assert_eq!(kinds(&run_fast), kinds(&run_exact));
    assert_eq!(kinds(&run_fast), vec![DecodeErrorKind::InvalidJson; 2]);
    assert_eq!(
        field(&run_exact.events[0], "eks.account").as_deref(),
        Some("111122223333"),
        "first key wins"
    );
    // A truncated envelope at the end of the input is an error, not a hang or a panic.
    let cut = &fast[..fast.len() - 40];
    let run = decode(format!("{fast}\n{cut}").as_bytes());
    assert_eq!(run.events.len(), 3);
    assert_eq!(
        kinds(&run),
        vec![DecodeErrorKind::InvalidJson, DecodeErrorKind::InvalidJson]
    );
}

#[test]
fn progress_counts_file_bytes_before_decompression() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("a.json");
    let zipped = dir.path().join("b.json.gz");
    std::fs::write(&plain, format!("{}\n", line("a"))).unwrap();
    std::fs::write(&zipped, gzip(format!("{}\n", line("b")).as_bytes())).unwrap();
    let total =
        std::fs::metadata(&plain).unwrap().len() + std::fs::metadata(&zipped).unwrap().len();
    let mut decoder = read_path(dir.path(), &DecodeOptions::default()).unwrap();
    assert_eq!(decoder.progress(), (0, Some(total)));
    assert_eq!(decoder.by_ref().count(), 2);
    assert_eq!(decoder.progress(), (total, Some(total)));
    let stdin_like = InputDecoder::new(
        vec![Input::Reader("-".into(), Box::new(&b""[..]))],
        DecodeOptions::default(),
    );
    assert_eq!(stdin_like.progress().1, None);
}

/// Found by decode_record under a malloc limit: a record whose gzip trailer claims 4 GiB
/// (so libdeflate refuses it and the streaming decoder takes over) reserved the whole
/// 256 MiB inflate limit, and the decoder kept the buffer.
#[test]
fn a_forged_gzip_size_reserves_little() {
    let mut forged = gzip(format!("{}\n", line("a")).as_bytes());
    let n = forged.len();
    forged[n - 4..].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let (data, error, gzip) = memory_bytes(&forged, MAX_MEMORY_INFLATE, Vec::new(), &mut None);
    assert!(gzip && error.is_some(), "{error:?}");
    assert!(data.capacity() < 1 << 20, "{}", data.capacity());
    let mut decoder = Decoder::new(DecodeOptions::default());
    decoder.push_record(&forged, &Location::new("r"));
    assert!(
        decoder.inflate.capacity() < 1 << 20,
        "{}",
        decoder.inflate.capacity()
    );
}

/// Hands out its bytes one at a time, then fails once if asked to.
struct OneByte(Vec<u8>, usize, bool);

impl Read for OneByte {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.1 == self.0.len() {
            if std::mem::take(&mut self.2) {
                return Err(io::Error::other("broken pipe"));
            }
            return Ok(0);
        }
        buf[0] = self.0[self.1];
        self.1 += 1;
        Ok(1)
    }
}

/// Found by the decode_stream fuzz target: a reader whose first read gave one byte (a
/// pipe may) hid the gzip magic, and the gzip stream was read as invalid JSON.
#[test]
fn gzip_magic_split_across_reads() {
    let data = gzip(format!("{}\n{}\n", line("a"), line("b")).as_bytes());
    let reader = OneByte(data, 0, false);
    let decoder = InputDecoder::new(
        vec![Input::Reader("-".into(), Box::new(reader))],
        DecodeOptions::default(),
    );
    let events: Vec<_> = decoder.collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(Result::is_ok), "{events:?}");
    // An error after the first byte is still reported, after that byte (a truncated
    // document).
    let reader = OneByte(b"{".to_vec(), 0, true);
    let decoder = InputDecoder::new(
        vec![Input::Reader("-".into(), Box::new(reader))],
        DecodeOptions::default(),
    );
    let kinds: Vec<_> = decoder.map(|r| r.unwrap_err().kind).collect();
    assert_eq!(
        kinds,
        [DecodeErrorKind::InvalidJson, DecodeErrorKind::Io],
        "{kinds:?}"
    );
}

#[test]
fn every_message_shape_in_an_envelope_is_decoded() {
    // Escaped messages (owned after unescaping) of every shape: an Event (taken in place),
    // an array, an EventList, one with whitespace, an empty object.
    let list =
        json!({"kind": "EventList", "items": [event_json("l1"), event_json("l2")]}).to_string();
    let array = json!([event_json("a1")]).to_string();
    let spaced = serde_json::to_string_pretty(&event_json("p1")).unwrap();
    let messages = [line("e1"), array, list, spaced, "{}".to_string()];
    let run = decode(cloudwatch_ordered(&messages).as_bytes());
    let ids: Vec<_> = run
        .events
        .iter()
        .map(|e| field(e, "ka.auditid").unwrap())
        .collect();
    assert_eq!(ids, ["e1", "a1", "l1", "l2", "p1"]);
    assert_eq!(kinds(&run), vec![DecodeErrorKind::NotAuditEvent]);
    for e in &run.events {
        assert_eq!(field(e, "eks.cluster").as_deref(), Some("prod"));
        assert!(e.event.view().top(crate::event::Top::Annotations).is_some());
    }
}

#[test]
fn one_decoder_for_many_records_decodes_like_separate_inputs() {
    let records = [
        gzip(cloudwatch_ordered(&[line("r1"), line("r2")]).as_bytes()),
        cloudwatch_ordered(&[line("r3")]).into_bytes(),
        gzip(b"{\"kind\":0}"),
        gzip(cloudwatch_ordered(&[line("r4")]).as_bytes()),
    ];
    let mut decoder = Decoder::new(DecodeOptions::default());
    let mut ids = Vec::new();
    let mut problems = 0;
    for (i, record) in records.iter().enumerate() {
        decoder.push_record(record, &Location::new(format!("shard-0/{i}")));
        while let Some(item) = decoder.pop() {
            match item {
                Ok(d) => ids.push(field(&d, "ka.auditid").unwrap()),
                Err(e) => {
                    assert_eq!(e.location.source.as_ref(), "shard-0/2");
                    problems += 1;
                }
            }
        }
    }
    assert_eq!(ids, ["r1", "r2", "r3", "r4"]);
    assert_eq!(problems, 1);
    assert_eq!(decoder.stats().events, 4);
}

/// The envelope fast path (one pass, unescaping into a reused buffer) gives exactly what
/// the exact path gives, on escapes of every kind at the envelope level, odd layouts and
/// broken messages.
#[test]
fn envelope_fast_path_matches_the_exact_path_on_escapes() {
    let base = line("esc");
    let quoted = |m: &str| serde_json::to_string(m).unwrap();
    // Envelope-level escapes that serde_json would also write differently.
    let variants = [
        quoted(&base),
        quoted(&base).replace("/", "\\/"),
        quoted(&base).replace("alice", "\\u0061lic\\u00e9 \\ud83d\\ude00"),
        quoted(&base).replace("alice", "a\\ud800b\\udc00c\\ud83d\\u0041"),
        quoted(&base).replace("alice", "a\\\\u0026b"),
        quoted(&base).replace("alice", "tab\\there"),
        quoted(&base).replace("alice", "\\b\\f\\r"),
        quoted(&base).replace(":", "\\u003a"),
        quoted(&format!(" {base} \n")),
        quoted(&base[..base.len() - 1]),
        quoted(&format!("{base}[Truncated...]")),
        quoted("[1,2]"),
        quoted(&format!("[{base},{base}]")),
        // Message-level escapes, numbers, literals and nesting, for the fused pass.
        quoted(&base.replace("alice", r#"a\"b\\c\/d\u0026e\nf\tg"#)),
        quoted(&base.replace(
            "\"get\"",
            r#""get","n":[0,-0.5e+10,1E3,12.25,-7,true,false,null,{},[],[[{}]]]"#,
        )),
        quoted(&base.replace("\"get\"", r#""get","n":01"#)),
        quoted(&base.replace("\"get\"", r#""get","n":1."#)),
        quoted(&base.replace("\"get\"", r#""get","n":tru"#)),
        quoted(&base.replace("\"get\"", r#""get","n":"a\x""#)),
        quoted(&base.replace("\"get\"", r#""get","n":"a	b""#)),
        quoted(&base.replace(
            "\"get\"",
            &format!(r#""get","n":{}{}"#, "[".repeat(299), "]".repeat(299)),
        )),
        quoted(&base.replace(
            "\"get\"",
            &format!(r#""get","n":{}{}"#, "[".repeat(300), "]".repeat(300)),
        )),
        quoted(&base.replace("\"get\"", r#""get","verb":"second""#)),
        quoted(&format!("{base}x")),
        quoted(&format!("{base},")),
        quoted(&base.replacen("{", "{ ", 1)),
        quoted("42"),
        quoted("{}"),
        quoted(""),
    ];
    let log_events: Vec<String> = variants
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(r#"{{ "id" : "{i}", "timestamp":1, "extra":[{{}}], "message" : {m} }}"#)
        })
        .collect();
    let fast = format!(
        "{{\"messageType\":\"DATA_MESSAGE\",\n \"owner\":\"111122223333\", \"logGroup\":\"/aws/eks/prod/cluster\", \"logStream\":\"kube-apiserver-audit-1\", \"logEvents\":[{}] , \"x\":null}}",
        log_events.join(",\n")
    );
    let exact = fast.replacen(
        r#""owner":"111122223333","#,
        r#""owner":"111122223333","owner":"9","#,
        1,
    );
    assert_ne!(fast, exact);
    let mut decoder = Decoder::new(DecodeOptions::default());
    let here = Location::new("here");
    assert!(cloudwatch::typed_envelope(
        &mut decoder,
        fast.as_bytes(),
        &here
    ));
    assert!(!cloudwatch::typed_envelope(
        &mut decoder,
        exact.as_bytes(),
        &here
    ));
    for input in [fast.as_bytes().to_vec(), gzip(fast.as_bytes())] {
        let run_fast = decode(&input);
        let exact_input = if input.starts_with(&[0x1f, 0x8b]) {
            gzip(exact.as_bytes())
        } else {
            exact.as_bytes().to_vec()
        };
        let run_exact = decode(&exact_input);
        assert!(run_fast.events.len() >= 8, "{}", run_fast.events.len());
        assert_eq!(run_fast.events, run_exact.events);
        assert_eq!(kinds(&run_fast), kinds(&run_exact));
        assert_eq!(
            run_fast
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            run_exact
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_byte_order_mark_at_the_start_is_skipped_and_crlf_is_whitespace() {
    let text = format!("\u{feff}{}\r\n{}\r\n", line("a"), line("b"));
    let run = decode(text.as_bytes());
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(run.events.len(), 2);
    // Only at the start: a BOM between documents is not JSON.
    let text = format!("{}\n\u{feff}{}\n", line("a"), line("b"));
    let run = decode(text.as_bytes());
    assert_eq!(run.events.len(), 1);
    assert_eq!(kinds(&run), [DecodeErrorKind::InvalidJson]);
    // In a gzip member too.
    let run = decode(&gzip(format!("\u{feff}{}\n", line("c")).as_bytes()));
    assert_eq!(run.events.len(), 1);
}
