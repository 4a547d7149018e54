//! `GET /metrics`: the run in Prometheus' exposition (OpenMetrics text), built from the latest
//! snapshot at each scrape. Counters are the run's totals (Prometheus takes their rate), latency
//! histograms the run's fixed buckets ([`crate::metrics::BUCKET_BOUNDS_US`]), so quantiles come
//! from merged buckets across loaders, never from averaged percentiles.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::knobs::{self, Value};
use crate::metrics::{BUCKET_BOUNDS_US, ErrorKind, LatencyBuckets, Snapshot};

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition of `snapshot`, or of no run (between the runs of a matrix or a sweep).
pub fn render(snapshot: Option<std::sync::Arc<Snapshot>>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Run(snapshot)));
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

#[derive(Debug)]
struct Run(Option<std::sync::Arc<Snapshot>>);

impl Collector for Run {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let running = self.0.is_some();
        gauge(
            &mut encoder,
            "casstop_running",
            "1 while a run is going on",
            running as i64,
        )?;
        let Some(s) = &self.0 else {
            return Ok(());
        };
        let t = &s.totals;
        let i = &s.interval;

        let mut writes = encoder.encode_descriptor(
            "casstop_writes",
            "requests answered, by outcome (a timeout is an error: maybe written)",
            None,
            MetricType::Counter,
        )?;
        for (outcome, count) in [("ok", t.ok), ("error", t.errors.total())] {
            ConstCounter::new(count).encode(writes.encode_family(&[("outcome", outcome)])?)?;
        }
        let mut errors = encoder.encode_descriptor(
            "casstop_write_errors",
            "failed requests by kind",
            None,
            MetricType::Counter,
        )?;
        for kind in ErrorKind::ALL {
            ConstCounter::new(t.errors.get(kind))
                .encode(errors.encode_family(&[("kind", kind.name())])?)?;
        }
        counter(
            &mut encoder,
            "casstop_writes_issued",
            "requests sent",
            t.issued,
        )?;
        let mut rows = encoder.encode_descriptor(
            "casstop_rows",
            "rows in answered requests: ok = written, maybe = in timed-out requests",
            None,
            MetricType::Counter,
        )?;
        for (outcome, count) in [("ok", t.ok_rows), ("maybe", t.maybe_rows)] {
            ConstCounter::new(count).encode(rows.encode_family(&[("outcome", outcome)])?)?;
        }
        gauge(
            &mut encoder,
            "casstop_in_flight",
            "requests in flight at the last interval's end",
            i64::from(i.in_flight),
        )?;
        gauge_f64(
            &mut encoder,
            "casstop_in_flight_mean",
            "mean requests in flight over the last interval (time-weighted)",
            i.in_flight_mean,
        )?;
        histogram(
            &mut encoder,
            "casstop_service_time_seconds",
            "time from a request's send to its answer",
            &t.service_buckets,
        )?;
        if s.paced {
            histogram(
                &mut encoder,
                "casstop_response_time_seconds",
                "time from a request's intended start to its answer (under a target rate)",
                &t.response_buckets,
            )?;
        }
        let cpu = ConstCounter::new(t.client_cpu_s);
        cpu.encode(encoder.encode_descriptor(
            "casstop_client_cpu_seconds",
            "CPU time used by casstop",
            None,
            MetricType::Counter,
        )?)?;
        if let Some(node) = i.cpu.node_percent {
            gauge_f64(
                &mut encoder,
                "casstop_node_cpu_ratio",
                "the local node's CPU over the last interval (1 = one core)",
                node / 100.0,
            )?;
        }
        coordinator_metrics(&mut encoder, s)?;
        gauge_f64(
            &mut encoder,
            "casstop_elapsed_seconds",
            "time since the run started",
            s.elapsed.as_secs_f64(),
        )?;
        knob_metrics(&mut encoder, &s.knobs)?;
        let verdict = &i.verdict;
        let kind = verdict.kind.to_string();
        let info = Info::new(vec![
            ("kind", kind.as_str()),
            ("text", verdict.text.as_str()),
        ]);
        info.encode(encoder.encode_descriptor(
            "casstop_verdict",
            "the last interval's verdict",
            None,
            MetricType::Info,
        )?)?;
        Ok(())
    }
}

