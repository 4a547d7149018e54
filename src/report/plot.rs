//! The pictures, drawn with plotters: each one as SVG and as PNG (text drawn with the embedded
//! DejaVu Sans, so no system font library is needed).

use std::path::{Path, PathBuf};

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{
    CHART_SIZE, FONT, MARKER, TIMELINE_SIZE, color, draw_legend, plot_error, svg_and_png,
};
use super::matrix::MatrixBar;
use super::recording::Recording;
use crate::units::{Micros, PerSecond};

/// Throughput and latency (p50, p99, max) over time, knob changes marked and labelled.
pub fn timeline(out: &Path, runs: &[Recording]) -> Result<Vec<PathBuf>> {
    svg_and_png!(out, "timeline", TIMELINE_SIZE, draw_timeline(runs))
}

/// The latency distribution on a "nines" axis, as HdrHistogram plots show it.
pub fn percentiles(out: &Path, runs: &[Recording]) -> Result<Vec<PathBuf>> {
    svg_and_png!(out, "percentiles", CHART_SIZE, draw_percentiles(runs))
}

/// Writes/s per strategy (one group per RTT when the matrix has several), p99 on each bar.
pub fn matrix(out: &Path, bars: &[MatrixBar]) -> Result<Vec<PathBuf>> {
    svg_and_png!(out, "matrix", CHART_SIZE, draw_matrix(bars))
}

/// A sweep: writes/s and p99 per setting, the knee marked.
pub fn sweep(out: &Path, result: &crate::report::sweep::SweepResult) -> Result<Vec<PathBuf>> {
    svg_and_png!(out, "sweep", CHART_SIZE, draw_sweep(result))
}

fn title_of(runs: &[Recording]) -> String {
    match runs {
        [one] => format!("casstop: {}", one.name),
        // A merged run comes first, its loaders after it.
        [merged, ..] if merged.meta.as_ref().is_some_and(|m| m.kind == "merge") => {
            format!("casstop: {}", merged.name)
        }
        _ => format!("casstop: {} runs compared", runs.len()),
    }
}

/// A run's legend prefix: nothing for one run, its name for several.
fn prefix(runs: &[Recording], run: &Recording) -> String {
    if runs.len() == 1 {
        String::new()
    } else {
        format!("{} ", run.name)
    }
}

fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[Recording],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = plot_error::<DrawingAreaErrorKind<DB::ErrorType>>;
    root.fill(&WHITE).map_err(err("the timeline"))?;
    let root = root
        .titled(&title_of(runs), (FONT, 26))
        .map_err(err("the timeline"))?;
    let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 * 9 / 20);
    let end_s = runs
        .iter()
        .filter_map(|r| r.intervals.last().map(|i| i.at_s))
        .fold(1.0_f64, f64::max);
    timeline_throughput(&top, runs, end_s)?;
    timeline_latency(&bottom, runs, end_s)
}

/// The timeline's upper chart: writes/s per run, with a marker and label at each knob change.
fn timeline_throughput<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    runs: &[Recording],
    end_s: f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = plot_error::<DrawingAreaErrorKind<DB::ErrorType>>;
    let read_rates = runs
        .iter()
        .flat_map(|r| r.intervals.iter().flat_map(|i| &i.reads))
        .map(|r| r.throughput);
    let max_tput = runs
        .iter()
        .flat_map(|r| r.intervals.iter().map(|i| i.throughput_ops_s))
        .chain(read_rates)
        .fold(1.0_f64, f64::max);

    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(90)
        .caption(
            if runs.iter().any(|r| !r.read_ops().is_empty()) {
                "throughput (writes/s; dashed: each read operation's reads/s)"
            } else {
                "throughput (writes/s)"
            },
            (FONT, 20),
        )
        .build_cartesian_2d(0.0..end_s, 0.0..max_tput * 1.25)
        .map_err(err("the throughput chart"))?;
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .y_desc("writes/s")
        .y_label_formatter(&|v| PerSecond(*v).to_string())
        .label_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err("the throughput chart"))?;
    for (i, run) in runs.iter().enumerate() {
        let c = if runs.len() == 1 { color(0) } else { color(i) };
        chart
            .draw_series(LineSeries::new(
                run.intervals.iter().map(|l| (l.at_s, l.throughput_ops_s)),
                c.stroke_width(2),
            ))
            .map_err(err("the throughput series"))?
            .label(format!("{}writes/s", prefix(runs, run)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        for (k, op) in run.read_ops().into_iter().enumerate() {
            let c = read_color(runs, i, k);
            let points = read_points(run, &op, |r| r.throughput);
            chart
                .draw_series(DashedLineSeries::new(points, 8, 4, c.stroke_width(2)))
                .map_err(err("a read's throughput series"))?
                .label(format!("{}{op}/s", prefix(runs, run)))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 8, y)], c.stroke_width(3))
                });
        }
    }
    // Knob changes: a dashed line each, labels staggered over four rows so they do not overlap.
    for (i, run) in runs.iter().enumerate() {
        let marker = if runs.len() == 1 { MARKER } else { color(i) };
        for (k, event) in run.knob_events().enumerate() {
            let top_y = max_tput * 1.25;
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(event.at_s, 0.0), (event.at_s, top_y)],
                    6,
                    4,
                    marker.stroke_width(1),
                ))
                .map_err(err("a knob marker"))?;
            let row = (k % 4) as f64;
            chart
                .draw_series(std::iter::once(Text::new(
                    event.text.clone(),
                    (event.at_s, top_y * (0.985 - 0.055 * row)),
                    (FONT, 14).into_font().color(&RGBColor(120, 95, 0)),
                )))
                .map_err(err("a knob label"))?;
        }
    }
    draw_legend(
        chart.configure_series_labels(),
        SeriesLabelPosition::UpperLeft,
    )?;

    Ok(())
}

