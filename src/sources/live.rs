//! The host side of the sources: a tokio runtime running every source, a bounded
//! channel of batches out of it, and commits back into it.
//!
//! Both hosts are synchronous (Falco calls `next_batch` on its own thread; the
//! forwarder's sink loop writes files), so this owns the runtime and offers a blocking
//! [`LiveSources::recv`]. The channel is bounded: when the host is slow, readers wait,
//! and memory stays flat (backpressure).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::checkpoint::State;
use crate::decode::{DecodeOptions, read_path};
use crate::sources::budget::Budget;
use crate::sources::metrics::Metrics;
use crate::sources::{Batch, Commit, SourceMessage, SourceSpec};

/// Events per batch from a file source.
const FILE_BATCH_EVENTS: usize = 512;

/// How sources run.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Decoding options.
    pub decode: DecodeOptions,
    /// AWS profile for the default credentials chain.
    pub profile: Option<String>,
    /// Region for sources whose spec names none (before the SDK's own chain).
    pub region: Option<String>,
    /// Batches that may wait in the channel for the host.
    pub channel_batches: usize,
    /// This process's name in leases.
    pub worker_id: String,
    /// Bytes of decoded events that may wait for the host, over every source.
    pub budget_bytes: usize,
    /// CloudWatch Logs sources end (`SourceMessage::Ended`) once they read up to now,
    /// instead of following (`eksaudit forward --until-caught-up`).
    pub until_caught_up: bool,
    /// Test hook (debug builds only, ignored in release builds): every source task
    /// panics as it starts, to prove a panic becomes a source error for the host.
    #[doc(hidden)]
    pub inject_task_panic: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            decode: DecodeOptions::default(),
            profile: None,
            region: None,
            channel_batches: 16,
            worker_id: default_worker_id(),
            budget_bytes: crate::sources::budget::DEFAULT_BUDGET_BYTES,
            until_caught_up: false,
            inject_task_panic: false,
        }
    }
}

/// `<hostname>:<pid>:<random>`: unique per process, readable in the lease table.
pub fn default_worker_id() -> String {
    let host = crate::host::hostname();
    format!("{host}:{}:{:08x}", std::process::id(), fastrand::u32(..))
}

struct Running {
    key: String,
    commits: Option<mpsc::UnboundedSender<Commit>>,
    metrics: Arc<Metrics>,
    ended: bool,
}

/// Sources running on their own runtime.
pub struct LiveSources {
    runtime: Option<Runtime>,
    /// The sources' main tasks, awaited on shutdown (leases are released then).
    tasks: Vec<tokio::task::JoinHandle<()>>,
    rx: mpsc::Receiver<SourceMessage>,
    sources: Vec<Running>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for LiveSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSources")
            .field(
                "sources",
                &self.sources.iter().map(|s| &s.key).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// One source thread per core the process may use, and at least two: shard readers decode
/// on these threads, so shards decode in parallel on every core, and one shard's decoding
/// never leaves the others' calls to AWS waiting on a single thread. (Files replay on
/// blocking threads of their own.)
fn source_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

impl LiveSources {
    /// Starts every source; `checkpoints` holds the positions saved by a previous run.
    pub fn start(specs: &[SourceSpec], checkpoints: &State, options: &LiveOptions) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(source_threads())
            .thread_name("eksaudit-source")
            .enable_all()
            .build()
            .context("cannot start the source runtime")?;
        let (tx, rx) = mpsc::channel(options.channel_batches.max(1));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut sources = Vec::new();
        let mut tasks = Vec::new();
        let budget = Budget::new(options.budget_bytes);
        for (index, spec) in specs.iter().enumerate() {
            let key = spec.key();
            let metrics = Arc::new(Metrics::default());
            let commits = match spec {
                SourceSpec::File(path) => {
                    let decoder = read_path(path, &options.decode)
                        .with_context(|| format!("cannot open {}", path.display()))?;
                    let out = tx.clone();
                    let partition: Arc<str> = path.display().to_string().into();
                    runtime.spawn_blocking(move || replay_file(index, partition, decoder, out));
                    None
                }
                aws => {
                    let host = Host {
                        runtime: &runtime,
                        options,
                        checkpoints,
                        out: &tx,
                        shutdown: &shutdown_rx,
                        budget: &budget,
                    };
                    let (task, commits) = start_aws(&host, index, aws, &key, &metrics)?;
                    tasks.push(task);
                    commits
                }
            };
            sources.push(Running {
                key,
                commits,
                metrics,
                ended: false,
            });
        }
        Ok(Self {
            runtime: Some(runtime),
            tasks,
            rx,
            sources,
            shutdown,
        })
    }

    /// The next message, waiting at most `timeout`; `None` on timeout.
    pub fn recv(&mut self, timeout: Duration) -> Option<SourceMessage> {
        let runtime = self.runtime.as_ref()?;
        let message = match self.rx.try_recv() {
            Ok(message) => Some(message),
            Err(_) if timeout.is_zero() => None,
            Err(_) => {
                let rx = &mut self.rx;
                runtime
                    .block_on(async { tokio::time::timeout(timeout, rx.recv()).await })
                    .ok()
                    .flatten()
            }
        };
        if let Some(SourceMessage::Ended { source } | SourceMessage::Failed { source, .. }) =
            &message
            && let Some(running) = self.sources.get_mut(*source)
        {
            running.ended = true;
        }
        message
    }

    /// The runtime's handle, for host tasks (the forwarder's `/metrics` listener).
    pub fn handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
    }