/// A per-node gauge's value from its row; `None` leaves the node out of that family.
type NodeGauge = fn(&crate::metrics::NodeStats) -> Option<f64>;

/// Per coordinator node (`node` label, its address as the driver knows it): the run's outcomes
/// as counters; the last interval's p99, the driver's connection and the server's queue as
/// gauges. Nothing when the run has not reached a node yet.
fn coordinator_metrics(encoder: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), fmt::Error> {
    if s.totals.nodes.is_empty() && s.interval.nodes.is_empty() {
        return Ok(());
    }
    {
        let mut writes = encoder.encode_descriptor(
            "casstop_coordinator_writes",
            "requests each node coordinated, by outcome (a failure counts at its last attempt's node)",
            None,
            MetricType::Counter,
        )?;
        for n in &s.totals.nodes {
            let node = n.node.to_string();
            for (outcome, count) in [("ok", n.ok), ("error", n.errors)] {
                ConstCounter::new(count).encode(
                    writes.encode_family(&[("node", node.as_str()), ("outcome", outcome)])?,
                )?;
            }
        }
    }
    let rows = &s.interval.nodes;
    let families: [(&str, &str, NodeGauge); 3] = [
        (
            "casstop_coordinator_p99_seconds",
            "the p99 service time of the writes each node coordinated, last interval",
            |n| (n.ok > 0).then(|| n.service.p99 as f64 / 1e6),
        ),
        (
            "casstop_coordinator_connected",
            "1 while the driver holds a connection to the node",
            |n| Some(f64::from(u8::from(n.connected))),
        ),
        (
            "casstop_server_queued",
            "requests the node holds queued (MutationStage + Native-Transport-Requests pending)",
            |n| {
                n.server
                    .map(|l| (l.mutation_pending + l.native_pending) as f64)
            },
        ),
    ];
    for (name, help, value) in families {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for row in rows {
            if let Some(v) = value(row) {
                let node = row.node.to_string();
                ConstGauge::new(v).encode(family.encode_family(&[("node", node.as_str())])?)?;
            }
        }
    }
    Ok(())
}

