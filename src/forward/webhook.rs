//! The Falco k8saudit webhook sink, and the HTTP delivery it shares with alerts.
//!
//! Events are POSTed as `EventList` documents below `max_batch_bytes`, with
//! `Content-Type: application/json`, the way the API server's webhook backend does.
//! Connection errors, 5xx and 429 are retried with exponential backoff for as long as it
//! takes (the sources wait meanwhile); any other 4xx is the receiver refusing that batch
//! for good: it is logged, counted and written to the dead-letter file, never retried.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ureq::Agent;
use ureq::tls::{ClientCert, PemItem, RootCerts, TlsConfig};

use super::sink::{SinkStats, WebhookSpec, open_append, write_line};
use crate::aws::backoff;
use crate::event::AuditEvent;

const EVENT_LIST_HEAD: &[u8] =
    br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":["#;
const EVENT_LIST_TAIL: &[u8] = b"]}";

/// How a POST went.
#[derive(Debug)]
pub enum Delivery {
    /// 2xx.
    Accepted,
    /// Refused for good (4xx other than 408/429), with the status and the reason.
    Refused(u16, String),
}

/// An HTTP client that retries passing failures until they pass or the forwarder stops.
#[derive(Debug)]
pub struct Poster {
    agent: Agent,
    url: String,
    bearer: Option<Secret>,
    stop: Arc<AtomicBool>,
}

