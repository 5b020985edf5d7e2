//! `eksaudit aws setup` and `eksaudit aws check` as real processes against moto (EKS,
//! IAM, CloudWatch Logs with subscription delivery, Kinesis, STS): every resource and IAM
//! document checked through the SDK, a second run that changes nothing, a dry run that
//! creates nothing, and a check that fails before setup and passes once records flow.

use std::process::{Command, Stdio};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_eks::types::{LogType, VpcConfigRequest};
use serde_json::{Value, json};

use crate::proxy::{Fault, Proxy};
use crate::support::*;

/// The account and caller moto answers with.
const ACCOUNT: &str = "123456789012";

/// `eksaudit ARGS` against moto: exit code, stdout, stderr.
fn eksaudit(args: &[&str]) -> (Option<i32>, String, String) {
    eksaudit_at(endpoint(), args)
}

/// `eksaudit ARGS` against the emulator (or proxy) at `endpoint`.
fn eksaudit_at(endpoint: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_REGION")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .expect("eksaudit runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An EKS cluster in moto, audit logging off (moto's default, as in AWS).
async fn create_cluster(eks: &aws_sdk_eks::Client, name: &str) {
    eks.create_cluster()
        .name(name)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/eks-cluster"))
        .resources_vpc_config(
            VpcConfigRequest::builder()
                .subnet_ids("subnet-0a1b2c3d")
                .subnet_ids("subnet-4e5f6a7b")
                .build(),
        )
        .send()
        .await
        .expect("CreateCluster");
}

async fn audit_logging_on(eks: &aws_sdk_eks::Client, name: &str) -> bool {
    let out = eks
        .describe_cluster()
        .name(name)
        .send()
        .await
        .expect("DescribeCluster");
    out.cluster().and_then(|c| c.logging()).is_some_and(|l| {
        l.cluster_logging()
            .iter()
            .any(|s| s.enabled() == Some(true) && s.types().contains(&LogType::Audit))
    })
}

/// A role's trust policy and one inline policy, parsed (IAM returns them URL-encoded).
async fn role_documents(iam: &aws_sdk_iam::Client, role: &str, policy: &str) -> (Value, Value) {
    let got = iam
        .get_role()
        .role_name(role)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetRole {role}: {e:?}"));
    let trust = got
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .expect("a trust policy");
    let inline = iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetRolePolicy {role} {policy}: {e:?}"));
    (decode_doc(trust), decode_doc(inline.policy_document()))
}

fn decode_doc(text: &str) -> Value {
    serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&percent_decode(text)))
        .unwrap_or_else(|e| panic!("not a policy document ({e}): {text}"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8")
}

/// The JSON documents a dry run printed under `title:` for the step naming `subject`.
fn printed_document(stdout: &str, subject: &str, title: &str) -> Value {
    let mut lines = stdout.lines().skip_while(|l| !l.contains(subject));
    lines
        .next()
        .unwrap_or_else(|| panic!("no step {subject}:\n{stdout}"));
    let mut lines = lines.skip_while(|l| l.trim() != format!("{title}:"));
    lines
        .next()
        .unwrap_or_else(|| panic!("no {title} after {subject}:\n{stdout}"));
    let text: String = lines
        .take_while(|l| l.starts_with("    "))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Lines that report a step (the first word says what happened to it).
fn step_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| {
            ["created ", "updated ", "already ", "would "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

/// Setup with a reader role: every resource exists with our documents; a second run
/// changes nothing and says so; a trust policy changed by hand is put back ("updated").
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn setup_creates_the_chain_and_a_second_run_changes_nothing() {
    let rt = runtime();
    let config = sdk_config();
    let eks = aws_sdk_eks::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let cluster = unique("setup");
    rt.block_on(create_cluster(&eks, &cluster));
    assert!(!rt.block_on(audit_logging_on(&eks, &cluster)));

    let args = [
        "aws",
        "setup",
        "--cluster",
        &cluster,
        "--reader-account",
        "444455556666",
        "--external-id",
        "vendor-42",
    ];
    let (code, stdout, stderr) = eksaudit(&args);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let steps = step_lines(&stdout);
    assert_eq!(steps.len(), 8, "{stdout}");
    assert!(steps[0].starts_with("updated") && steps[0].contains("audit logging"));
    assert!(
        steps[1..].iter().all(|l| l.starts_with("created ")),
        "{stdout}"
    );
    assert!(stdout.contains("Done: 7 created, 1 updated, 0 already in place."));
    assert!(
        stdout.starts_with(&format!(
            "Cluster {cluster} in us-east-1, account {ACCOUNT}, as arn:aws:sts::{ACCOUNT}:user/moto\n"
        )),
        "where the changes go comes first: {stdout}"
    );

    let stream = format!("eks-audit-{cluster}");
    let stream_arn = format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{stream}");
    let group = format!("/aws/eks/{cluster}/cluster");
    let logs_role = format!("eksaudit-cwl-{cluster}");
    let reader_role = format!("eksaudit-reader-{cluster}");
    assert!(
        stdout.contains(&format!(
            "kinesis://{stream_arn}?role_arn=arn:aws:iam::{ACCOUNT}:role/{reader_role}&external_id=vendor-42"
        )),
        "the reader is told what to open: {stdout}"
    );
    rt.block_on(async {
        assert!(audit_logging_on(&eks, &cluster).await);

        let summary = kinesis
            .describe_stream_summary()
            .stream_name(&stream)
            .send()
            .await
            .expect("the stream exists");
        let summary = summary.stream_description_summary().unwrap();
        assert_eq!(summary.stream_status().as_str(), "ACTIVE");
        assert_eq!(
            summary
                .stream_mode_details()
                .map(|m| m.stream_mode().as_str()),
            Some("ON_DEMAND")
        );
        assert_eq!(summary.stream_arn(), stream_arn);

        let groups = logs
            .describe_log_groups()
            .log_group_name_prefix(&group)
            .send()
            .await
            .unwrap();
        assert!(
            groups
                .log_groups()
                .iter()
                .any(|g| g.log_group_name() == Some(group.as_str()))
        );

        let (trust, put) = role_documents(&iam, &logs_role, "eksaudit-put-records").await;
        assert_eq!(
            trust["Statement"][0]["Principal"],
            json!({"Service": "logs.us-east-1.amazonaws.com"})
        );
        assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
        assert_eq!(
            trust["Statement"][0]["Condition"],
            json!({"StringLike": {"aws:SourceArn": format!("arn:aws:logs:us-east-1:{ACCOUNT}:*")}})
        );
        assert_eq!(
            put["Statement"][0]["Action"],
            json!(["kinesis:PutRecord", "kinesis:PutRecords"])
        );
        assert_eq!(put["Statement"][0]["Resource"], stream_arn.as_str());

        let filters = logs
            .describe_subscription_filters()
            .log_group_name(&group)
            .send()
            .await
            .unwrap();
        let filters = filters.subscription_filters();
        assert_eq!(filters.len(), 1);
        assert_eq!(filters[0].filter_name(), Some("eksaudit"));
        assert_eq!(filters[0].destination_arn(), Some(stream_arn.as_str()));
        assert_eq!(
            filters[0].role_arn(),
            Some(format!("arn:aws:iam::{ACCOUNT}:role/{logs_role}").as_str())
        );
        assert_eq!(filters[0].filter_pattern().unwrap_or_default(), "");

        let (trust, read) = role_documents(&iam, &reader_role, "eksaudit-read-stream").await;
        assert_eq!(
            trust["Statement"][0]["Principal"],
            json!({"AWS": "arn:aws:iam::444455556666:root"})
        );
        assert_eq!(
            trust["Statement"][0]["Condition"],
            json!({"StringEquals": {"sts:ExternalId": "vendor-42"}})
        );
        // The same actions as deploy/iam/kinesis-reader.json, on this stream.
        let deployed: Value =
            serde_json::from_str(include_str!("../../deploy/iam/kinesis-reader.json")).unwrap();
        for i in 0..2 {
            assert_eq!(
                read["Statement"][i]["Action"],
                deployed["Statement"][i]["Action"]
            );
        }
        assert_eq!(read["Statement"][0]["Resource"], stream_arn.as_str());
    });

    // Again: nothing changes, and it says so.
    let (code, stdout, stderr) = eksaudit(&args);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let steps = step_lines(&stdout);
    assert_eq!(steps.len(), 8, "{stdout}");
    assert!(steps.iter().all(|l| l.starts_with("already ")), "{stdout}");
    assert!(
        stdout.contains("Nothing changed: all 8 steps already in place."),
        "{stdout}"
    );

    // A trust policy loosened by hand is put back, and only that step changes.
    rt.block_on(async {
        let loose = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "logs.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        iam.update_assume_role_policy()
            .role_name(&logs_role)
            .policy_document(loose.to_string())
            .send()
            .await
            .unwrap();
    });
    let (code, stdout, stderr) = eksaudit(&args);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let changed: Vec<&str> = step_lines(&stdout)
        .into_iter()
        .filter(|l| !l.starts_with("already "))
        .collect();
    assert_eq!(changed.len(), 1, "{stdout}");
    assert!(
        changed[0].starts_with("updated ") && changed[0].contains(&logs_role),
        "{stdout}"
    );
    let (trust, _) = rt.block_on(role_documents(&iam, &logs_role, "eksaudit-put-records"));
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "logs.us-east-1.amazonaws.com"
    );
}

/// A dry run on a fresh cluster calls no mutating API (nothing exists afterwards) and
/// prints the plan with the exact documents the real run then writes.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn dry_run_creates_nothing_and_prints_the_documents() {
    let rt = runtime();
    let config = sdk_config();
    let eks = aws_sdk_eks::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let cluster = unique("dry");
    let stream = unique("dry-stream");
    rt.block_on(create_cluster(&eks, &cluster));
    let args = [
        "aws",
        "setup",
        "--cluster",
        &cluster,
        "--stream",
        &stream,
        "--reader-account",
        "444455556666",
        "--external-id",
        "vendor-42",
        "--dry-run",
    ];
    let (code, stdout, stderr) = eksaudit(&args);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let steps = step_lines(&stdout);
    assert_eq!(steps.len(), 8, "{stdout}");
    assert!(steps[0].starts_with("would update") && steps[0].contains("audit logging"));
    assert!(steps[1..].iter().all(|l| l.starts_with("would create ")));
    assert!(stdout.contains("Dry run: 7 would be created, 1 updated, 0 already in place."));
    let logs_role = format!("eksaudit-cwl-{cluster}");
    let reader_role = format!("eksaudit-reader-{cluster}");
    let trust = printed_document(&stdout, &format!("IAM role {logs_role}"), "trust policy");
    let put = printed_document(
        &stdout,
        &format!("inline policy eksaudit-put-records of IAM role {logs_role}"),
        "permissions policy",
    );
    let reader_trust =
        printed_document(&stdout, &format!("IAM role {reader_role}"), "trust policy");
    assert_eq!(
        reader_trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
        "vendor-42"
    );
    assert_eq!(
        put["Statement"][0]["Resource"],
        format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{stream}")
    );

    rt.block_on(async {
        assert!(!audit_logging_on(&eks, &cluster).await, "logging untouched");
        let role = iam.get_role().role_name(&logs_role).send().await;
        assert!(role.is_err(), "no role created: {role:?}");
        let role = iam.get_role().role_name(&reader_role).send().await;
        assert!(role.is_err(), "no reader role created: {role:?}");
        let summary = kinesis
            .describe_stream_summary()
            .stream_name(&stream)
            .send()
            .await;
        assert!(summary.is_err(), "no stream created");
        let groups = logs
            .describe_log_groups()
            .log_group_name_prefix(format!("/aws/eks/{cluster}/"))
            .send()
            .await
            .unwrap();
        assert!(groups.log_groups().is_empty(), "no log group created");
    });

    // The real run writes exactly what the dry run printed.
    let real: Vec<&str> = args[..args.len() - 1].to_vec();
    let (code, stdout, stderr) = eksaudit(&real);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let (written_trust, written_put) =
        rt.block_on(role_documents(&iam, &logs_role, "eksaudit-put-records"));
    assert_eq!(written_trust, trust);
    assert_eq!(written_put, put);
    let (written_reader_trust, _) =
        rt.block_on(role_documents(&iam, &reader_role, "eksaudit-read-stream"));
    assert_eq!(written_reader_trust, reader_trust);

    // And a dry run now has nothing to do.
    let (code, stdout, _) = eksaudit(&args);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("Nothing would change: all 8 steps already in place."),
        "{stdout}"
    );
}

/// `aws check` before setup: exit 1, each missing link named with the command that fixes
/// it. After setup but before any event: records are not flowing yet. After a log event
/// (moto delivers it through the subscription filter): exit 0, every link ok.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn check_fails_before_setup_and_passes_once_records_flow() {
    let rt = runtime();
    let config = sdk_config();
    let eks = aws_sdk_eks::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let cluster = unique("check");
    rt.block_on(create_cluster(&eks, &cluster));
    let check = ["aws", "check", "--cluster", &cluster];
    let fix = format!("fix: eksaudit aws setup --cluster {cluster} --region us-east-1");

    let (code, stdout, stderr) = eksaudit(&check);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "FAIL  audit logging        audit logging is off for EKS cluster {cluster}"
        )),
        "{stdout}"
    );
    assert!(stdout.contains(&fix), "{stdout}");
    assert!(
        stdout.contains("--logging '{\"clusterLogging\":[{\"types\":[\"audit\"],\"enabled\":true}]}' (IAM action eks:UpdateClusterConfig)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "log group /aws/eks/{cluster}/cluster does not exist in us-east-1"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "Kinesis stream eks-audit-{cluster} does not exist"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "ok    identity             arn:aws:sts::{ACCOUNT}:"
        )),
        "the caller is named: {stdout}"
    );
    assert!(stdout.contains("checks failed"), "{stdout}");

    let (code, stdout, stderr) = eksaudit(&["aws", "setup", "--cluster", &cluster]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");

    // Set up, but EKS has written nothing yet.
    let (code, stdout, stderr) = eksaudit(&check);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok    audit logging"), "{stdout}");
    assert!(stdout.contains("ok    subscription filter"), "{stdout}");
    assert!(stdout.contains("ok    read access"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "FAIL  records flowing      no records on the stream eks-audit-{cluster}"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("1 of 7 checks failed."), "{stdout}");

    // EKS writes an audit event; moto delivers it through the filter to the stream.
    let group = format!("/aws/eks/{cluster}/cluster");
    rt.block_on(async {
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name("kube-apiserver-audit-0123456789abcdef")
            .send()
            .await
            .unwrap();
        logs.put_log_events()
            .log_group_name(&group)
            .log_stream_name("kube-apiserver-audit-0123456789abcdef")
            .log_events(
                InputLogEvent::builder()
                    .timestamp(now_ms())
                    .message(audit_event("check-1").to_string())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    });
    let (code, stdout, stderr) = eksaudit(&check);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "ok    records flowing      1 records arrived on eks-audit-{cluster} in the last 15 min, the newest "
        )),
        "{stdout}"
    );
    assert!(stdout.contains("All 7 checks passed."), "{stdout}");

    // A stream the filter does not deliver to is named as such.
    let other = unique("elsewhere");
    let (code, stdout, _) = eksaudit(&["aws", "check", "--cluster", &cluster, "--stream", &other]);
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains(&format!(
            "no subscription filter on {group} delivers to the Kinesis stream {other} (it has: eksaudit → arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/eks-audit-{cluster})"
        )),
        "{stdout}"
    );
}

