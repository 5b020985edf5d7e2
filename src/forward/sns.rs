//! The alerts sink's SNS target (the `aws` feature): a readable subject, the JSON alert
//! as the message.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::sink::SinkStats;
use crate::aws::{Failure, backoff, classify, error_text};
use crate::rules::Alert;

/// Publishes alerts to an SNS topic, retrying throttling and passing faults.
pub(super) struct SnsPublisher {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_sns::Client,
    topic: String,
    stop: Arc<AtomicBool>,
}

impl SnsPublisher {
    pub(super) fn new(topic: &str, stop: Arc<AtomicBool>) -> Result<Self> {
        let region = topic.split(':').nth(3).map(str::to_string);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the SNS runtime")?;
        let config = runtime.block_on(crate::aws::sdk_config(region.as_deref(), None, None));
        Ok(Self {
            runtime,
            client: aws_sdk_sns::Client::new(&config),
            topic: topic.to_string(),
            stop,
        })
    }

    pub(super) fn publish(&self, alert: &Alert, json: &str, stats: &mut SinkStats) -> Result<()> {
        // SNS subjects: at most 100 printable ASCII characters.
        let subject: String = format!("Falco {}: {}", alert.priority, alert.rule)
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .take(100)
            .collect();
        let mut attempt = 0u32;
        loop {
            stats.requests += 1;
            let sent = self.runtime.block_on(
                self.client
                    .publish()
                    .topic_arn(&self.topic)
                    .subject(&subject)
                    .message(json)
                    .send(),
            );
            match sent {
                Ok(_) => return Ok(()),
                Err(e) => match classify(&e) {
                    Failure::Throttled | Failure::Transient
                        if !self.stop.load(Ordering::Relaxed) =>
                    {
                        stats.retries += 1;
                        let wait =
                            backoff(attempt, Duration::from_millis(200), Duration::from_secs(30));
                        attempt = attempt.saturating_add(1);
                        tracing::warn!(topic = %self.topic, "SNS Publish failed ({}); retrying in {wait:?}.", error_text(&e));
                        std::thread::sleep(wait);
                    }
                    _ => bail!(
                        "SNS topic {}: Publish failed: {}; the caller needs sns:Publish on it",
                        self.topic,
                        error_text(&e)
                    ),
                },
            }
        }
    }
}