/// Numeric knobs as one gauge family (`knob` label; durations in seconds, flags 0/1), the
/// others as labels of one info metric: the registry's names, as everywhere.
fn knob_metrics(encoder: &mut DescriptorEncoder, knobs: &knobs::Knobs) -> Result<(), fmt::Error> {
    let mut choices = Vec::new();
    {
        let mut gauges = encoder.encode_descriptor(
            "casstop_knob",
            "the knobs in force (durations in seconds, on/off as 1/0)",
            None,
            MetricType::Gauge,
        )?;
        for def in knobs::ALL {
            let number = match def.get(knobs) {
                Value::Count(v) => v as f64,
                Value::Rate(v) => v,
                Value::Duration(d) => d.as_secs_f64(),
                Value::Flag(on) => f64::from(u8::from(on)),
                other => {
                    choices.push((def.name, other.to_string()));
                    continue;
                }
            };
            ConstGauge::new(number).encode(gauges.encode_family(&[("knob", def.name)])?)?;
        }
    }
    let labels: Vec<(&str, &str)> = choices.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Info::new(labels).encode(encoder.encode_descriptor(
        "casstop_knobs",
        "the knobs in force that are choices",
        None,
        MetricType::Info,
    )?)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), fmt::Error> {
    ConstCounter::new(value).encode(encoder.encode_descriptor(
        name,
        help,
        None,
        MetricType::Counter,
    )?)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), fmt::Error> {
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

fn gauge_f64(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: f64,
) -> Result<(), fmt::Error> {
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

fn histogram(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    buckets: &LatencyBuckets,
) -> Result<(), fmt::Error> {
    let mut bounds: Vec<(f64, u64)> = BUCKET_BOUNDS_US
        .iter()
        .zip(buckets.counts)
        .map(|(bound, count)| (*bound as f64 / 1e6, count))
        .collect();
    bounds.push((f64::INFINITY, buckets.counts[BUCKET_BOUNDS_US.len()]));
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    metric.encode_histogram::<NoLabelSet>(buckets.sum_us / 1e6, buckets.count(), &bounds, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_coordinator_node_has_its_counters_and_gauges() {
        let mut snapshot = Snapshot::empty(knobs::Knobs::default());
        let node = std::net::SocketAddr::from(([127, 0, 0, 3], 9042));
        let mut row = crate::metrics::NodeStats {
            node,
            datacenter: None,
            connected: true,
            ok: 40,
            throughput: 40.0,
            service: crate::metrics::LatencySummary {
                count: 40,
                p99: 9_000,
                ..Default::default()
            },
            errors: crate::metrics::ErrorCounts::default(),
            in_flight_mean: 1.0,
            server: Some(crate::metrics::ServerLoad {
                native_pending: 5,
                mutation_pending: 2,
                ..Default::default()
            }),
        };
        row.errors.add(ErrorKind::Timeout);
        snapshot.totals.add_nodes(&[row.clone()]);
        snapshot.totals.add_nodes(&[row.clone()]);
        let mut interval = (*snapshot.interval).clone();
        interval.nodes = vec![row];
        snapshot.interval = std::sync::Arc::new(interval);
        let text = render(Some(std::sync::Arc::new(snapshot)));
        for expected in [
            "casstop_coordinator_writes_total{node=\"127.0.0.3:9042\",outcome=\"ok\"} 80",
            "casstop_coordinator_writes_total{node=\"127.0.0.3:9042\",outcome=\"error\"} 2",
            "casstop_coordinator_p99_seconds{node=\"127.0.0.3:9042\"} 0.009",
            "casstop_coordinator_connected{node=\"127.0.0.3:9042\"} 1",
            "casstop_server_queued{node=\"127.0.0.3:9042\"} 7",
        ] {
            assert!(text.contains(expected), "missing {expected}:\n{text}");
        }
    }

    #[test]
    fn a_run_is_exposed_with_totals_buckets_and_knobs() {
        let mut snapshot = Snapshot::empty(knobs::Knobs::default());
        snapshot.totals.ok = 1200;
        snapshot.totals.ok_rows = 1200;
        // Three errors, one of them a timeout (maybe written): the error outcome counts all.
        snapshot.totals.errors.add(ErrorKind::Timeout);
        snapshot.totals.errors.add(ErrorKind::Overloaded);
        snapshot.totals.errors.add(ErrorKind::Unavailable);
        snapshot.totals.maybe = 1;
        let mut histogram = crate::metrics::new_histogram();
        for us in [90, 400, 400, 3_000, 20_000_000] {
            histogram.record(us).unwrap();
        }
        snapshot.totals.service_buckets.add(&histogram);
        let text = render(Some(std::sync::Arc::new(snapshot)));
        assert!(
            text.contains("casstop_writes_total{outcome=\"ok\"} 1200"),
            "{text}"
        );
        assert!(
            text.contains("casstop_writes_total{outcome=\"error\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("casstop_write_errors_total{kind=\"overloaded\"} 1"),
            "{text}"
        );
        assert!(text.contains("casstop_knob{knob=\"depth\"} "), "{text}");
        assert!(text.contains("casstop_knobs_info{strategy=\""), "{text}");
        assert!(
            text.contains("casstop_service_time_seconds_bucket{le=\"0.0001\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("casstop_service_time_seconds_bucket{le=\"0.0005\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("casstop_service_time_seconds_bucket{le=\"10.0\"} 4"),
            "{text}"
        );
        assert!(
            text.contains("casstop_service_time_seconds_bucket{le=\"+Inf\"} 5"),
            "{text}"
        );
        assert!(
            text.contains("casstop_service_time_seconds_count 5"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"));
        assert!(render(None).contains("casstop_running 0"));
    }
}