    /// A message if one is ready now.
    pub fn try_recv(&mut self) -> Option<SourceMessage> {
        self.recv(Duration::ZERO)
    }

    /// Tells the batch's source that its position was handed on.
    pub fn commit(&self, batch: &Batch) {
        if let (Some(position), Some(running)) = (&batch.position, self.sources.get(batch.source))
            && let Some(commits) = &running.commits
        {
            let _ = commits.send(Commit {
                partition: batch.partition.clone(),
                position: position.clone(),
            });
        }
    }

    /// The key of source `index` (checkpoints are filed under it).
    pub fn key(&self, index: usize) -> &str {
        self.sources.get(index).map_or("", |s| s.key.as_str())
    }

    /// Every source's key and counters.
    pub fn metrics(&self) -> impl Iterator<Item = (&str, &Arc<Metrics>)> {
        self.sources.iter().map(|s| (s.key.as_str(), &s.metrics))
    }

    /// True once every source ended (only finite sources end).
    pub fn all_ended(&self) -> bool {
        self.sources.iter().all(|s| s.ended)
    }

    /// Stops the sources: tells them to stop, then gives them up to `grace` to finish
    /// (last checkpoints written, leases released) before the runtime is dropped.
    pub fn shutdown(&mut self, grace: Duration) {
        let _ = self.shutdown.send(true);
        if let Some(runtime) = self.runtime.take() {
            let tasks = std::mem::take(&mut self.tasks);
            let finished = runtime.block_on(async {
                tokio::time::timeout(grace, async {
                    for task in tasks {
                        let _ = task.await;
                    }
                })
                .await
            });
            if finished.is_err() {
                tracing::warn!("Sources did not stop within {grace:?}; stopping them now.");
            }
            runtime.shutdown_timeout(Duration::from_millis(100));
        }
    }
}

impl Drop for LiveSources {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The pieces of [`LiveSources::start`] a source starts with.
#[cfg_attr(
    not(feature = "aws"),
    allow(dead_code, reason = "read by the AWS sources only")
)]
struct Host<'a> {
    runtime: &'a Runtime,
    options: &'a LiveOptions,
    checkpoints: &'a State,
    out: &'a mpsc::Sender<SourceMessage>,
    shutdown: &'a watch::Receiver<bool>,
    budget: &'a Budget,
}

/// Starts a `kinesis://`, `cloudwatch://` or `s3://` source: its supervised main task,
/// and where its commits go.
#[cfg(feature = "aws")]
fn start_aws(
    host: &Host<'_>,
    index: usize,
    spec: &SourceSpec,
    key: &str,
    metrics: &Arc<Metrics>,
) -> Result<(JoinHandle<()>, Option<mpsc::UnboundedSender<Commit>>)> {
    use crate::sources::{cloudwatch, kinesis, s3};
    let options = host.options;
    Ok(match spec {
        SourceSpec::S3(s3_spec) => {
            let region = s3_spec.region.clone().or(options.region.clone());
            let sdk = host.runtime.block_on(crate::aws::sdk_config(
                region.as_deref(),
                options.profile.as_deref(),
                s3_spec.assume_role.as_ref(),
            ));
            let context = s3::Context {
                source: index,
                spec: (**s3_spec).clone(),
                sdk,
                decode: options.decode.clone(),
                checkpoints: host.checkpoints.source(key),
                out: host.out.clone(),
                shutdown: host.shutdown.clone(),
                metrics: metrics.clone(),
                budget: host.budget.clone(),
            };
            let task = s3::run(context);
            (
                supervise(host.runtime, index, host.out, task, options),
                None,
            )
        }
        SourceSpec::Kinesis(kinesis_spec) => {
            let (commit_tx, commit_rx) = mpsc::unbounded_channel();
            let checkpoints = if kinesis_spec.lease_table.is_some() {
                Default::default()
            } else {
                host.checkpoints.source(key)
            };
            let kinesis_spec = kinesis_spec.clone();
            let region = kinesis_spec.region.clone().or(options.region.clone());
            let sdk = host.runtime.block_on(async {
                let sdk = crate::aws::sdk_config(
                    region.as_deref(),
                    options.profile.as_deref(),
                    kinesis_spec.assume_role.as_ref(),
                )
                .await;
                tokio::time::timeout(
                    Duration::from_secs(30),
                    kinesis::preflight(&kinesis_spec, &sdk),
                )
                .await
                .unwrap_or_else(|_| {
                    tracing::warn!(stream = %kinesis_spec.stream_name, "The stream could not be checked within 30 s; reading anyway.");
                    Ok(())
                })
                .map(|()| sdk)
            });
            let sdk = sdk.map_err(anyhow::Error::msg)?;
            let context = kinesis::Context {
                source: index,
                spec: *kinesis_spec,
                sdk,
                decode: options.decode.clone(),
                checkpoints,
                out: host.out.clone(),
                commits: commit_rx,
                shutdown: host.shutdown.clone(),
                metrics: metrics.clone(),
                worker_id: options.worker_id.clone(),
                budget: host.budget.clone(),
            };
            let task = kinesis::run(context);
            (
                supervise(host.runtime, index, host.out, task, options),
                Some(commit_tx),
            )
        }
        SourceSpec::CloudWatch(cloudwatch_spec) => {
            let (task, commit_tx) = cloudwatch::start(
                host.runtime,
                index,
                cloudwatch_spec,
                host.checkpoints.source(key),
                options,
                host.out.clone(),
                host.shutdown.clone(),
                metrics.clone(),
            )
            .map_err(anyhow::Error::msg)?;
            (
                watch_for_panic(host.runtime, index, host.out, task),
                Some(commit_tx),
            )
        }
        SourceSpec::File(_) => anyhow::bail!("{key} is not an AWS source"),
    })
}

