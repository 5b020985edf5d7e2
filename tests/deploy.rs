//! The deployment files: `falco-config/` (falco.yaml fragments, Helm values) and the
//! `Dockerfile`. No Falco, Docker or Kubernetes runs here, so this checks what can go
//! wrong in them without one: they parse; every path they name exists in the image that
//! runs them (from the Dockerfile's COPY destinations); the plugin's init_config, turned
//! into JSON the way Falco does, passes the published schema and the plugin's own checks;
//! and every field the bundled rules and these files use is one the plugin or Falco's json
//! plugin provides. Also the IAM policies of `deploy/iam/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use eksaudit::plugin_config::InitConfig;
use eksaudit::rules::ast::Expr;
use eksaudit::rules::yaml::{Kind, Node, load_all, to_bool};
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The one YAML document of a file, a mapping.
fn yaml(path: &str) -> Node {
    let mut docs = load_all(&read(path)).unwrap_or_else(|e| panic!("{path}: {e:?}"));
    assert_eq!(docs.len(), 1, "{path}: one YAML document");
    let doc = docs.remove(0);
    assert!(doc.is_map(), "{path}: a mapping at the top");
    doc
}

fn scalar<'a>(node: &'a Node, key: &str, at: &str) -> &'a str {
    node.get(key)
        .and_then(Node::scalar)
        .unwrap_or_else(|| panic!("{at}: no scalar {key}"))
}

fn scalars(node: Option<&Node>) -> Vec<String> {
    node.map(|n| {
        n.items()
            .iter()
            .filter_map(|i| i.scalar())
            .map(String::from)
            .collect()
    })
    .unwrap_or_default()
}

