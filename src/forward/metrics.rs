//! `/metrics` (Prometheus text format, rendered with `prometheus-client`) and `/healthz`
//! for the forwarder, on a configurable address (loopback by default).
//!
//! The counters live where the work happens (sources' [`Metrics`], sinks' stats, the
//! loop's own); a scrape reads them all and renders a fresh registry, so nothing here
//! sits on the hot path. Credentials never appear: labels are source and sink keys,
//! which hold no secrets.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::sink::SinkStats;
use crate::sources::metrics::Metrics;

/// The default listen address: loopback only.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:9464";

/// Everything a scrape reads.
#[derive(Debug, Default)]
pub struct Telemetry {
    /// Per source: its key and counters.
    pub sources: Mutex<Vec<(String, Arc<Metrics>)>>,
    /// Per sink: its key and stats, as of the last checkpoint.
    pub sinks: Mutex<Vec<(String, SinkStats)>>,
    /// Events written to every sink.
    pub events: AtomicU64,
    /// Checkpoints saved.
    pub checkpoints: AtomicU64,
    /// False once a source failed or the forwarder is stopping.
    pub healthy: AtomicBool,
}

type Labels = Vec<(String, String)>;

fn counter_family(registry: &mut Registry, name: &str, help: &str, values: &[(Labels, u64)]) {
    let family = Family::<Labels, Counter>::default();
    for (labels, value) in values {
        family.get_or_create(labels).inc_by(*value);
    }
    registry.register(name, help, family);
}

fn gauge_family(registry: &mut Registry, name: &str, help: &str, values: &[(Labels, i64)]) {
    let family = Family::<Labels, Gauge>::default();
    for (labels, value) in values {
        family.get_or_create(labels).set(*value);
    }
    registry.register(name, help, family);
}