/// The timeline's lower chart: p50, p99 and max on a log scale, with the knob markers.
fn timeline_latency<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    runs: &[Recording],
    end_s: f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = plot_error::<DrawingAreaErrorKind<DB::ErrorType>>;
    let read_p99s = runs
        .iter()
        .flat_map(|r| r.intervals.iter().flat_map(|i| &i.reads))
        .filter(|r| r.ok > 0)
        .map(|r| r.service.p99);
    let latencies: Vec<u64> = runs
        .iter()
        .flat_map(|r| r.intervals.iter())
        .filter(|l| l.latency_us.count > 0)
        .flat_map(|l| [l.latency_us.p50, l.latency_us.max])
        .chain(read_p99s)
        .collect();
    let lo = latencies.iter().copied().min().unwrap_or(100).max(1) as f64;
    let hi = latencies.iter().copied().max().unwrap_or(10_000).max(10) as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .caption("service time (log scale)", (FONT, 20))
        .build_cartesian_2d(0.0..end_s, (lo * 0.7..hi * 1.6).log_scale())
        .map_err(err("the latency chart"))?;
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .y_desc("latency")
        .y_label_formatter(&|v| axis_latency(*v))
        .label_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err("the latency chart"))?;
    for (i, run) in runs.iter().enumerate() {
        let lines: [LatencyLine; 3] = if runs.len() == 1 {
            [
                ("p50", |p| p.p50, color(2), 2),
                ("p99", |p| p.p99, color(1), 2),
                ("max", |p| p.max, color(3), 1),
            ]
        } else {
            [
                (
                    "p50",
                    |p| p.p50,
                    color(i).mix(0.55).to_rgba().rgb_color(),
                    1,
                ),
                ("p99", |p| p.p99, color(i), 3),
                ("max", |p| p.max, color(i).mix(0.3).to_rgba().rgb_color(), 1),
            ]
        };
        for (name, pick, c, width) in lines {
            chart
                .draw_series(LineSeries::new(
                    run.intervals
                        .iter()
                        .filter(|l| l.latency_us.count > 0)
                        .map(|l| (l.at_s, pick(&l.latency_us).max(1) as f64)),
                    c.stroke_width(width),
                ))
                .map_err(err("a latency series"))?
                .label(format!("{}{name}", prefix(runs, run)))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(width.max(2)))
                });
        }
        for (k, op) in run.read_ops().into_iter().enumerate() {
            let c = read_color(runs, i, k);
            let points = read_points(run, &op, |r| r.service.p99.max(1) as f64);
            chart
                .draw_series(DashedLineSeries::new(points, 8, 4, c.stroke_width(2)))
                .map_err(err("a read's latency series"))?
                .label(format!("{}{op} p99", prefix(runs, run)))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 8, y)], c.stroke_width(3))
                });
        }
        let marker = if runs.len() == 1 { MARKER } else { color(i) };
        for event in run.knob_events() {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(event.at_s, lo * 0.7), (event.at_s, hi * 1.6)],
                    6,
                    4,
                    marker.stroke_width(1),
                ))
                .map_err(err("a knob marker"))?;
        }
    }
    draw_legend(
        chart.configure_series_labels(),
        SeriesLabelPosition::UpperLeft,
    )?;
    Ok(())
}