/// A YAML node as the JSON Falco makes of it (its `YAML::convert<nlohmann::json>`): a
/// scalar is an integer, else a float, else a boolean, else a string; an empty mapping
/// becomes `null` (which is why `init_config: {}` reaches the plugin as `null`).
fn falco_json(node: &Node) -> Value {
    match &node.kind {
        Kind::Null => Value::Null,
        Kind::Scalar(s) => {
            if let Ok(i) = s.parse::<i64>() {
                i.into()
            } else if let Some(f) = s.parse::<f64>().ok().filter(|f| f.is_finite()) {
                f.into()
            } else if let Some(b) = to_bool(s) {
                b.into()
            } else {
                s.clone().into()
            }
        }
        Kind::Seq(items) => items.iter().map(falco_json).collect(),
        Kind::Map(members) if members.is_empty() => Value::Null,
        Kind::Map(members) => members
            .iter()
            .map(|(k, v)| (k.key_text(), falco_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// The files an image holds, from the Dockerfile: every COPY destination (a directory
/// copy brings the repository directory's files), plus the plugins `falcoctl artifact
/// install` puts in its `--plugins-dir`. By stage name.
fn image_files() -> BTreeMap<String, BTreeSet<String>> {
    let mut stages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stage = String::new();
    for line in joined_lines(&read("Dockerfile")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first().copied() {
            Some("FROM") => {
                let name = words.iter().position(|w| w.eq_ignore_ascii_case("AS"));
                stage = name.map(|i| words[i + 1].to_string()).unwrap_or_default();
            }
            Some("COPY") => {
                let args: Vec<&str> = words[1..]
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let from_builder = words.iter().any(|w| w.starts_with("--from="));
                let (dest, sources) = args.split_last().expect("COPY has a destination");
                let files = stages.entry(stage.clone()).or_default();
                for source in sources {
                    let local = repo(source);
                    if !from_builder && local.is_dir() {
                        for entry in std::fs::read_dir(&local).unwrap() {
                            let name = entry.unwrap().file_name();
                            files.insert(format!("{dest}/{}", name.to_string_lossy()));
                        }
                    } else if dest.ends_with('/') || sources.len() > 1 {
                        let name = Path::new(source).file_name().unwrap().to_string_lossy();
                        files.insert(format!("{dest}{name}"));
                    } else {
                        if !from_builder {
                            assert!(local.exists(), "COPY {source}: not in the repository");
                        }
                        files.insert(dest.to_string());
                    }
                }
            }
            Some("RUN") if line.contains("falcoctl artifact install") => {
                let dir = words
                    .iter()
                    .position(|w| *w == "--plugins-dir")
                    .map(|i| words[i + 1])
                    .unwrap_or("/usr/share/falco/plugins");
                // Artifact references: `<plugin>:<version>`.
                let plugins = words
                    .iter()
                    .filter_map(|w| w.split_once(':'))
                    .filter(|(p, _)| p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
                for (plugin, _version) in plugins {
                    stages
                        .entry(stage.clone())
                        .or_default()
                        .insert(format!("{dir}/lib{plugin}.so"));
                }
            }
            _ => {}
        }
    }
    stages
}

/// Dockerfile instructions, continuation lines joined, comments dropped.
fn joined_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(trimmed);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    lines
}

/// A path Falco will find among `files`: the file itself, or a directory holding some.
fn exists(files: &BTreeSet<String>, path: &str) -> bool {
    let dir = format!("{}/", path.trim_end_matches('/'));
    files.contains(path) || files.iter().any(|f| f.starts_with(&dir))
}

/// The fields a condition reads.
fn condition_fields(condition: &str, out: &mut BTreeSet<String>) {
    let expr = eksaudit::rules::parser::parse(condition, 1000)
        .unwrap_or_else(|e| panic!("{condition}: {e:?}"));
    expr.walk(&mut |e| {
        if let Expr::Field { name, .. } = e {
            out.insert(name.clone());
        }
    });
}

/// The fields an output format prints (`%field`, `%field[arg]`).
fn output_fields(output: &str, out: &mut BTreeSet<String>) {
    let mut rest = output;
    while let Some(i) = rest.find('%') {
        rest = &rest[i + 1..];
        if let Ok((Expr::Field { name, .. }, used)) =
            eksaudit::rules::parser::parse_field_or_transformer(rest)
        {
            out.insert(name);
            rest = &rest[used..];
        }
    }
}

/// Every `condition` and `output` in a YAML tree, and `append_output` entries.
fn fields_in(node: &Node, out: &mut BTreeSet<String>) {
    match &node.kind {
        Kind::Map(members) => {
            for (key, value) in members {
                match (key.key_text().as_str(), value.scalar()) {
                    ("condition", Some(c)) => condition_fields(c, out),
                    ("output" | "extra_output", Some(o)) => output_fields(o, out),
                    ("extra_fields", None) => out.extend(scalars(Some(value))),
                    _ => fields_in(value, out),
                }
            }
        }
        Kind::Seq(items) => items.iter().for_each(|i| fields_in(i, out)),
        _ => {}
    }
}

/// The fields Falco has with this plugin and the json plugin loaded: `eksaudit fields
/// --json` lists both, with who provides each.
fn provided_fields() -> BTreeMap<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args(["fields", "--json"])
        .output()
        .expect("run eksaudit fields");
    assert!(out.status.success());
    let fields: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    fields
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["provider"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What the falco.yaml fragments hold, checked the same way for each.
fn check_falco_config(path: &str, config: &Node, files: &BTreeSet<String>, mode: Option<&str>) {
    let plugins = config
        .get("plugins")
        .unwrap_or_else(|| panic!("{path}: no plugins"));
    let mut names = Vec::new();
    for plugin in plugins.items() {
        let name = scalar(plugin, "name", path);
        names.push(name.to_string());
        let library = scalar(plugin, "library_path", path);
        // Falco resolves a relative library_path in its plugins directory.
        let library = if library.starts_with('/') {
            library.to_string()
        } else {
            format!("/usr/share/falco/plugins/{library}")
        };
        assert!(
            files.contains(&library),
            "{path}: plugin {name}: {library} is not in the image"
        );
        if name == "k8saudit-eks" {
            let init = plugin
                .get("init_config")
                .map(falco_json)
                .unwrap_or(Value::Null);
            let text = if init.is_null() && plugin.get("init_config").is_none() {
                "{}".to_string()
            } else {
                init.to_string()
            };
            let InitConfig(parsed) = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path}: init_config {text} refused: {e}"));
            parsed
                .validate()
                .unwrap_or_else(|e| panic!("{path}: init_config {text}: {e}"));
            let schema =
                serde_json::to_value(falco_plugin::schemars::schema_for!(InitConfig)).unwrap();
            let known = schema["properties"].as_object().unwrap();
            for key in init.as_object().into_iter().flat_map(|o| o.keys()) {
                assert!(known.contains_key(key), "{path}: init_config key {key}");
            }
            let params = scalar(plugin, "open_params", path);
            if let Some(mode) = mode {
                assert!(params.starts_with(mode), "{path}: open_params {params}");
            }
        }
    }
    assert!(
        names.contains(&"k8saudit-eks".to_string()),
        "{path}: {names:?}"
    );
    assert!(names.contains(&"json".to_string()), "{path}: {names:?}");
    let loaded = scalars(config.get("load_plugins"));
    assert_eq!(loaded, ["k8saudit-eks", "json"], "{path}: load_plugins");
    let rules = scalars(config.get("rules_files"));
    assert!(!rules.is_empty(), "{path}: no rules_files");
    for rules_path in &rules {
        assert!(
            exists(files, rules_path),
            "{path}: rules {rules_path} not in the image"
        );
    }
}

#[test]
fn falco_config_fragments_load_in_the_falco_image() {
    let images = image_files();
    let falco = &images["falco"];
    assert!(
        falco.contains("/usr/share/falco/plugins/libeksaudit.so"),
        "{falco:?}"
    );
    assert!(
        falco.contains("/usr/share/falco/plugins/libjson.so"),
        "{falco:?}"
    );
    for (path, mode) in [
        ("falco-config/kinesis.yaml", Some("kinesis://")),
        ("falco-config/cloudwatch.yaml", Some("cloudwatch://")),
        ("falco-config/falco.yaml", Some("file://")),
    ] {
        let config = yaml(path);
        check_falco_config(path, &config, falco, mode);
        // The fragments are in the image where its CMD and the README say.
        let name = Path::new(path).file_name().unwrap().to_string_lossy();
        assert!(
            falco.contains(&format!("/etc/eksaudit/falco-config/{name}")),
            "{path} is not copied into the image"
        );
        if mode != Some("file://") {
            assert_eq!(
                scalar(config.get("engine").unwrap(), "kind", path),
                "nodriver"
            );
            let metrics = config.get("metrics").unwrap();
            assert_eq!(scalar(metrics, "enabled", path), "true");
            assert_eq!(scalar(metrics, "plugins_metrics_enabled", path), "true");
        }
    }
}

#[test]
fn helm_values_deliver_the_plugin_by_an_init_container() {
    let images = image_files();
    let values = yaml("falco-config/helm-values.yaml");
    let at = "helm-values.yaml";
    assert_eq!(
        scalar(values.get("driver").unwrap(), "enabled", at),
        "false"
    );
    assert!(scalar(values.get("image").unwrap(), "tag", at).starts_with("0.44.1"));
    let role = values
        .get("serviceAccount")
        .and_then(|s| s.get("annotations"))
        .and_then(|a| a.get("eks.amazonaws.com/role-arn"))
        .and_then(Node::scalar)
        .expect("IRSA role annotation");
    assert!(
        role.starts_with("arn:aws:iam::") && role.contains(":role/"),
        "{role}"
    );
    // The chart passes `--disable-source syscall` when the driver is off; Falco refuses it
    // together with --enable-source.
    let extra = values.get("extra").unwrap();
    assert!(
        !scalars(extra.get("args"))
            .iter()
            .any(|a| a == "--enable-source"),
        "--enable-source conflicts with the chart's --disable-source syscall"
    );
    let collectors = values.get("collectors").unwrap();
    assert_eq!(scalar(collectors, "enabled", at), "false");
    let metrics = values.get("metrics").unwrap();
    assert_eq!(scalar(metrics, "enabled", at), "true");
    assert_eq!(scalar(metrics, "pluginsMetricsEnabled", at), "true");

    // What the init container copies from the image into each volume...
    let mut volume_files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for init in extra.get("initContainers").unwrap().items() {
        let command = scalars(init.get("command"));
        assert_eq!(
            command.first().map(String::as_str),
            Some("cp"),
            "{command:?}"
        );
        let (dest, sources) = command[1..].split_last().unwrap();
        for source in sources {
            assert!(
                images["falco"].contains(source),
                "init container copies {source}, which the falco image does not have"
            );
        }
        for mount in init.get("volumeMounts").unwrap().items() {
            let mount_path = scalar(mount, "mountPath", at).trim_end_matches('/');
            if dest.trim_end_matches('/') == mount_path {
                let names = sources.iter().map(|s| {
                    Path::new(s)
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                });
                volume_files
                    .entry(scalar(mount, "name", at).to_string())
                    .or_default()
                    .extend(names);
            }
        }
    }
    // ...is what Falco's container sees where that volume is mounted.
    let mut falco_files = BTreeSet::new();
    for mount in values
        .get("mounts")
        .unwrap()
        .get("volumeMounts")
        .unwrap()
        .items()
    {
        let name = scalar(mount, "name", at);
        let dir = scalar(mount, "mountPath", at).trim_end_matches('/');
        for file in volume_files.get(name).into_iter().flatten() {
            falco_files.insert(format!("{dir}/{file}"));
        }
    }
    assert!(!falco_files.is_empty(), "no plugin files reach Falco");
    check_falco_config(
        at,
        values.get("falco").unwrap(),
        &falco_files,
        Some("kinesis://"),
    );
}

#[test]
fn every_field_used_is_provided_by_the_plugin_or_the_json_plugin() {
    let mut used = BTreeSet::new();
    for path in [
        "rules/eksaudit_rules.yaml",
        "falco-config/kinesis.yaml",
        "falco-config/cloudwatch.yaml",
        "falco-config/falco.yaml",
        "falco-config/helm-values.yaml",
    ] {
        for doc in load_all(&read(path)).unwrap() {
            fields_in(&doc, &mut used);
        }
    }
    // The bundled rules and the append_output entries read these at least.
    for expected in [
        "ka.verb",
        "ka.user.name",
        "eks.iam.arn",
        "eks.cluster",
        "eks.account",
    ] {
        assert!(used.contains(expected), "{expected} not found in {used:?}");
    }
    let provided = provided_fields();
    assert!(provided.values().any(|p| p == "json-plugin"));
    // Falco's own fields, present for every source.
    let falco_own = [
        "evt.time",
        "evt.time.iso8601",
        "evt.source",
        "evt.plugininfo",
    ];
    let missing: Vec<&String> = used
        .iter()
        .filter(|f| {
            !falco_own.contains(&f.as_str())
                && !matches!(
                    provided.get(*f).map(String::as_str),
                    Some("plugin" | "json-plugin")
                )
        })
        .collect();
    assert!(missing.is_empty(), "fields no plugin provides: {missing:?}");
}

#[test]
fn dockerfile_builds_with_cis_command_and_pins_falco() {
    let text = read("Dockerfile");
    let lines = joined_lines(&text);
    let builds: Vec<&String> = lines.iter().filter(|l| l.contains("cargo build")).collect();
    assert_eq!(
        builds,
        ["RUN cargo build --release --locked"],
        "the build command .ci/run runs"
    );
    assert!(
        read(".ci/run").contains("eval \"$docker_build\""),
        ".ci/run runs the Dockerfile's build"
    );
    let falco_from = lines
        .iter()
        .find(|l| l.starts_with("ARG FALCO_IMAGE="))
        .expect("the Falco image is an ARG");
    assert_eq!(
        falco_from,
        "ARG FALCO_IMAGE=falcosecurity/falco:0.44.1-debian"
    );
    let stages: Vec<&String> = lines.iter().filter(|l| l.starts_with("FROM")).collect();
    assert_eq!(stages.len(), 3, "{stages:?}");
    // The forwarder: the binary only, as a non-root user.
    let images = image_files();
    assert_eq!(
        images["forwarder"].iter().collect::<Vec<_>>(),
        ["/usr/local/bin/eksaudit"]
    );
    let forwarder = text.split("AS forwarder").nth(1).unwrap();
    let forwarder = forwarder.split("\nFROM").next().unwrap();
    let user = forwarder
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER in the forwarder stage");
    assert!(
        !user.starts_with("0") && !user.starts_with("root"),
        "{user}"
    );
}

/// The least-privilege IAM policies of `deploy/iam/`: IAM policy documents (version
/// 2012-10-17), Allow only, every action of the mode and nothing else, and no resource
/// left as `*`.
#[test]
fn iam_policies_are_least_privilege_documents() {
    let expected: [(&str, &[&str]); 7] = [
        (
            "kinesis-reader.json",
            &[
                "kinesis:DescribeStreamSummary",
                "kinesis:ListShards",
                "kinesis:GetShardIterator",
                "kinesis:GetRecords",
                "kinesis:RegisterStreamConsumer",
                "kinesis:DescribeStreamConsumer",
                "kinesis:SubscribeToShard",
            ],
        ),
        (
            "kinesis-leases.json",
            &[
                "dynamodb:CreateTable",
                "dynamodb:DescribeTable",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Scan",
            ],
        ),
        (
            "cloudwatch-reader.json",
            &[
                "logs:FilterLogEvents",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
            ],
        ),
        ("assume-role.json", &["sts:AssumeRole"]),
        ("s3-history-reader.json", &["s3:ListBucket", "s3:GetObject"]),
        ("sns-alerts.json", &["sns:Publish"]),
        (
            // `eksaudit aws setup` and `aws check`, run by the operator onboarding a cluster.
            "onboarding-operator.json",
            &[
                "eks:DescribeCluster",
                "eks:UpdateClusterConfig",
                "eks:ListUpdates",
                "eks:DescribeUpdate",
                "logs:CreateLogGroup",
                "logs:DescribeSubscriptionFilters",
                "logs:PutSubscriptionFilter",
                "logs:DescribeLogStreams",
                "logs:DescribeLogGroups",
                "kinesis:CreateStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:ListShards",
                "kinesis:GetShardIterator",
                "kinesis:GetRecords",
                "iam:GetRole",
                "iam:CreateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:GetRolePolicy",
                "iam:PutRolePolicy",
                "iam:PassRole",
            ],
        ),
    ];
    let listed: BTreeSet<String> = std::fs::read_dir(repo("deploy/iam"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let names: BTreeSet<String> = expected.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(listed, names, "deploy/iam holds exactly these policies");
    for (name, actions) in expected {
        let path = format!("deploy/iam/{name}");
        let policy: Value =
            serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(policy["Version"], "2012-10-17", "{path}");
        let mut granted = BTreeSet::new();
        for statement in policy["Statement"].as_array().expect("Statement list") {
            assert_eq!(statement["Effect"], "Allow", "{path}");
            assert!(
                statement["Sid"].is_string(),
                "{path}: every statement says why"
            );
            let list = |v: &Value| -> Vec<String> {
                match v {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
                    other => panic!("{path}: {other}"),
                }
            };
            let resources = list(&statement["Resource"]);
            assert!(!resources.is_empty(), "{path}");
            for resource in &resources {
                assert!(
                    resource.starts_with("arn:aws:"),
                    "{path}: resource {resource}"
                );
            }
            for action in list(&statement["Action"]) {
                assert!(!action.contains('*'), "{path}: wildcard action {action}");
                let service = action.split(':').next().unwrap();
                assert!(
                    resources.iter().all(|r| {
                        let arn_service = r.split(':').nth(2).unwrap();
                        arn_service == service || (service == "sts" && arn_service == "iam")
                    }),
                    "{path}: {action} on {resources:?}"
                );
                granted.insert(action);
            }
        }
        let wanted: BTreeSet<String> = actions.iter().map(|a| a.to_string()).collect();
        assert_eq!(granted, wanted, "{path}");
    }
    // Enhanced fan-out is its own statement, so it can be dropped for polling readers.
    let reader: Value = serde_json::from_str(&read("deploy/iam/kinesis-reader.json")).unwrap();
    let statements = reader["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    assert!(
        statements[1]["Action"]
            .as_array()
            .unwrap()
            .contains(&Value::from("kinesis:SubscribeToShard"))
    );
    // The operator may hand the delivery role to CloudWatch Logs and to nothing else.
    let operator: Value =
        serde_json::from_str(&read("deploy/iam/onboarding-operator.json")).unwrap();
    let pass = operator["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Action"][0] == "iam:PassRole")
        .expect("a PassRole statement");
    assert_eq!(
        pass["Condition"]["StringEquals"]["iam:PassedToService"],
        "logs.amazonaws.com"
    );
    assert_eq!(
        pass["Resource"],
        "arn:aws:iam::111122223333:role/eksaudit-cwl-*"
    );
    // The CloudWatch Logs reader reads EKS cluster log groups only.
    let cloudwatch: Value =
        serde_json::from_str(&read("deploy/iam/cloudwatch-reader.json")).unwrap();
    assert_eq!(
        cloudwatch["Statement"][0]["Resource"],
        "arn:aws:logs:*:111122223333:log-group:/aws/eks/*"
    );
}

/// Each mode's policy against the code of that mode: every AWS operation its source files
/// call (`client.op_name()`, matched against the operations the SDK crates define) is
/// granted by the policy, and the policy grants nothing the code does not call, so the
/// documented least privilege cannot drift from what the code needs.
#[test]
fn iam_policies_match_the_api_calls_the_code_makes() {
    // (policy, the code of the mode, the SDK crates it calls through, actions granted
    // for calls made outside that code: the SDK's own credential provider assumes the
    // role; `aws setup` and `aws check` read the stream with the reader's calls.)
    let modes: [(&str, &[&str], &[&str]); 6] = [
        (
            "kinesis-reader.json",
            &[
                "src/sources/kinesis/mod.rs",
                "src/sources/kinesis/shard.rs",
                "src/sources/kinesis/efo.rs",
            ],
            &["kinesis"],
        ),
        (
            "kinesis-leases.json",
            &["src/sources/kinesis/lease.rs"],
            &["dynamodb"],
        ),
        (
            "cloudwatch-reader.json",
            &["src/sources/cloudwatch"],
            &["cloudwatchlogs"],
        ),
        ("s3-history-reader.json", &["src/sources/s3.rs"], &["s3"]),
        ("sns-alerts.json", &["src/forward/sns.rs"], &["sns"]),
        (
            "onboarding-operator.json",
            &["src/aws/setup.rs", "src/aws/check.rs", "src/aws/onboard.rs"],
            &["eks", "cloudwatchlogs", "kinesis", "iam"],
        ),
    ];
    let operations = sdk_operations();
    let call = regex::Regex::new(r"\.([a-z][a-z0-9_]*)\(\)").unwrap();
    for (policy, code, crates) in modes {
        let mut called = BTreeSet::new();
        for file in code.iter().flat_map(|c| rust_files(&repo(c))) {
            let text = std::fs::read_to_string(&file).unwrap();
            // Test modules call the SDK to set up fixtures, not as the mode does.
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for name in call.captures_iter(text).map(|c| c[1].to_string()) {
                for sdk in crates {
                    if operations[*sdk].contains(&name) {
                        called.insert(iam_action(sdk, &name));
                    }
                }
            }
        }
        let granted = granted_actions(&format!("deploy/iam/{policy}"));
        // PassRole is checked by IAM when CloudWatch Logs is handed the delivery role;
        // it has no API call of its own.
        let implicit: BTreeSet<String> = ["iam:PassRole".to_string()].into();
        let missing: Vec<_> = called.difference(&granted).collect();
        assert!(
            missing.is_empty(),
            "{policy} lacks {missing:?} (called by {code:?})"
        );
        let unused: Vec<_> = granted
            .difference(&called)
            .filter(|a| !implicit.contains(*a))
            .collect();
        assert!(
            unused.is_empty(),
            "{policy} grants {unused:?}, which {code:?} never calls"
        );
    }
}

/// The snake_case operation names of each SDK crate this project depends on, from its
/// `src/operation/` modules (located with `cargo metadata`).
fn sdk_operations() -> BTreeMap<String, BTreeSet<String>> {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut operations = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let Some(sdk) = package["name"]
            .as_str()
            .and_then(|n| n.strip_prefix("aws-sdk-"))
        else {
            continue;
        };
        let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap());
        let dir = manifest.parent().unwrap().join("src/operation");
        let names = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        operations.insert(sdk.to_string(), names);
    }
    operations
}

/// `kinesis` + `get_records` → `kinesis:GetRecords`; S3's listing is `s3:ListBucket`.
fn iam_action(sdk: &str, operation: &str) -> String {
    let prefix = match sdk {
        "cloudwatchlogs" => "logs",
        other => other,
    };
    if sdk == "s3" && operation.starts_with("list_objects") {
        return "s3:ListBucket".to_string();
    }
    let pascal: String = operation
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("{prefix}:{pascal}")
}

/// Every action a policy file allows.
fn granted_actions(path: &str) -> BTreeSet<String> {
    let policy: Value = serde_json::from_str(&read(path)).unwrap();
    let mut granted = BTreeSet::new();
    for statement in policy["Statement"].as_array().unwrap() {
        match &statement["Action"] {
            Value::String(a) => {
                granted.insert(a.clone());
            }
            Value::Array(list) => {
                granted.extend(list.iter().map(|a| a.as_str().unwrap().to_string()));
            }
            other => panic!("{path}: {other}"),
        }
    }
    granted
}

/// `path` if it is a file, else the `.rs` files under it.
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.unwrap().path())
        .flat_map(|p| rust_files(&p))
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    files
}
