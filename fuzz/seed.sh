#!/usr/bin/env bash
# Builds the seed corpora, fuzz/corpus/<target>/ (git-ignored), from the project's own
# data (tests/data, tests/rules, rules/, examples/), Falco's upstream fixtures when present
# (../shared/fixtures/upstream, or $EKSAUDIT_FIXTURES; never committed here), the
# hand-written seeds in fuzz/seeds/<target>/ and the kept crashes in
# fuzz/regressions/<target>/. Inputs are framed as each target reads them (control bytes,
# separators). Existing corpus files are kept: what libFuzzer found stays.
#
#   fuzz/seed.sh [CORPUS_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
fixtures="${EKSAUDIT_FIXTURES:-$repo/../shared/fixtures/upstream}"
out="${1:-$here/corpus}"
mkdir -p "$out"
python3 - "$repo" "$fixtures" "$out" <<'PY'
import glob, gzip, hashlib, json, os, random, sys

import yaml

repo, fixtures, out = sys.argv[1:4]
have_fixtures = os.path.isfile(os.path.join(fixtures, "expectations.json"))
random.seed(13)
counts = {}


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    path = os.path.join(d, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        counts[target] = counts.get(target, 0) + 1


def files(*patterns, base=repo):
    for p in patterns:
        yield from sorted(glob.glob(os.path.join(base, p), recursive=True))


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if path.endswith(".gz") else data


# Documents: whole files, and each line of JSON-lines files.
data_files = list(files("tests/data/events/*", "rules/samples/*"))
if have_fixtures:
    data_files += list(files("falco-*/test/trace_files/**/*.json", "eks-samples/**/*.json*",
                             base=fixtures))
documents = []
for path in data_files:
    data = read(path)
    documents.append(data)
    lines = [l for l in data.split(b"\n") if l.strip()]
    if len(lines) > 1:
        documents += lines


def walk_events(value, found):
    """Audit events inside any JSON value (lists, envelopes' messages, query results)."""
    if isinstance(value, dict):
        if value.get("kind") == "Event":
            found.append(value)
            return
        for key, v in value.items():
            if key in ("message", "value") and isinstance(v, str) and v.startswith("{"):
                try:
                    walk_events(json.loads(v), found)
                except ValueError:
                    pass
            else:
                walk_events(v, found)
    elif isinstance(value, list):
        for v in value:
            walk_events(v, found)


events = []
for doc in documents:
    try:
        walk_events(json.loads(doc), events)
    except ValueError:
        pass
# Events of the rule fixtures (they trigger every bundled rule) and of an hour of traffic.
for path in files("tests/rules/*.yaml"):
    with open(path) as f:
        walk_events(yaml.safe_load(f), events)
traffic = []
for path in files("tests/rules/data/*.jsonl.gz"):
    for line in read(path).split(b"\n"):
        if line.strip():
            walk_events(json.loads(line), traffic)
events += random.sample(traffic, min(150, len(traffic)))
seen, unique = set(), []
for e in events:
    text = json.dumps(e, separators=(",", ":"))
    if text not in seen:
        seen.add(text)
        unique.append(text.encode())
events = unique


def envelope(messages, stream="kube-apiserver-audit-0123456789abcdef"):
    return json.dumps({
        "messageType": "DATA_MESSAGE", "owner": "111122223333",
        "logGroup": "/aws/eks/prod/cluster", "logStream": stream,
        "subscriptionFilters": ["eksaudit"],
        "logEvents": [{"id": str(36000000 + i), "timestamp": 1749718800000 + i,
                       "message": m.decode(errors="replace")} for i, m in enumerate(messages)],
    }, separators=(",", ":")).encode()


small_docs = [d for d in documents if len(d) <= 32768]
envelopes = [envelope(events[i:i + 3]) for i in range(0, min(len(events), 60), 3)]
envelopes.append(b'{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}')
envelopes.append(envelope(events[:2], stream="authenticator-0123"))

# Decoders: the control byte 0x00 = as given; 0x01 = the harness gzips it; 0x40 = a
# Kinesis record; a gzip file as given reaches the inflater's own paths.
for d in small_docs + envelopes:
    put("decode_record", b"\x00" + d)
    put("decode_stream", b"\x00\x07" + d)
for d in envelopes[:10] + small_docs[:20]:
    put("decode_record", b"\x41" + d)
    put("decode_record", b"\x00" + gzip.compress(d, 1))
    put("decode_stream", b"\x01\x40" + d)
    put("decode_stream", b"\x00\xff" + gzip.compress(d, 1))
# Kinesis responses: control, shard, then records (shape, sequence, u16 LE length, data).
def response(records):
    out = b"\x00" + bytes([20]) + b"shardId-000000000000"
    for i, (shape, data) in enumerate(records):
        seq = str(49600000000000000000000000000000000000000000000000000000 + i).encode()
        out += bytes([shape, len(seq)]) + seq + len(data).to_bytes(2, "little") + data
    return out
for i in range(0, min(len(envelopes), 12), 3):
    put("kinesis_records", response([(j % 2, e) for j, e in enumerate(envelopes[i:i + 3])]))
put("kinesis_records", response([(0, e) for e in events[:4]]))
# Log events: 0x20 = an EKS log group name, 0x40 = an account.
for e in events[:200]:
    put("log_event", b"\x60" + e)
for e in events[:20]:
    put("log_event", b"\x20" + e[: len(e) // 2] + b"[Truncated...]")
# JSON layer and fields: documents and events as they are.
for d in small_docs[:200] + events[:300]:
    put("json", d)
for e in events:
    if len(e) <= 16384:
        put("fields", e)
for e in events[:30]:
    put("fields", e + b"\x00/requestObject/spec/containers/0/securityContext")
    put("fields", e + b"\x00command")

# Rules: the files, bundled or upstream; `+` loads a file after the bundled rules.
rules_files = list(files("rules/*.yaml", "tests/data/rules/*.yaml"))
if have_fixtures:
    rules_files += [p for p in files("**/*rules*.yaml", "falco-*/test/rules/**/*.yaml",
                                     base=fixtures) if "falco_rules.yaml" not in p]
def chunks(text, limit=12288):
    """A rules file cut at top-level items into pieces below `limit` bytes."""
    items, current = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith(b"- ") and current:
            items.append(b"".join(current))
            current = []
        current.append(line)
    items.append(b"".join(current))
    piece = b""
    for item in items:
        if piece and len(piece) + len(item) > limit:
            yield piece
            piece = b""
        piece += item
    if piece:
        yield piece


for path in rules_files:
    for i, piece in enumerate(chunks(read(path))):
        put("rules_load", piece)
        if i % 4 == 0:
            put("rules_load", b"+" + piece)
conditions = set()
for path in rules_files:
    try:
        items = yaml.safe_load(read(path)) or []
    except yaml.YAMLError:
        continue
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("condition"), str):
            cond = item["condition"].strip()
            output = item.get("output")
            if isinstance(output, str):
                conditions.add(cond + "\0" + output.strip())
            else:
                conditions.add(cond)
for c in sorted(conditions):
    put("condition", c)

# Source specs: the forwarder example's too.
with open(os.path.join(repo, "examples/forward.yaml")) as f:
    for source in (yaml.safe_load(f) or {}).get("sources", []):
        put("source_spec", source)
put("forward_config", read(os.path.join(repo, "examples/forward.yaml")))

# Hand-written seeds and kept crashes.
for kind in ("seeds", "regressions"):
    for d in sorted(glob.glob(os.path.join(repo, "fuzz", kind, "*"))):
        for path in sorted(glob.glob(os.path.join(d, "*"))):
            put(os.path.basename(d), read(path))

print("seeded %s (upstream fixtures: %s)" % (
    ", ".join("%s +%d" % kv for kv in sorted(counts.items())) or "nothing new",
    "yes" if have_fixtures else "no"))
PY