/// The colour of run `run`'s read operation `op`: a colour of its own in a run alone (after the
/// writes' three), the run's own one lighter when runs are compared.
fn read_color(runs: &[Recording], run: usize, op: usize) -> RGBColor {
    if runs.len() == 1 {
        color(4 + op)
    } else {
        color(run).mix(0.6).to_rgba().rgb_color()
    }
}

/// `pick` of read `op` in each interval of `run` where it succeeded at least once.
fn read_points(
    run: &Recording,
    op: &str,
    pick: impl Fn(&crate::metrics::ReadStats) -> f64,
) -> Vec<(f64, f64)> {
    run.intervals
        .iter()
        .filter_map(|line| {
            let read = line.reads.iter().find(|r| r.op == op && r.ok > 0)?;
            Some((line.at_s, pick(read)))
        })
        .collect()
}

/// A latency series of the timeline: its name, which percentile, its color and width.
type LatencyLine = (
    &'static str,
    fn(&crate::record::Percentiles) -> u64,
    RGBColor,
    u32,
);

/// Extension for a color mixed toward white, usable as a plain color.
trait RgbOf {
    fn rgb_color(&self) -> RGBColor;
}

impl RgbOf for RGBAColor {
    fn rgb_color(&self) -> RGBColor {
        let RGBAColor(r, g, b, a) = *self;
        let blend = |c: u8| (f64::from(c) * a + 255.0 * (1.0 - a)).round() as u8;
        RGBColor(blend(r), blend(g), blend(b))
    }
}

/// A latency tick label: `250 µs`, `1 ms`, `2.5 ms`, `1.2 s` (no trailing zeros).
pub fn axis_latency(us: f64) -> String {
    let (value, unit) = if us < 1_000.0 {
        (us, "µs")
    } else if us < 1_000_000.0 {
        (us / 1e3, "ms")
    } else {
        (us / 1e6, "s")
    };
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

/// The label of a point on the nines axis: 0 → 0%, 1 → 90%, 2 → 99%, 3 → 99.9%.
pub fn nines_label(nines: f64) -> String {
    let percent = 100.0 * (1.0 - 10f64.powf(-nines));
    let decimals = (nines.round() as i64 - 2).clamp(0, 6) as usize;
    format!("{percent:.decimals$}%")
}

/// (nines, latency µs) points of a histogram's percentile curve, up to the nines its count
/// supports.
pub fn percentile_curve(histogram: &hdrhistogram::Histogram<u64>) -> Vec<(f64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let top = (histogram.len() as f64).log10().clamp(1.0, 6.0);
    let steps = (top * 40.0) as usize;
    (0..=steps)
        .map(|k| {
            let nines = top * k as f64 / steps as f64;
            let quantile = (1.0 - 10f64.powf(-nines)).clamp(0.0, 1.0);
            (nines, histogram.value_at_quantile(quantile).max(1) as f64)
        })
        .collect()
}

fn draw_percentiles<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[Recording],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = plot_error::<DrawingAreaErrorKind<DB::ErrorType>>;
    root.fill(&WHITE).map_err(err("the percentiles"))?;
    let mut curves = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let c = color(i);
        let reads = run.merged_reads();
        // Beside a read's curve, the writes' say whose they are.
        let whose = if reads.is_empty() { "" } else { "writes' " };
        curves.push((
            format!("{}{whose}service time", prefix(runs, run)),
            percentile_curve(&run.merged_service()),
            c,
            3,
        ));
        if let Some(response) = run.merged_response() {
            curves.push((
                format!(
                    "{}{whose}response time (from intended start)",
                    prefix(runs, run)
                ),
                percentile_curve(&response),
                c.mix(0.5).to_rgba().rgb_color(),
                2,
            ));
        }
        for (k, read) in reads.iter().enumerate() {
            curves.push((
                format!("{}{} service time", prefix(runs, run), read.op),
                percentile_curve(&read.service),
                read_color(runs, i, k),
                2,
            ));
        }
    }
    let points = curves.iter().flat_map(|c| c.1.iter());
    let (max_nines, lo, hi) = points.fold((1.0_f64, f64::MAX, 1.0_f64), |(n, lo, hi), (x, y)| {
        (n.max(*x), lo.min(*y), hi.max(*y))
    });
    let lo = if lo == f64::MAX { 1.0 } else { lo };
    let x_end = max_nines.ceil();
    let mut chart = ChartBuilder::on(root)
        .margin(16)
        .margin_right(48)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .caption(
            format!("{}: latency by percentile", title_of(runs)),
            (FONT, 24),
        )
        .build_cartesian_2d(0.0..x_end, (lo * 0.7..hi * 1.6).log_scale())
        .map_err(err("the percentiles"))?;
    chart
        .configure_mesh()
        .x_labels(x_end as usize + 1)
        .x_label_formatter(&|x| nines_label(*x))
        .x_desc("percentile")
        .y_desc("latency (log scale)")
        .y_label_formatter(&|v| axis_latency(*v))
        .label_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err("the percentiles"))?;
    for (label, points, c, width) in curves {
        chart
            .draw_series(LineSeries::new(points, c.stroke_width(width)))
            .map_err(err("a percentile curve"))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
    }
    draw_legend(
        chart.configure_series_labels(),
        SeriesLabelPosition::UpperLeft,
    )?;
    Ok(())
}