/// Errors name the API call; a cluster that does not exist stops setup before any change.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn setup_of_a_missing_cluster_changes_nothing() {
    let cluster = unique("nosuch");
    let (code, stdout, stderr) = eksaudit(&["aws", "setup", "--cluster", &cluster]);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "no EKS cluster \"{cluster}\" in us-east-1 (account {ACCOUNT}): check --cluster and --region"
        )),
        "{stderr}"
    );
    assert!(step_lines(&stdout).is_empty(), "{stdout}");
    let (code, _, stderr) = eksaudit(&[
        "aws",
        "setup",
        "--cluster",
        &cluster,
        "--reader-account",
        "12",
        "--external-id",
        "x-y",
    ]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--reader-account must be a 12-digit AWS account id"));
}

/// What an operator made by hand is kept: a PROVISIONED stream stays PROVISIONED, and a
/// filter of another name already delivering to the stream is not doubled (two filters
/// to one stream would deliver every event twice).
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn setup_keeps_a_hand_made_stream_and_filter() {
    let rt = runtime();
    let config = sdk_config();
    let eks = aws_sdk_eks::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let cluster = unique("byhand");
    let stream = format!("eks-audit-{cluster}");
    let stream_arn = format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{stream}");
    let group = format!("/aws/eks/{cluster}/cluster");
    rt.block_on(async {
        create_cluster(&eks, &cluster).await;
        create_stream(&kinesis, &stream, 1).await;
        logs.create_log_group()
            .log_group_name(&group)
            .send()
            .await
            .unwrap();
        logs.put_subscription_filter()
            .log_group_name(&group)
            .filter_name("to-kinesis")
            .filter_pattern("")
            .destination_arn(&stream_arn)
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/handmade"))
            .send()
            .await
            .unwrap();
    });
    let (code, stdout, stderr) = eksaudit(&["aws", "setup", "--cluster", &cluster]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "already      Kinesis stream {stream} (PROVISIONED, 1 open shards, ACTIVE)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("already      log group {group}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "already      subscription filter to-kinesis on {group} to {stream_arn}"
        )),
        "{stdout}"
    );
    rt.block_on(async {
        let filters = logs
            .describe_subscription_filters()
            .log_group_name(&group)
            .send()
            .await
            .unwrap();
        let names: Vec<_> = filters
            .subscription_filters()
            .iter()
            .filter_map(|f| f.filter_name())
            .collect();
        assert_eq!(names, ["to-kinesis"]);
        let summary = kinesis
            .describe_stream_summary()
            .stream_name(&stream)
            .send()
            .await
            .unwrap();
        assert_eq!(
            summary
                .stream_description_summary()
                .and_then(|s| s.stream_mode_details())
                .map(|m| m.stream_mode().as_str()),
            Some("PROVISIONED")
        );
    });
}

