//! `eksaudit aws setup` and `eksaudit aws check`: the onboarding, by API. The logic is in
//! `eksaudit::aws::{setup, check}`; this file parses arguments and prints.

use std::io::{self, Write};

use anyhow::{Context, Result};
use eksaudit::aws::check::{self, CheckOptions, Status};
use eksaudit::aws::onboard::{Clients, shell_word};
use eksaudit::aws::policy;
use eksaudit::aws::setup::{self, Change, Reader, SetupOptions, Step};

use super::Outcome;

/// `eksaudit aws …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Set up the AWS side for one cluster: audit logging, an ON_DEMAND Kinesis stream, the
    /// IAM role CloudWatch Logs assumes, the subscription filter, and optionally a
    /// cross-account reader role.
    ///
    /// Idempotent: every step reads first and changes only what differs; each prints
    /// `created`, `updated` or `already`, and a second run changes nothing. --dry-run
    /// calls only reading APIs and prints the plan with the exact IAM documents.
    ///
    /// The operator running it needs eks:DescribeCluster, eks:UpdateClusterConfig
    /// (eks:ListUpdates and eks:DescribeUpdate optional), logs:DescribeLogGroups,
    /// logs:CreateLogGroup, logs:DescribeSubscriptionFilters, logs:PutSubscriptionFilter,
    /// kinesis:DescribeStreamSummary, kinesis:CreateStream, iam:GetRole, iam:CreateRole,
    /// iam:UpdateAssumeRolePolicy, iam:GetRolePolicy, iam:PutRolePolicy, and iam:PassRole on
    /// the role CloudWatch Logs assumes (deploy/iam/onboarding-operator.json).
    Setup(SetupArgs),
    /// Check the chain EKS → CloudWatch Logs → subscription → Kinesis → eksaudit, and say
    /// what is missing and how to fix it. Read-only; exit 0 when all is well, 1 otherwise.
    Check(CheckArgs),
}

/// Arguments of `eksaudit aws setup`.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// The EKS cluster.
    #[arg(long, value_name = "NAME")]
    cluster: String,
    /// AWS region of the cluster (default: the SDK's chain: AWS_REGION, profile).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// AWS shared-config profile for credentials.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// The Kinesis stream (default: eks-audit-<cluster>).
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
    /// Also create a role this account may assume to read the stream (cross-account).
    #[arg(long, value_name = "ID", requires = "external_id")]
    reader_account: Option<String>,
    /// The ExternalId the reader account must present (required with --reader-account).
    #[arg(long, value_name = "X", requires = "reader_account")]
    external_id: Option<String>,
    /// Print the plan and the IAM documents; call only reading APIs.
    #[arg(long)]
    dry_run: bool,
}

/// Arguments of `eksaudit aws check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The EKS cluster.
    #[arg(long, value_name = "NAME")]
    cluster: String,
    /// AWS region of the cluster (default: the SDK's chain: AWS_REGION, profile).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// AWS shared-config profile for credentials.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// The Kinesis stream (default: the one the subscription filter names, else
    /// eks-audit-<cluster>).
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
}

/// Runs `eksaudit aws …`.
pub fn run(command: Command) -> Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match command {
        Command::Setup(args) => runtime.block_on(run_setup(args)),
        Command::Check(args) => runtime.block_on(run_check(args)),
    }
}

async fn clients(region: Option<&str>, profile: Option<&str>) -> Clients {
    Clients::new(&eksaudit::aws::sdk_config(region, profile, None).await)
}

