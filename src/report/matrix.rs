//! A `bench --matrix` result list read as the bars of its chart.

use anyhow::{Context, Result};

/// One bar of a `bench --matrix` chart.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixBar {
    /// The emulated RTT's label, when the matrix has one (`rtt` in its JSON); else empty.
    pub group: String,
    pub strategy: String,
    pub throughput_ops_s: f64,
    pub p99_us: u64,
}

/// Reads a matrix's results (the `bench --json` list). An `rtt` field (string or number, also
/// `rtt_ms` / `rtt_us`) makes one bar group per RTT; without it there is one group.
pub fn matrix_bars(json: &serde_json::Value) -> Result<Vec<MatrixBar>> {
    let list = json
        .as_array()
        .context("a matrix is a JSON list of results")?;
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            let strategy = entry
                .get("strategy")
                .and_then(|s| s.as_str())
                .with_context(|| format!("result {} has no strategy", i + 1))?;
            let group = ["rtt", "rtt_ms", "rtt_us"]
                .iter()
                .find_map(|key| {
                    let value = entry.get(*key)?;
                    let unit = match *key {
                        "rtt_ms" => " ms",
                        "rtt_us" => " µs",
                        _ => "",
                    };
                    match value {
                        serde_json::Value::String(s) => Some(format!("{s}{unit}")),
                        serde_json::Value::Number(n) => Some(format!("{n}{unit}")),
                        _ => None,
                    }
                })
                .unwrap_or_default();
            Ok(MatrixBar {
                group,
                strategy: strategy.to_string(),
                throughput_ops_s: entry
                    .get("throughput_ops_s")
                    .and_then(|t| t.as_f64())
                    .unwrap_or(0.0),
                p99_us: entry
                    .pointer("/latency_us/p99")
                    .and_then(|p| p.as_u64())
                    .unwrap_or(0),
            })
        })
        .collect()
}