/// The values in their first-seen order, each once.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

fn draw_matrix<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, bars: &[MatrixBar]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = plot_error::<DrawingAreaErrorKind<DB::ErrorType>>;
    root.fill(&WHITE).map_err(err("the matrix chart"))?;
    let groups = distinct(bars.iter().map(|bar| bar.group.as_str()));
    let strategies = distinct(bars.iter().map(|bar| bar.strategy.as_str()));
    let strategy_of = |bar: &MatrixBar| strategies.iter().position(|s| *s == bar.strategy);
    // One slot per bar, and an empty slot between RTT groups.
    let per_group = strategies.len() + 1;
    let slot = |bar: &MatrixBar| {
        let g = groups.iter().position(|g| *g == bar.group).unwrap_or(0);
        (g * per_group + strategy_of(bar).unwrap_or(0)) as f64
    };
    let slots = (groups.len() * per_group).saturating_sub(1).max(1) as f64;
    let max_tput = bars.iter().map(|b| b.throughput_ops_s).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(root)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .caption(
            "casstop bench --matrix: writes/s per strategy (p99 on each bar)",
            (FONT, 24),
        )
        .build_cartesian_2d(-0.6..slots - 0.4, 0.0..max_tput * 1.22)
        .map_err(err("the matrix chart"))?;
    let label_of = |x: &f64| {
        let index = x.round();
        if (x - index).abs() > 0.01 || index < 0.0 {
            return String::new();
        }
        let index = index as usize;
        let (g, s) = (index / per_group, index % per_group);
        match (groups.get(g), strategies.get(s)) {
            (Some(_), Some(strategy)) => strategy.to_string(),
            _ => String::new(),
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(slots as usize + 2)
        .x_label_formatter(&label_of)
        .y_desc("writes/s")
        .y_label_formatter(&|v| PerSecond(*v).to_string())
        .label_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err("the matrix chart"))?;
    for bar in bars {
        let x = slot(bar);
        let s = strategy_of(bar).unwrap_or(0);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x - 0.38, 0.0), (x + 0.38, bar.throughput_ops_s)],
                color(s).filled(),
            )))
            .map_err(err("a bar"))?;
    }
    // Captions after every bar, so no bar covers its neighbour's text.
    let above = |size: u32| {
        (FONT, size)
            .into_font()
            .into_text_style(root)
            .pos(Pos::new(HPos::Center, VPos::Bottom))
    };
    for bar in bars {
        let x = slot(bar);
        let top = bar.throughput_ops_s;
        chart
            .draw_series([
                Text::new(
                    PerSecond(top).to_string(),
                    (x, top + max_tput * 0.045),
                    above(15),
                ),
                Text::new(
                    format!("p99 {}", Micros(bar.p99_us as f64)),
                    (x, top + max_tput * 0.01),
                    above(13),
                ),
            ])
            .map_err(err("a bar label"))?;
    }
    if groups.len() > 1 {
        for (g, group) in groups.iter().enumerate() {
            let centre = (g * per_group) as f64 + (strategies.len() as f64 - 1.0) / 2.0;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("RTT {group}"),
                    (centre, max_tput * 1.17),
                    above(18),
                )))
                .map_err(err("a group label"))?;
        }
    }
    Ok(())
}

/// What a sweep chart's axes must hold: settings, throughput, p99 (µs).
struct SweepRanges {
    min_x: f64,
    max_x: f64,
    max_tput: f64,
    lo: f64,
    hi: f64,
}