async fn run_setup(args: SetupArgs) -> Result<Outcome> {
    // Unbuffered lines: each step shows as it is done (a new stream can take a minute).
    let mut out = io::stdout();
    let reader = match (&args.reader_account, &args.external_id) {
        (Some(account), Some(external_id)) => Some(Reader::new(account, external_id)?),
        _ => None,
    };
    let clients = clients(args.region.as_deref(), args.profile.as_deref()).await;
    let mut options = SetupOptions::new(&args.cluster);
    options.stream = args.stream.clone();
    options.reader = reader.clone();
    options.dry_run = args.dry_run;
    let dry = args.dry_run;
    // Where the changes go, before any is made: a wrong profile shows here.
    let identity = clients
        .identity()
        .await
        .context("cannot tell who the credentials are")?;
    writeln!(
        out,
        "Cluster {} in {}, account {}, as {}",
        args.cluster, identity.target.region, identity.target.account, identity.arn
    )?;
    if dry {
        writeln!(
            out,
            "Dry run: only reading APIs are called; nothing is changed."
        )?;
    }
    // A closed stdout does not stop the setup halfway: the steps go on, and the error is
    // returned at the end (the caller ends quietly on a broken pipe).
    let mut write_error: Option<io::Error> = None;
    let summary = setup::setup(&clients, &options, |step| {
        if write_error.is_none()
            && let Err(e) = print_step(&mut out, step, dry)
        {
            write_error = Some(e);
        }
    })
    .await
    .context("aws setup stopped; the steps above are done, run it again to resume")?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let (created, updated, already) = (
        summary.count(Change::Created),
        summary.count(Change::Updated),
        summary.count(Change::Already),
    );
    if !summary.changed() {
        writeln!(
            out,
            "Nothing {}: all {already} steps already in place.",
            if dry { "would change" } else { "changed" }
        )?;
    } else if dry {
        writeln!(
            out,
            "Dry run: {created} would be created, {updated} updated, {already} already in place."
        )?;
    } else {
        writeln!(
            out,
            "Done: {created} created, {updated} updated, {already} already in place."
        )?;
    }
    let region = summary
        .identity
        .as_ref()
        .map(|i| i.target.region.clone())
        .unwrap_or_default();
    let mut check = format!(
        "eksaudit aws check --cluster {} --region {}",
        shell_word(&args.cluster),
        shell_word(&region)
    );
    if let Some(stream) = &args.stream {
        check.push_str(&format!(" --stream {}", shell_word(stream)));
    }
    writeln!(out, "Next: {check}")?;
    match (&summary.reader_role_arn, &reader) {
        (Some(role), Some(reader)) => writeln!(
            out,
            "Read it from account {}: kinesis://{}?role_arn={}&external_id={} (that identity needs sts:AssumeRole on the role: deploy/iam/assume-role.json)",
            reader.account,
            summary.stream_arn,
            role,
            encode(&reader.external_id)
        )?,
        _ => writeln!(
            out,
            "Read it: kinesis://{}?region={region}",
            options
                .stream
                .clone()
                .unwrap_or_else(|| policy::default_stream(&args.cluster))
        )?,
    }
    Ok(Outcome::Clean)
}

/// One line per step; in a dry run, the IAM documents after it.
fn print_step(out: &mut impl Write, step: &Step, dry: bool) -> io::Result<()> {
    let verb = match (step.change, dry) {
        (Change::Created, false) => "created",
        (Change::Updated, false) => "updated",
        (Change::Created, true) => "would create",
        (Change::Updated, true) => "would update",
        (Change::Already, _) => "already",
    };
    writeln!(out, "{verb:<12} {}", step.what)?;
    if dry {
        for (title, document) in &step.documents {
            writeln!(out, "  {title}:")?;
            for line in policy::to_pretty(document).lines() {
                writeln!(out, "    {line}")?;
            }
        }
    }
    Ok(())
}

/// Percent-encodes what a `kinesis://` query value cannot hold as is.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn run_check(args: CheckArgs) -> Result<Outcome> {
    let mut out = io::stdout();
    let clients = clients(args.region.as_deref(), args.profile.as_deref()).await;
    let options = CheckOptions {
        cluster: args.cluster,
        stream: args.stream,
    };
    let report = check::check(&clients, &options).await?;
    for finding in &report.findings {
        let mark = match finding.status {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Skipped => "skip",
        };
        writeln!(out, "{mark:<5} {:<20} {}", finding.check, finding.detail)?;
        for fix in &finding.fix {
            writeln!(out, "{:<26} fix: {fix}", "")?;
        }
    }
    let failed = report
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .count();
    if report.passed() {
        writeln!(out, "All {} checks passed.", report.findings.len())?;
        Ok(Outcome::Clean)
    } else {
        writeln!(
            out,
            "{failed} of {} checks failed{}.",
            report.findings.len(),
            match report
                .findings
                .iter()
                .filter(|f| f.status == Status::Skipped)
                .count()
            {
                0 => String::new(),
                n => format!(", {n} skipped"),
            }
        )?;
        Ok(Outcome::Problems)
    }
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn external_ids_are_encoded_for_kinesis_urls() {
        assert_eq!(encode("vendor-42"), "vendor-42");
        assert_eq!(encode("a=b&c/d"), "a%3Db%26c%2Fd");
    }
}