/// Events reach the log group after the filter was put, yet the stream is empty: `aws
/// check` says CloudWatch Logs cannot deliver, and points at the role.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn check_names_a_delivery_that_does_not_arrive() {
    let rt = runtime();
    let config = sdk_config();
    let eks = aws_sdk_eks::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let cluster = unique("nodeliver");
    let stream = format!("eks-audit-{cluster}");
    let group = format!("/aws/eks/{cluster}/cluster");
    rt.block_on(create_cluster(&eks, &cluster));
    let (code, stdout, stderr) = eksaudit(&["aws", "setup", "--cluster", &cluster]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    rt.block_on(async {
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name("kube-apiserver-audit-1")
            .send()
            .await
            .unwrap();
        logs.put_log_events()
            .log_group_name(&group)
            .log_stream_name("kube-apiserver-audit-1")
            .log_events(
                InputLogEvent::builder()
                    .timestamp(now_ms())
                    .message(audit_event("lost-1").to_string())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        // The record moto delivered goes with the stream; the new one is empty.
        kinesis
            .delete_stream()
            .stream_name(&stream)
            .send()
            .await
            .unwrap();
        create_stream(&kinesis, &stream, 1).await;
    });
    let (code, stdout, stderr) = eksaudit(&["aws", "check", "--cluster", &cluster]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "FAIL  records flowing      {group} has events since the subscription filter was put (newest "
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "but no record reached the stream {stream} in the last 15 min: CloudWatch Logs cannot deliver to it"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("(rewrites the filter's role: trust logs.<region>.amazonaws.com, kinesis:PutRecord and kinesis:PutRecords on the stream)"),
        "{stdout}"
    );
}

/// A denied call stops setup with the API call, the IAM action and the caller named; the
/// steps before it stay done, and the next run resumes where it stopped.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn a_denied_call_is_named_and_the_next_run_resumes() {
    let rt = runtime();
    let eks = aws_sdk_eks::Client::new(&sdk_config());
    let cluster = unique("denied");
    rt.block_on(create_cluster(&eks, &cluster));
    let proxy = Proxy::start(
        endpoint(),
        Box::new(|target, _| {
            (target == "Logs_20140328.PutSubscriptionFilter").then_some(Fault::AccessDenied)
        }),
    );
    let args = ["aws", "setup", "--cluster", &cluster];
    let (code, stdout, stderr) = eksaudit_at(&proxy.url, &args);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert_eq!(
        proxy.count(Fault::AccessDenied),
        1,
        "denied at once, not retried"
    );
    assert!(
        stderr.contains("CloudWatch Logs PutSubscriptionFilter on subscription filter eksaudit"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "arn:aws:sts::{ACCOUNT}:user/moto needs the IAM action logs:PutSubscriptionFilter (and iam:PassRole on the role)"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("run it again to resume"), "{stderr}");
    assert_eq!(
        step_lines(&stdout).len(),
        5,
        "the steps before it: {stdout}"
    );
    drop(proxy);

    let (code, stdout, stderr) = eksaudit(&args);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let steps = step_lines(&stdout);
    assert_eq!(steps.len(), 6, "{stdout}");
    assert!(
        steps[..5].iter().all(|l| l.starts_with("already ")),
        "{stdout}"
    );
    assert!(
        steps[5].starts_with("created      subscription filter eksaudit"),
        "{stdout}"
    );
}

/// Our identity may not read the stream: `aws check` names the call, the IAM action and
/// the policy to attach, and skips what needs reading.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn check_names_the_permission_a_reader_lacks() {
    let rt = runtime();
    let eks = aws_sdk_eks::Client::new(&sdk_config());
    let cluster = unique("noread");
    rt.block_on(create_cluster(&eks, &cluster));
    let (code, stdout, stderr) = eksaudit(&["aws", "setup", "--cluster", &cluster]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let proxy = Proxy::start(
        endpoint(),
        Box::new(|target, _| {
            (target == "Kinesis_20131202.ListShards").then_some(Fault::AccessDenied)
        }),
    );
    let (code, stdout, stderr) = eksaudit_at(&proxy.url, &["aws", "check", "--cluster", &cluster]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let stream = format!("eks-audit-{cluster}");
    assert!(
        stdout.contains(&format!(
            "FAIL  read access          Kinesis ListShards on Kinesis stream {stream} failed: AccessDeniedException"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "(arn:aws:sts::{ACCOUNT}:user/moto needs the IAM action kinesis:ListShards on Kinesis stream {stream})"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "fix: attach deploy/iam/kinesis-reader.json (kinesis:DescribeStreamSummary, kinesis:ListShards, kinesis:GetShardIterator, kinesis:GetRecords on arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{stream}) to arn:aws:sts::{ACCOUNT}:user/moto"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("skip  records flowing      needs read access"),
        "{stdout}"
    );
    assert!(stdout.contains("ok    stream"), "{stdout}");
}