impl SweepRanges {
    fn of(steps: &[crate::report::sweep::SweepStep]) -> Self {
        let p99s = steps.iter().map(|s| s.p99_us.max(1) as f64);
        let (lo, hi) = p99s.fold((f64::MAX, 1.0_f64), |(lo, hi), p| (lo.min(p), hi.max(p)));
        SweepRanges {
            min_x: steps.iter().map(|s| s.setting).min().unwrap_or(1).max(1) as f64,
            max_x: steps.iter().map(|s| s.setting).max().unwrap_or(2).max(2) as f64,
            max_tput: steps.iter().map(|s| s.throughput_ops_s).fold(1.0, f64::max),
            lo: if lo == f64::MAX { 1.0 } else { lo },
            hi,
        }
    }
}

fn sweep_title(result: &crate::report::sweep::SweepResult) -> String {
    let knee = match result.knee_setting() {
        Some(knee) => format!("knee at {} {knee}", result.knob),
        None => "no knee within the swept range".into(),
    };
    format!(
        "casstop sweep: {} {} ({knee})",
        result.strategy, result.knob
    )
}

fn draw_sweep<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    result: &crate::report::sweep::SweepResult,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = plot_error::<DrawingAreaErrorKind<DB::ErrorType>>;
    root.fill(&WHITE).map_err(err("the sweep chart"))?;
    let steps = &result.steps;
    let r = SweepRanges::of(steps);
    let mut chart = ChartBuilder::on(root)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .right_y_label_area_size(90)
        .caption(sweep_title(result), (FONT, 24))
        .build_cartesian_2d(
            (r.min_x / 1.3..r.max_x * 1.3).log_scale(),
            0.0..r.max_tput * 1.2,
        )
        .map_err(err("the sweep chart"))?
        .set_secondary_coord(
            (r.min_x / 1.3..r.max_x * 1.3).log_scale(),
            (r.lo * 0.7..r.hi * 1.6).log_scale(),
        );
    chart
        .configure_mesh()
        .x_desc(result.knob.clone())
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("writes/s")
        .y_label_formatter(&|v| PerSecond(*v).to_string())
        .label_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err("the sweep chart"))?;
    chart
        .configure_secondary_axes()
        .y_labels(12)
        .y_desc("p99 (log scale)")
        .y_label_formatter(&|v| axis_latency(*v))
        .label_style((FONT, 15))
        .draw()
        .map_err(err("the sweep chart"))?;
    let tput_color = color(0);
    let p99_color = color(1);
    chart
        .draw_series(
            LineSeries::new(
                steps.iter().map(|s| (s.setting as f64, s.throughput_ops_s)),
                tput_color.stroke_width(3),
            )
            .point_size(5),
        )
        .map_err(err("the sweep"))?
        .label("writes/s")
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], tput_color.stroke_width(3))
        });
    chart
        .draw_secondary_series(
            LineSeries::new(
                steps
                    .iter()
                    .map(|s| (s.setting as f64, s.p99_us.max(1) as f64)),
                p99_color.stroke_width(3),
            )
            .point_size(5),
        )
        .map_err(err("the sweep"))?
        .label("p99")
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], p99_color.stroke_width(3))
        });
    if let Some(knee) = result.knee_setting() {
        let x = knee as f64;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x, 0.0), (x, r.max_tput * 1.2)],
                8,
                5,
                RGBColor(214, 39, 40).stroke_width(2),
            ))
            .map_err(err("the knee"))?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!(" knee: {} {knee}", result.knob),
                (x, r.max_tput * 1.15),
                (FONT, 17).into_font().color(&RGBColor(214, 39, 40)),
            )))
            .map_err(err("the knee"))?;
    }
    draw_legend(
        chart.configure_series_labels(),
        SeriesLabelPosition::LowerRight,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_ticks_read_naturally() {
        assert_eq!(axis_latency(250.0), "250 µs");
        assert_eq!(axis_latency(1_000.0), "1 ms");
        assert_eq!(axis_latency(2_500.0), "2.5 ms");
        assert_eq!(axis_latency(100_000.0), "100 ms");
        assert_eq!(axis_latency(1_250_000.0), "1.25 s");
    }

    #[test]
    fn nines_axis_labels() {
        assert_eq!(nines_label(0.0), "0%");
        assert_eq!(nines_label(1.0), "90%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(4.0), "99.99%");
    }

    #[test]
    fn percentile_curve_reaches_the_tail() {
        let mut h = crate::metrics::new_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let curve = percentile_curve(&h);
        assert_eq!(curve.first().unwrap().0, 0.0);
        assert!((curve.last().unwrap().0 - 4.0).abs() < 1e-9);
        let at_two_nines = curve.iter().find(|(n, _)| (*n - 2.0).abs() < 1e-9).unwrap();
        assert!(
            (9_890.0..=9_910.0).contains(&at_two_nines.1),
            "{at_two_nines:?}"
        );
    }
}