/// Without the `aws` feature, an AWS source is refused when it is opened.
#[cfg(not(feature = "aws"))]
fn start_aws(
    _: &Host<'_>,
    _: usize,
    spec: &SourceSpec,
    _: &str,
    _: &Arc<Metrics>,
) -> Result<(JoinHandle<()>, Option<mpsc::UnboundedSender<Commit>>)> {
    let scheme = match spec {
        SourceSpec::Kinesis(_) => "kinesis",
        SourceSpec::CloudWatch(_) => "cloudwatch",
        SourceSpec::S3(_) => "s3",
        SourceSpec::File(_) => "file",
    };
    anyhow::bail!("{scheme}:// sources need eksaudit built with the `aws` feature (the default)")
}

/// Reads a file source to its end on a blocking thread.
fn replay_file(
    source: usize,
    partition: Arc<str>,
    decoder: crate::decode::InputDecoder<'static>,
    out: mpsc::Sender<SourceMessage>,
) {
    let mut events = Vec::with_capacity(FILE_BATCH_EVENTS);
    let send = |events: Vec<_>| {
        out.blocking_send(SourceMessage::Batch(Batch {
            source,
            partition: partition.clone(),
            events,
            position: None,
            budget: None,
        }))
        .is_ok()
    };
    for decoded in decoder.flatten() {
        events.push(decoded.event);
        if events.len() == FILE_BATCH_EVENTS && !send(std::mem::take(&mut events)) {
            return;
        }
    }
    if (!events.is_empty() && !send(events))
        || out.blocking_send(SourceMessage::Ended { source }).is_err()
    {
        tracing::debug!("host gone before the file source ended");
    }
}

/// Spawns a source's task so that a panic in it cannot end the source in silence: the
/// host gets a [`SourceMessage::Failed`] naming the panic (Falco's `next_batch` returns
/// it as an error; the forwarder logs it and exits non-zero), never a stalled stream.
#[cfg(feature = "aws")]
fn supervise(
    runtime: &Runtime,
    source: usize,
    out: &mpsc::Sender<SourceMessage>,
    task: impl Future<Output = ()> + Send + 'static,
    options: &LiveOptions,
) -> JoinHandle<()> {
    let inject = cfg!(debug_assertions) && options.inject_task_panic;
    let task = runtime.spawn(async move {
        if inject {
            panic!("injected panic in a source task");
        }
        task.await;
    });
    watch_for_panic(runtime, source, out, task)
}

/// Waits for `task`; if it panicked, tells the host the source failed, and why.
#[cfg(feature = "aws")]
fn watch_for_panic(
    runtime: &Runtime,
    source: usize,
    out: &mpsc::Sender<SourceMessage>,
    task: JoinHandle<()>,
) -> JoinHandle<()> {
    let out = out.clone();
    runtime.spawn(async move {
        let Err(error) = task.await else { return };
        if !error.is_panic() {
            return;
        }
        let payload = error.into_panic();
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".to_string());
        tracing::error!(source, "A source task panicked: {text}");
        let _ = out
            .send(SourceMessage::Failed {
                source,
                error: format!("internal error: the source task panicked ({text})"),
            })
            .await;
    })
}

#[cfg(all(test, not(feature = "aws")))]
mod tests {
    use super::*;
    use crate::sources::parse_open_params;

    #[test]
    fn aws_sources_are_refused_without_the_aws_feature() {
        for (params, scheme) in [
            ("kinesis://eks-audit", "kinesis"),
            ("cloudwatch:///aws/eks/prod/cluster", "cloudwatch"),
            ("s3://bucket/AWSLogs/", "s3"),
        ] {
            let spec = parse_open_params(params).unwrap();
            let error = LiveSources::start(&[spec], &State::default(), &LiveOptions::default())
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "{scheme}:// sources need eksaudit built with the `aws` feature (the default)"
                )
            );
        }
    }
}
