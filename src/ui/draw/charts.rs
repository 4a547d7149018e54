//! The two charts over the chart window: throughput (with the target rate) and log-scaled latency,
//! each with a yellow marker at every knob change. A mix's reads get a line of their own in each
//! (`read/s`, `read p99`), in a colour per operation; the writes' lines stay the headline.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType};

use crate::metrics::{EventKind, IntervalStats, ReadStats};
use crate::ui::app::App;
use crate::units::{Micros, PerSecond};

pub(super) fn draw_throughput(frame: &mut Frame, area: Rect, app: &App) {
    let (points, bounds) = window(app);
    let data: Vec<(f64, f64)> = points.iter().map(|i| (i.at_s, i.throughput)).collect();
    let peak = data.iter().map(|p| p.1).fold(0.0, f64::max);
    let reads = read_lines(&points, "/s", |r| r.throughput);
    let read_peak = reads.iter().flat_map(|(_, d)| d).map(|p| p.1);
    let top = nice_ceiling(read_peak.fold(peak, f64::max).max(app.knobs.rate).max(10.0));
    let markers = knob_markers(app, bounds, 0.0, top);
    let mut datasets = marker_lines(&markers);
    let target;
    if app.knobs.rate > 0.0 {
        target = [(bounds[0], app.knobs.rate), (bounds[1], app.knobs.rate)];
        datasets.push(line("target", &target, Color::DarkGray));
    }
    datasets.push(line("writes/s", &data, Color::Cyan));
    datasets.extend(read_datasets(&reads));
    let latest = &app.snapshot.interval;
    let read_rate: f64 = latest.reads.iter().map(|r| r.throughput).sum();
    let title = if latest.reads.is_empty() {
        format!(
            " throughput {} · last {} s ",
            PerSecond(latest.throughput),
            app.window_secs
        )
    } else {
        format!(
            " throughput {} writes + {} reads · last {} s ",
            PerSecond(latest.throughput),
            PerSecond(read_rate),
            app.window_secs
        )
    };
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(title))
        .x_axis(x_axis(bounds))
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .style(Style::new().fg(Color::DarkGray))
                .labels(vec![
                    Span::raw("0"),
                    Span::raw(PerSecond(top / 2.0).to_string()),
                    Span::raw(PerSecond(top).to_string()),
                ]),
        )
        .hidden_legend_constraints((Constraint::Percentage(40), Constraint::Percentage(40)));
    frame.render_widget(chart, area);
}

pub(super) fn draw_latency(frame: &mut Frame, area: Rect, app: &App) {
    let (points, bounds) = window(app);
    let log = |us: u64| (us.max(1) as f64).log10();
    let series = |pick: fn(&IntervalStats) -> Option<u64>| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|i| i.ok > 0)
            .filter_map(|i| pick(i).map(|us| (i.at_s, log(us))))
            .collect()
    };
    let p50 = series(|i| Some(i.service.p50));
    let p99 = series(|i| Some(i.service.p99));
    let max = series(|i| Some(i.service.max));
    let response = series(|i| i.response.map(|r| r.p99));
    let reads = read_lines(&points, " p99", |r| log(r.service.p99));
    let read_points = reads.iter().flat_map(|(_, d)| d);
    let all = p50
        .iter()
        .chain(&max)
        .chain(&response)
        .chain(read_points)
        .map(|p| p.1);
    let (low, high) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (low, high) = if low > high {
        (2.0, 4.0)
    } else {
        (low.floor().max(0.0), high.ceil().max(low.floor() + 1.0))
    };
    let markers = knob_markers(app, bounds, low, high);
    let mut datasets = marker_lines(&markers);
    datasets.push(line("max", &max, Color::Red));
    if app.snapshot.paced {
        datasets.push(line("response p99", &response, Color::Magenta));
    }
    datasets.push(line("p99", &p99, Color::Yellow));
    datasets.push(line("p50", &p50, Color::Green));
    datasets.extend(read_datasets(&reads));
    let labels: Vec<Span> = (low as i32..=high as i32)
        .map(|decade| Span::raw(decade_label(decade)))
        .collect();
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(latency_title(app)))
        .x_axis(x_axis(bounds))
        .y_axis(
            Axis::default()
                .bounds([low, high])
                .style(Style::new().fg(Color::DarkGray))
                .labels(labels),
        )
        .hidden_legend_constraints((Constraint::Percentage(50), Constraint::Percentage(60)));
    frame.render_widget(chart, area);
}

/// The latest interval's percentiles; under a target rate, service and response time apart.
fn latency_title(app: &App) -> String {
    let i = &app.snapshot.interval;
    if app.snapshot.paced {
        let late = i.pacer_late.unwrap_or_default();
        format!(
            " service p50 {} p99 {} · response p99 {} · pacer late p50 {} p99 {} ",
            Micros(i.service.p50 as f64),
            Micros(i.service.p99 as f64),
            Micros(i.response.map(|r| r.p99).unwrap_or(0) as f64),
            Micros(late.p50 as f64),
            Micros(late.p99 as f64)
        )
    } else {
        format!(
            " latency p50 {} p99 {} max {} ",
            Micros(i.service.p50 as f64),
            Micros(i.service.p99 as f64),
            Micros(i.service.max as f64)
        )
    }
}

/// The colours of the mix's read operations, in the order they first appear; none is a write's.
const READ_COLOURS: [Color; 4] = [
    Color::LightBlue,
    Color::LightMagenta,
    Color::LightGreen,
    Color::White,
];

