//! `nodes.{svg,png}`: a run that reached several nodes, one line per coordinator node —
//! writes/s above, p99 below (log scale) — with a node's down intervals marked, so a slow or
//! lost node stands out the way it did on screen.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{FONT, TIMELINE_SIZE, color, draw_legend, plot_error, svg_and_png};
use super::plot::axis_latency;
use super::recording::Recording;
use crate::units::PerSecond;

/// One node's series: (seconds, writes/s, p99 µs when it had successes, connected).
type Series = Vec<(f64, f64, Option<u64>, bool)>;

/// Each node's series, by address; empty when the run saw fewer than two nodes.
pub fn series(run: &Recording) -> BTreeMap<SocketAddr, Series> {
    let mut nodes: BTreeMap<SocketAddr, Series> = BTreeMap::new();
    for line in &run.intervals {
        for node in &line.nodes {
            nodes.entry(node.node).or_default().push((
                line.at_s,
                node.throughput,
                (node.ok > 0).then_some(node.service.p99),
                node.connected,
            ));
        }
    }
    if nodes.len() < 2 {
        nodes.clear();
    }
    nodes
}

/// Draws the chart when the run reached several nodes; no files otherwise.
pub fn nodes(out: &Path, run: &Recording) -> Result<Vec<PathBuf>> {
    let series = series(run);
    if series.is_empty() {
        return Ok(Vec::new());
    }
    svg_and_png!(out, "nodes", TIMELINE_SIZE, draw_nodes(&run.name, &series))
}

fn draw_nodes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    name: &str,
    series: &BTreeMap<SocketAddr, Series>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = plot_error::<DrawingAreaErrorKind<DB::ErrorType>>;
    root.fill(&WHITE).map_err(err("the nodes chart"))?;
    let root = root
        .titled(
            &format!("casstop: {name}, per coordinator node"),
            (FONT, 26),
        )
        .map_err(err("the nodes chart"))?;
    let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 / 2);
    let points = || series.values().flatten();
    let end_s = points().map(|p| p.0).fold(1.0_f64, f64::max);
    let max_tput = points().map(|p| p.1).fold(1.0_f64, f64::max);
    let p99s: Vec<u64> = points().filter_map(|p| p.2).collect();
    let lo = p99s.iter().copied().min().unwrap_or(100).max(1) as f64;
    let hi = p99s.iter().copied().max().unwrap_or(10_000).max(10) as f64;

    let mut upper = ChartBuilder::on(&top)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(90)
        .caption("writes/s each node coordinated", (FONT, 20))
        .build_cartesian_2d(0.0..end_s, 0.0..max_tput * 1.25)
        .map_err(err("the nodes' throughput"))?;
    upper
        .configure_mesh()
        .x_desc("seconds since start")
        .y_label_formatter(&|v| PerSecond(*v).to_string())
        .label_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err("the nodes' throughput"))?;
    for (i, (node, points)) in series.iter().enumerate() {
        let c = color(i);
        upper
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.0, p.1)),
                c.stroke_width(2),
            ))
            .map_err(err("a node's throughput"))?
            .label(node.ip().to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        // Down: a red cross on the axis at each interval without a connection.
        upper
            .draw_series(
                points
                    .iter()
                    .filter(|p| !p.3)
                    .map(|p| Cross::new((p.0, 0.0), 6, RED.stroke_width(2))),
            )
            .map_err(err("a node's down marks"))?;
    }
    draw_legend(
        upper.configure_series_labels(),
        SeriesLabelPosition::UpperLeft,
    )?;

    let mut lower = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .caption("p99 service time per node (log scale)", (FONT, 20))
        .build_cartesian_2d(0.0..end_s, (lo * 0.7..hi * 1.6).log_scale())
        .map_err(err("the nodes' p99"))?;
    lower
        .configure_mesh()
        .x_desc("seconds since start")
        .y_label_formatter(&|v| axis_latency(*v))
        .label_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err("the nodes' p99"))?;
    for (i, points) in series.values().enumerate() {
        let c = color(i);
        lower
            .draw_series(LineSeries::new(
                points
                    .iter()
                    .filter_map(|p| p.2.map(|us| (p.0, us.max(1) as f64))),
                c.stroke_width(2),
            ))
            .map_err(err("a node's p99"))?;
    }
    Ok(())
}