/// A credential held in memory: its `Debug` form is a placeholder, so no log line or
/// panic message can carry it.
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Poster {
    /// A client for `url` with TLS from the system roots or `ca_file`, an optional client
    /// certificate, and an optional bearer token.
    pub fn new(
        url: &str,
        ca_file: Option<&Path>,
        client: Option<(&Path, &Path)>,
        bearer_token_file: Option<&Path>,
        timeout: Duration,
        stop: Arc<AtomicBool>,
    ) -> Result<Self> {
        let mut tls = TlsConfig::builder().root_certs(RootCerts::PlatformVerifier);
        if let Some(ca) = ca_file {
            let certs = certificates(ca)?;
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        if let Some((cert, key)) = client {
            let chain = certificates(cert)?;
            let key_pem =
                std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?;
            let key = ureq::tls::PrivateKey::from_pem(&key_pem)
                .with_context(|| format!("{} holds no PEM private key", key.display()))?;
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        let agent: Agent = Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        let bearer = match bearer_token_file {
            Some(path) => Some(Secret(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .trim()
                    .to_string(),
            )),
            None => None,
        };
        Ok(Self {
            agent,
            url: url.to_string(),
            bearer,
            stop,
        })
    }

    /// POSTs `body` as JSON, retrying connection errors, 5xx, 408 and 429 with backoff.
    pub fn post(&self, body: &[u8], stats: &mut SinkStats) -> Result<Delivery> {
        let mut attempt = 0u32;
        loop {
            stats.requests += 1;
            let mut request = self
                .agent
                .post(&self.url)
                .header("Content-Type", "application/json");
            if let Some(Secret(token)) = &self.bearer {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            let why = match request.send(body) {
                Ok(response) => {
                    let status = response.status().as_u16();
                    if (200..300).contains(&status) {
                        return Ok(Delivery::Accepted);
                    }
                    let text = response
                        .into_body()
                        .read_to_string()
                        .unwrap_or_default()
                        .chars()
                        .take(300)
                        .collect::<String>();
                    if (400..500).contains(&status) && status != 408 && status != 429 {
                        return Ok(Delivery::Refused(status, text));
                    }
                    format!("HTTP {status} {}", text.trim())
                }
                Err(e) => e.to_string(),
            };
            if self.stop.load(Ordering::Relaxed) {
                bail!("{}: stopping while retrying ({why})", self.url);
            }
            let wait = backoff(attempt, Duration::from_millis(200), Duration::from_secs(30));
            attempt = attempt.saturating_add(1);
            stats.retries += 1;
            if attempt == 1 || attempt.is_power_of_two() {
                tracing::warn!(url = %self.url, attempt, wait_ms = wait.as_millis() as u64, "Delivery failed ({why}); retrying.");
            }
            sleep_unless_stopped(wait, &self.stop);
        }
    }
}

/// Sleeps `wait`, waking early when `stop` turns true.
fn sleep_unless_stopped(wait: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < wait && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step.min(wait - slept));
        slept += step;
    }
}

fn certificates(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

/// The webhook sink.
#[derive(Debug)]
pub struct WebhookSink {
    poster: Poster,
    max_batch_bytes: usize,
    /// The `EventList` being filled.
    body: Vec<u8>,
    items: usize,
    dead_letter: Option<(BufWriter<File>, std::path::PathBuf)>,
    stats: SinkStats,
}

impl WebhookSink {
    /// Opens the sink (reads TLS files and the token; no request yet).
    pub fn open(spec: &WebhookSpec, stop: Arc<AtomicBool>) -> Result<Self> {
        spec.validate().map_err(anyhow::Error::msg)?;
        let client = spec.client_cert.as_deref().zip(spec.client_key.as_deref());
        let poster = Poster::new(
            &spec.url,
            spec.ca_file.as_deref(),
            client,
            spec.bearer_token_file.as_deref(),
            Duration::from_secs(spec.timeout_secs),
            stop,
        )?;
        let dead_letter = match &spec.dead_letter {
            Some(path) => Some((BufWriter::new(open_append(path, None)?.0), path.clone())),
            None => None,
        };
        Ok(Self {
            poster,
            max_batch_bytes: spec.max_batch_bytes,
            body: Vec::new(),
            items: 0,
            dead_letter,
            stats: SinkStats::default(),
        })
    }

    /// What it did so far.
    pub fn stats(&self) -> &SinkStats {
        &self.stats
    }

    /// Adds an event to the batch, sending the batch first if it would grow too large.
    pub fn write(&mut self, event: &AuditEvent) -> Result<()> {
        let payload = event.payload();
        let needed = payload.len() + 1 + EVENT_LIST_TAIL.len();
        if self.items > 0 && self.body.len() + needed > self.max_batch_bytes {
            self.send()?;
        }
        if self.items == 0 {
            self.body.clear();
            self.body.extend_from_slice(EVENT_LIST_HEAD);
        } else {
            self.body.push(b',');
        }
        self.body.extend_from_slice(payload);
        self.items += 1;
        Ok(())
    }

    /// Sends what is batched.
    pub fn flush(&mut self) -> Result<()> {
        if self.items > 0 {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<()> {
        self.body.extend_from_slice(EVENT_LIST_TAIL);
        let items = self.items as u64;
        match self.poster.post(&self.body, &mut self.stats)? {
            Delivery::Accepted => self.stats.events += items,
            Delivery::Refused(status, reason) => {
                self.stats.rejected += items;
                tracing::error!(url = %self.poster.url, status, events = items, "The webhook refused a batch ({reason}); not retried{}.", if self.dead_letter.is_some() { ", written to the dead-letter file" } else { " (no dead_letter file configured: the events are dropped)" });
                // One refused EventList per line: `eksaudit replay` reads it back.
                if let Some((out, path)) = &mut self.dead_letter {
                    write_line(out, &self.body)
                        .and_then(|()| out.flush())
                        .and_then(|()| out.get_ref().sync_data())
                        .with_context(|| format!("dead-letter file {}", path.display()))?;
                }
            }
        }
        self.items = 0;
        self.body.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_token_never_shows_in_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cr3t-token-value\n").unwrap();
        let poster = Poster::new(
            "https://127.0.0.1:1/k8s-audit",
            None,
            None,
            Some(&token),
            Duration::from_secs(1),
            Arc::default(),
        )
        .unwrap();
        let shown = format!("{poster:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