/// A line per read operation that succeeded inside the window, in the order they first appear:
/// its name with `suffix`, and `pick` of each interval where it succeeded at least once.
fn read_lines(
    points: &[&IntervalStats],
    suffix: &str,
    pick: impl Fn(&ReadStats) -> f64,
) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = vec![];
    for interval in points {
        for read in interval.reads.iter().filter(|r| r.ok > 0) {
            let name = format!("{}{suffix}", read.op);
            let point = (interval.at_s, pick(read));
            match lines.iter_mut().find(|(n, _)| *n == name) {
                Some((_, data)) => data.push(point),
                None => lines.push((name, vec![point])),
            }
        }
    }
    lines
}

fn read_datasets(lines: &[(String, Vec<(f64, f64)>)]) -> impl Iterator<Item = Dataset<'_>> {
    lines
        .iter()
        .enumerate()
        .map(|(i, (name, data))| line(name.clone(), data, READ_COLOURS[i % READ_COLOURS.len()]))
}

/// The intervals inside the chart window, and the window's x bounds.
fn window(app: &App) -> (Vec<&IntervalStats>, [f64; 2]) {
    let now = app.snapshot.elapsed.as_secs_f64();
    let start = (now - f64::from(app.window_secs)).max(0.0);
    let points = app
        .snapshot
        .history
        .iter()
        .map(|i| i.as_ref())
        .filter(|i| i.at_s >= start)
        .collect();
    (points, [start, start + f64::from(app.window_secs)])
}

/// Vertical marker lines at knob changes inside the window, from `low` to `high`.
fn knob_markers(app: &App, bounds: [f64; 2], low: f64, high: f64) -> Vec<[(f64, f64); 2]> {
    app.snapshot
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Knob(_)))
        .filter(|e| e.at_s >= bounds[0] && e.at_s <= bounds[1])
        .map(|e| [(e.at_s, low), (e.at_s, high)])
        .collect()
}

fn x_axis(bounds: [f64; 2]) -> Axis<'static> {
    Axis::default()
        .bounds(bounds)
        .style(Style::new().fg(Color::DarkGray))
        .labels(vec![
            Span::raw(format!("{:.0}s", bounds[0])),
            Span::raw(format!("{:.0}s", bounds[1])),
        ])
}

/// 1, 2 or 5 times a power of ten, at or above `value`.
fn nice_ceiling(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= value)
        .unwrap_or(10.0 * magnitude)
}

/// The knob-change markers as unnamed yellow lines.
fn marker_lines(markers: &[[(f64, f64); 2]]) -> Vec<Dataset<'_>> {
    markers
        .iter()
        .map(|m| {
            Dataset::default()
                .data(m)
                .graph_type(GraphType::Line)
                .marker(Marker::Braille)
                .style(Style::new().fg(Color::Yellow))
        })
        .collect()
}

fn line<'a>(name: impl Into<String>, data: &'a [(f64, f64)], color: Color) -> Dataset<'a> {
    Dataset::default()
        .name(name.into())
        .data(data)
        .graph_type(GraphType::Line)
        .marker(Marker::Braille)
        .style(Style::new().fg(color))
}

/// 10^decade microseconds, short: `100µs`, `1ms`, `10s`.
fn decade_label(decade: i32) -> String {
    match decade {
        ..=2 => format!("{}µs", 10u64.pow(decade.max(0) as u32)),
        3..=5 => format!("{}ms", 10u64.pow((decade - 3) as u32)),
        _ => format!("{}s", 10u64.pow((decade - 6).min(9) as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LatencySummary;
    use crate::ui::draw::testing::{canned, screen};

    #[test]
    fn axis_helpers() {
        assert_eq!(nice_ceiling(3_400.0), 5_000.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(11.0), 20.0);
        assert_eq!(
            (
                decade_label(2),
                decade_label(3),
                decade_label(5),
                decade_label(6)
            ),
            ("100µs".into(), "1ms".into(), "100ms".into(), "1s".into())
        );
    }

    #[test]
    fn a_mixs_reads_get_lines_of_their_own_and_count_in_the_cpu_panel() {
        let without = screen(&canned(false), 160, 48);
        assert!(!without.contains("read/s") && !without.contains("read p99"));
        let mut app = canned(false);
        let mut snapshot = (*app.snapshot).clone();
        snapshot.history = snapshot
            .history
            .iter()
            .map(|interval| {
                let mut interval = (**interval).clone();
                if interval.at_s > 60.0 {
                    interval.reads = vec![ReadStats {
                        op: "read".into(),
                        ok: 9_000,
                        throughput: 9_000.0,
                        service: LatencySummary {
                            p99: 700,
                            ..LatencySummary::default()
                        },
                        ..ReadStats::default()
                    }];
                }
                std::sync::Arc::new(interval)
            })
            .collect();
        snapshot.interval = snapshot.history.back().cloned().unwrap();
        app.snapshot = std::sync::Arc::new(snapshot);
        let text = screen(&app, 160, 48);
        assert!(text.contains("read/s"), "{text}");
        assert!(text.contains("read p99"), "{text}");
        assert!(
            text.contains("throughput 27.0k/s writes + 9000/s reads"),
            "{text}"
        );
    }

    #[test]
    fn paced_runs_label_service_and_response_time() {
        let text = screen(&canned(true), 160, 48);
        assert!(text.contains("service p50 2.40 ms"), "{text}");
        assert!(text.contains("response p99 90.00 ms"), "{text}");
        assert!(text.contains("27.0k/s of 20.0k/s"), "{text}");
    }
}