/// The Prometheus text of everything.
pub fn render(telemetry: &Telemetry) -> String {
    let mut registry = Registry::with_prefix("eksaudit");
    let sources = telemetry
        .sources
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    let per_source = |read: &dyn Fn(&Metrics) -> u64| -> Vec<(Labels, u64)> {
        sources
            .iter()
            .map(|(key, m)| (vec![("source".to_string(), key.clone())], read(m)))
            .collect()
    };
    counter_family(
        &mut registry,
        "source_records",
        "Kinesis records read",
        &per_source(&|m| Metrics::get(&m.records)),
    );
    counter_family(
        &mut registry,
        "source_record_bytes",
        "Bytes of record data read",
        &per_source(&|m| Metrics::get(&m.record_bytes)),
    );
    counter_family(
        &mut registry,
        "source_get_records_calls",
        "GetRecords calls",
        &per_source(&|m| Metrics::get(&m.get_records_calls)),
    );
    counter_family(
        &mut registry,
        "source_throttles",
        "Calls throttled by AWS",
        &per_source(&|m| Metrics::get(&m.throttles)),
    );
    counter_family(
        &mut registry,
        "source_transient_errors",
        "Calls failed in passing and retried",
        &per_source(&|m| Metrics::get(&m.transient_errors)),
    );
    counter_family(
        &mut registry,
        "source_expired_iterators",
        "Shard iterators replaced after expiry",
        &per_source(&|m| Metrics::get(&m.expired_iterators)),
    );
    counter_family(
        &mut registry,
        "source_leases_taken",
        "Leases taken",
        &per_source(&|m| Metrics::get(&m.leases_taken)),
    );
    counter_family(
        &mut registry,
        "source_leases_lost",
        "Leases lost to another reader",
        &per_source(&|m| Metrics::get(&m.leases_lost)),
    );
    counter_family(
        &mut registry,
        "source_events",
        "Audit events decoded",
        &per_source(&|m| m.decode_stats().events),
    );
    let mut errors = Vec::new();
    let mut lag = Vec::new();
    for (key, m) in &sources {
        for (kind, n) in m.decode_stats().errors_by_kind() {
            errors.push((
                vec![
                    ("source".to_string(), key.clone()),
                    ("kind".to_string(), kind.label().to_string()),
                ],
                n,
            ));
        }
        for (shard, millis) in m.lag() {
            lag.push((
                vec![
                    ("source".to_string(), key.clone()),
                    ("shard".to_string(), shard),
                ],
                millis,
            ));
        }
    }
    counter_family(
        &mut registry,
        "source_decode_errors",
        "Input problems by kind (the first ones of each kind logged one by one, the rest in summaries)",
        &errors,
    );
    gauge_family(
        &mut registry,
        "source_millis_behind_latest",
        "MillisBehindLatest of each shard's last read",
        &lag,
    );
    gauge_family(
        &mut registry,
        "source_shards_reading",
        "Shards being read",
        &sources
            .iter()
            .map(|(key, m)| {
                (
                    vec![("source".to_string(), key.clone())],
                    Metrics::get(&m.shards_reading) as i64,
                )
            })
            .collect::<Vec<_>>(),
    );
    let sinks = telemetry
        .sinks
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    let per_sink = |read: &dyn Fn(&SinkStats) -> u64| -> Vec<(Labels, u64)> {
        sinks
            .iter()
            .map(|(key, s)| (vec![("sink".to_string(), key.clone())], read(s)))
            .collect()
    };
    counter_family(
        &mut registry,
        "sink_events",
        "Events written or delivered",
        &per_sink(&|s| s.events),
    );
    counter_family(
        &mut registry,
        "sink_requests",
        "Requests sent",
        &per_sink(&|s| s.requests),
    );
    counter_family(
        &mut registry,
        "sink_retries",
        "Attempts retried",
        &per_sink(&|s| s.retries),
    );
    counter_family(
        &mut registry,
        "sink_rejected",
        "Events refused for good (dead-lettered)",
        &per_sink(&|s| s.rejected),
    );
    counter_family(
        &mut registry,
        "sink_alerts",
        "Alerts raised",
        &per_sink(&|s| s.alerts),
    );
    counter_family(
        &mut registry,
        "forwarded_events",
        "Events handed to every sink",
        &[(Vec::new(), telemetry.events.load(Ordering::Relaxed))],
    );
    counter_family(
        &mut registry,
        "checkpoints",
        "Checkpoints saved",
        &[(Vec::new(), telemetry.checkpoints.load(Ordering::Relaxed))],
    );
    let mut text = String::new();
    if encode(&mut text, &registry).is_err() {
        text.clear();
    }
    text
}

/// Binds `address` now (so a taken port fails the start) and serves on `runtime`.
pub fn serve(
    runtime: &tokio::runtime::Handle,
    address: SocketAddr,
    telemetry: Arc<Telemetry>,
) -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(address)
        .with_context(|| format!("cannot listen on {address} for /metrics"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let metrics_state = telemetry.clone();
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let telemetry = metrics_state.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        render(&telemetry),
                    )
                }
            }),
        )
        .route(
            "/healthz",
            get(move || {
                let telemetry = telemetry.clone();
                async move {
                    if telemetry.healthy.load(Ordering::Relaxed) {
                        (StatusCode::OK, "ok\n")
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "unhealthy: a source failed or the forwarder is stopping\n",
                        )
                    }
                }
            }),
        );
    runtime.spawn(async move {
        match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!("The metrics listener stopped: {e}");
                }
            }
            Err(e) => tracing::error!("The metrics listener could not start: {e}"),
        }
    });
    tracing::info!(address = %bound, "Serving /metrics and /healthz.");
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let telemetry = Telemetry::default();
        let metrics = Arc::new(Metrics::default());
        metrics.add(&metrics.records, 7);
        telemetry
            .sources
            .lock()
            .unwrap()
            .push(("kinesis:us-east-1:s".into(), metrics));
        telemetry.sinks.lock().unwrap().push((
            "stdout".into(),
            SinkStats {
                events: 3,
                ..SinkStats::default()
            },
        ));
        let text = render(&telemetry);
        assert!(
            text.contains("eksaudit_source_records_total{source=\"kinesis:us-east-1:s\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("eksaudit_sink_events_total{sink=\"stdout\"} 3"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
