//! Drawing: a pure function of [`App`] (which carries the latest snapshot). One small function per
//! panel; no clocks read here, so a fixed snapshot always draws the same screen.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Chart, Clear, Dataset, GraphType, Paragraph, Sparkline, Wrap,
};

use super::app::{App, Mode, Severity, commands};
use crate::knobs::Strategy;
use crate::metrics::verdict::VerdictKind;
use crate::metrics::{EventKind, IntervalStats, NodeHealth, RunState, Snapshot};
use crate::units::{Bytes, Micros, PerSecond};

/// Below this the screen is replaced by a one-line message.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;
/// Below this the charts become sparklines.
const FULL_WIDTH: u16 = 80;
const FULL_HEIGHT: u16 = 24;

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small ({}×{}); casstop needs {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let compact = area.width < FULL_WIDTH || area.height < FULL_HEIGHT;
    let header_lines = header_lines(app, area.width);
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(header_lines.len() as u16),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header_lines), header);
    if compact {
        draw_compact(frame, body, app);
    } else {
        let [charts, panels] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
        let [throughput, latency] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(charts);
        draw_throughput(frame, throughput, app);
        draw_latency(frame, latency, app);
        let [counters, cpu, events] = Layout::horizontal([
            Constraint::Length(30),
            Constraint::Percentage(40),
            Constraint::Min(20),
        ])
        .areas(panels);
        draw_counters(frame, counters, app);
        draw_cpu(frame, cpu, app);
        draw_events(frame, events, app);
    }
    draw_footer(frame, footer, app);
    if app.mode == Mode::Help {
        draw_help(frame, area);
    }
}

fn state_style(state: RunState) -> Style {
    match state {
        RunState::Running => Style::new().fg(Color::Green).bold(),
        RunState::Paused => Style::new().fg(Color::Yellow).bold(),
        RunState::Starting | RunState::Draining => Style::new().fg(Color::Cyan).bold(),
        RunState::Finished => Style::new().fg(Color::Gray).bold(),
    }
}

fn clock(seconds: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Seconds the node has been in its current (troubled) state: the run of latest intervals
/// with the same health.
fn node_trouble_secs(s: &Snapshot) -> u64 {
    let node = s.interval.node;
    s.history
        .iter()
        .rev()
        .take_while(|i| i.node == node)
        .map(|i| i.length_s)
        .sum::<f64>()
        .round() as u64
}

/// The header: what runs where, then the knobs, laid out over as many lines as the width needs.
fn header_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let s = &app.snapshot;
    let k = &app.knobs;
    let state = if k.paused && s.state == RunState::Running {
        RunState::Paused
    } else {
        s.state
    };
    // A node that is down or not answering is said where the user looks first.
    let node = s.interval.node;
    let (state_text, state_style) = match node {
        NodeHealth::Down | NodeHealth::Unresponsive if state == RunState::Running => {
            let label = if node == NodeHealth::Down {
                "node DOWN"
            } else {
                "node NOT ANSWERING"
            };
            (
                format!("{label} for {}", clock(node_trouble_secs(s))),
                Style::new().fg(Color::Red).bold(),
            )
        }
        _ => (state.to_string(), state_style(state)),
    };
    let title = Line::from(vec![
        Span::styled(" casstop ", Style::new().bold().reversed()),
        Span::raw(format!(" {}  ", app.node_label)),
        Span::styled(state_text, state_style),
        Span::raw(format!("  {}", clock(s.elapsed.as_secs()))),
    ]);
    let rate = if k.rate > 0.0 {
        PerSecond(k.rate).to_string()
    } else {
        "open".into()
    };
    let threads = app.info.threads;
    let knobs = [
        ("strategy", k.strategy.to_string()),
        ("depth", k.depth.to_string()),
        ("batch", k.batch.to_string()),
        ("workers", k.workers.to_string()),
        ("rate", rate),
        ("payload", Bytes(k.payload_bytes.into()).to_string()),
        ("cpu", format!("{} µs", k.cpu_work_us)),
        ("rows", k.rows_per_request.to_string()),
        ("cl", k.consistency.to_string()),
        (
            "timeout",
            humantime::format_duration(k.request_timeout).to_string(),
        ),
        ("retry", k.retry.to_string()),
        (
            "runtime",
            format!(
                "{} ({threads} thread{})",
                app.info.runtime,
                if threads == 1 { "" } else { "s" }
            ),
        ),
    ];
    let hop = app.hop.as_ref().map(|hop| {
        (
            "rtt",
            format!(
                "{} (hop :{})",
                crate::hop::format_rtt(hop.settings.rtt),
                hop.port
            ),
        )
    });
    let mut lines = vec![title];
    let mut current: Vec<Span> = Vec::new();
    let mut used = 0usize;
    for (name, value) in knobs.into_iter().chain(hop) {
        let needed = name.chars().count() + value.chars().count() + 3;
        if used > 0 && used + needed > width as usize {
            lines.push(Line::from(std::mem::take(&mut current)));
            used = 0;
        }
        current.push(Span::styled(
            format!("{name} "),
            Style::new().fg(Color::DarkGray),
        ));
        current.push(Span::styled(value, Style::new().bold()));
        current.push(Span::raw("  "));
        used += needed;
    }
    lines.push(Line::from(current));
    lines
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

fn draw_throughput(frame: &mut Frame, area: Rect, app: &App) {
    let (points, bounds) = window(app);
    let data: Vec<(f64, f64)> = points.iter().map(|i| (i.at_s, i.throughput)).collect();
    let peak = data.iter().map(|p| p.1).fold(0.0, f64::max);
    let top = nice_ceiling(peak.max(app.knobs.rate).max(10.0));
    let markers = knob_markers(app, bounds, 0.0, top);
    let mut datasets = marker_lines(&markers);
    let target;
    if app.knobs.rate > 0.0 {
        target = [(bounds[0], app.knobs.rate), (bounds[1], app.knobs.rate)];
        datasets.push(line("target", &target, Color::DarkGray));
    }
    datasets.push(line("writes/s", &data, Color::Cyan));
    let title = format!(
        " throughput {} · last {} s ",
        PerSecond(app.snapshot.interval.throughput),
        app.window_secs
    );
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

fn line<'a>(name: &'static str, data: &'a [(f64, f64)], color: Color) -> Dataset<'a> {
    Dataset::default()
        .name(name)
        .data(data)
        .graph_type(GraphType::Line)
        .marker(Marker::Braille)
        .style(Style::new().fg(color))
}

fn draw_latency(frame: &mut Frame, area: Rect, app: &App) {
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
    let all = p50.iter().chain(&max).chain(&response).map(|p| p.1);
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
    let labels: Vec<Span> = (low as i32..=high as i32)
        .map(|decade| Span::raw(decade_label(decade)))
        .collect();
    let i = &app.snapshot.interval;
    let title = if app.snapshot.paced {
        format!(
            " service p50 {} p99 {} · response p99 {} ",
            Micros(i.service.p50 as f64),
            Micros(i.service.p99 as f64),
            Micros(i.response.map(|r| r.p99).unwrap_or(0) as f64)
        )
    } else {
        format!(
            " latency p50 {} p99 {} max {} ",
            Micros(i.service.p50 as f64),
            Micros(i.service.p99 as f64),
            Micros(i.service.max as f64)
        )
    };
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(title))
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

fn counter_lines(app: &App) -> Vec<Line<'static>> {
    let s = &app.snapshot;
    let t = &s.totals;
    let i = &s.interval;
    let k = &app.knobs;
    let limit = k.in_flight_limit() * k.workers;
    let achieved = if k.rate > 0.0 {
        format!(
            "{} of {} ({:.0}%)",
            PerSecond(i.throughput),
            PerSecond(k.rate),
            i.throughput / k.rate * 100.0
        )
    } else {
        format!("{} (open)", PerSecond(i.throughput))
    };
    let errors = if t.errors.total() == 0 {
        Span::styled("none", Style::new().fg(Color::Green))
    } else {
        Span::styled(t.errors.to_string(), Style::new().fg(Color::Red).bold())
    };
    let mut lines = vec![
        Line::from(format!("ok        {}", group(t.ok))),
        Line::from(format!("rows      {}", group(t.ok_rows))),
        Line::from(vec![Span::raw("errors    "), errors]),
    ];
    if t.maybe > 0 {
        // Failed, but perhaps applied: the table may hold up to this many rows more than `rows`.
        lines.push(Line::from(Span::styled(
            format!(
                "maybe     {} ({} rows)",
                group(t.maybe),
                group(t.maybe_rows)
            ),
            Style::new().fg(Color::Yellow),
        )));
    }
    lines.extend([
        Line::from(format!(
            "in flight {} / {}",
            i.in_flight,
            group(u64::from(limit))
        )),
        Line::from(format!("rate      {achieved}")),
    ]);
    lines
}

fn draw_counters(frame: &mut Frame, area: Rect, app: &App) {
    frame.render_widget(
        Paragraph::new(counter_lines(app)).block(Block::bordered().title(" counters ")),
        area,
    );
}

fn cpu_lines(app: &App) -> Vec<Line<'static>> {
    let interval = &app.snapshot.interval;
    let cpu = &interval.cpu;
    let verdict_style = match interval.verdict.kind {
        VerdictKind::CpuBound | VerdictKind::Failing => Style::new().fg(Color::Red).bold(),
        VerdictKind::ServerBound | VerdictKind::HeadOfLine => Style::new().fg(Color::Yellow).bold(),
        VerdictKind::IoBound => Style::new().fg(Color::Cyan).bold(),
        VerdictKind::Balanced | VerdictKind::Idle => Style::new().bold(),
    };
    let mut lines = vec![Line::from(Span::styled(
        interval.verdict.text.clone(),
        verdict_style,
    ))];
    lines.push(Line::from(format!(
        "client  {:>4.0}% of a core, RSS {}",
        cpu.process_percent,
        Bytes(cpu.rss_bytes)
    )));
    if let Some(busiest) = cpu.busiest_thread() {
        lines.push(Line::from(format!(
            "busiest {:>4.0}% {}, waiting for a core {:.0}%",
            busiest.percent, busiest.name, busiest.run_queue_percent
        )));
    }
    if let Some(node) = cpu.node_percent {
        lines.push(Line::from(format!(
            "node    {:>4.0}% (local JVM){}",
            node,
            cpu.node_rss_bytes
                .map(|b| format!(", RSS {}", Bytes(b)))
                .unwrap_or_default()
        )));
    }
    if let Some(machine) = cpu.machine_percent {
        // Everything on the machine: a shared box with no idle core limits the node too.
        lines.push(Line::from(format!(
            "machine {:>4.0}% of {} cores",
            machine,
            crate::metrics::proc::online_cores()
        )));
    }
    let tasks = &interval.tasks;
    lines.push(Line::from(format!(
        "workers busy {:.0}%  scheduled {:.0}%  idle {:.0}%",
        tasks.busy_percent, tasks.scheduled_percent, tasks.idle_percent
    )));
    if interval.ok > 0 {
        let per_write = cpu.process_percent / 100.0 * interval.length_s * 1e6 / interval.ok as f64;
        lines.push(Line::from(format!(
            "client CPU per write {per_write:.1} µs"
        )));
        // Little's law: what is in flight should be throughput × latency; a gap means writes
        // wait somewhere casstop does not time (a full FIFO, the client's own queue).
        let expected = interval.throughput * interval.service.mean / 1e6;
        lines.push(Line::from(format!(
            "Little: {} × {} = {expected:.0} in flight (measured up to {})",
            PerSecond(interval.throughput),
            Micros(interval.service.mean),
            interval.in_flight_max
        )));
    }
    if let Some(left) = app.capture_left_s {
        lines.push(Line::from(Span::styled(
            format!("capturing a CPU profile … {left:.0} s left"),
            Style::new().fg(Color::Magenta),
        )));
    } else if let Some(profile) = &app.last_profile {
        let shares: Vec<String> = profile
            .categories
            .iter()
            .filter(|(_, share)| *share >= 0.01)
            .map(|(name, share)| format!("{name} {:.0}%", share * 100.0))
            .collect();
        lines.push(Line::from(Span::styled(
            format!("profile: {}", shares.join(", ")),
            Style::new().fg(Color::Magenta),
        )));
        for (frame, count) in profile.top_frames.iter().take(3) {
            let share = *count as f64 / profile.samples.max(1) as f64 * 100.0;
            let name: String = frame.chars().take(60).collect();
            lines.push(Line::from(Span::styled(
                format!("  {share:>3.0}% {name}"),
                Style::new().fg(Color::Magenta),
            )));
        }
    }
    lines
}

fn draw_cpu(frame: &mut Frame, area: Rect, app: &App) {
    frame.render_widget(
        Paragraph::new(cpu_lines(app))
            .block(Block::bordered().title(" where the time goes "))
            // The verdict is the line that matters most: wrap it rather than cut it.
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn event_lines(app: &App, rows: usize) -> Vec<Line<'static>> {
    let events = &app.snapshot.events;
    events
        .iter()
        .skip(events.len().saturating_sub(rows))
        .map(|e| {
            let style = match e.kind {
                EventKind::Knob(_) => Style::new().fg(Color::Yellow),
                EventKind::Error => Style::new().fg(Color::Red),
                EventKind::Info => Style::new().fg(Color::DarkGray),
            };
            Line::from(vec![
                Span::styled(
                    format!("{:>7.1}s ", e.at_s),
                    Style::new().fg(Color::DarkGray),
                ),
                Span::styled(e.text.clone(), style),
            ])
        })
        .collect()
}

fn draw_events(frame: &mut Frame, area: Rect, app: &App) {
    let rows = area.height.saturating_sub(2) as usize;
    frame.render_widget(
        Paragraph::new(event_lines(app, rows)).block(Block::bordered().title(" events ")),
        area,
    );
}

fn draw_compact(frame: &mut Frame, area: Rect, app: &App) {
    let [spark_a, spark_b, counters, events] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .areas(area);
    let width = spark_a.width.saturating_sub(2) as usize;
    let history = &app.snapshot.history;
    let recent = history.iter().skip(history.len().saturating_sub(width));
    let throughput: Vec<u64> = recent.clone().map(|i| i.throughput as u64).collect();
    let p99: Vec<u64> = recent.map(|i| i.service.p99).collect();
    let i = &app.snapshot.interval;
    frame.render_widget(
        Sparkline::default()
            .block(
                Block::new()
                    .borders(Borders::TOP)
                    .title(format!(" writes/s {} ", PerSecond(i.throughput))),
            )
            .data(&throughput)
            .style(Style::new().fg(Color::Cyan)),
        spark_a,
    );
    frame.render_widget(
        Sparkline::default()
            .block(
                Block::new()
                    .borders(Borders::TOP)
                    .title(format!(" p99 {} ", Micros(i.service.p99 as f64))),
            )
            .data(&p99)
            .style(Style::new().fg(Color::Yellow)),
        spark_b,
    );
    let t = &app.snapshot.totals;
    let summary = vec![
        Line::from(format!(
            "ok {}  errors {}  in flight {}",
            group(t.ok),
            t.errors.total(),
            i.in_flight
        )),
        Line::from(i.verdict.text.clone()),
    ];
    frame.render_widget(Paragraph::new(summary).wrap(Wrap { trim: false }), counters);
    let rows = events.height as usize;
    frame.render_widget(Paragraph::new(event_lines(app, rows)), events);
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
    let line = match (&app.mode, &app.message) {
        (Mode::Command(text), _) => Line::from(vec![
            Span::styled(":", Style::new().bold()),
            Span::raw(text.clone()),
            Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
        ]),
        (_, Some((message, severity))) => {
            let color = match severity {
                Severity::Info => Color::Cyan,
                Severity::Error => Color::Red,
            };
            Line::from(Span::styled(message.clone(), Style::new().fg(color)))
        }
        _ if app.quitting => Line::from(Span::styled(
            "stopping: letting writes in flight finish (Ctrl-C again to leave now)",
            Style::new().fg(Color::Yellow),
        )),
        _ => key_hints(area.width),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The footer's key hints: as many as fit, `? help` and `q quit` always.
fn key_hints(width: u16) -> Line<'static> {
    const HINTS: [(&str, &str); 8] = [
        ("1-5", "strategy"),
        ("+/-", "depth"),
        ("[/]", "batch"),
        ("w/W", "workers"),
        ("r/R", "rate"),
        ("p", "pause"),
        (":", "command"),
        ("z", "zoom"),
    ];
    const ALWAYS: [(&str, &str); 2] = [("?", "help"), ("q", "quit")];
    let cost = |(key, what): &(&str, &str)| key.chars().count() + what.chars().count() + 3;
    let mut budget = (width as usize).saturating_sub(ALWAYS.iter().map(cost).sum());
    let shown = HINTS.iter().take_while(|hint| {
        let fits = cost(hint) <= budget;
        if fits {
            budget -= cost(hint);
        }
        fits
    });
    Line::from(
        shown
            .chain(ALWAYS.iter())
            .flat_map(|(key, what)| {
                [
                    Span::styled(*key, Style::new().bold().fg(Color::Cyan)),
                    Span::raw(format!(" {what}  ")),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

/// The help overlay: every key, every `:` command, and what each strategy does.
pub fn help_lines() -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled("keys", Style::new().bold()))];
    let keys = [
        (
            "1 2 3 4 5",
            "strategy: sync, batches, pipeline, throttle, callbacks",
        ),
        ("Tab", "next strategy"),
        ("+ / -", "double / halve depth   (> / < : ±1)"),
        ("] / [", "double / halve batch   (} / { : ±1)"),
        ("w / W", "one worker more / less"),
        (
            "r / R",
            "double / halve the target rate (R from open: half the current)",
        ),
        ("p or space", "pause / resume"),
        ("f", "capture a CPU profile"),
        ("z", "zoom the chart window"),
        (":", "command line for exact values"),
        (
            "q, Ctrl-C",
            "quit (writes in flight finish; Ctrl-C twice: now)",
        ),
    ];
    for (key, what) in keys {
        lines.push(Line::from(vec![
            Span::styled(format!("  {key:<11}"), Style::new().fg(Color::Cyan)),
            Span::raw(what),
        ]));
    }
    lines.push(Line::from(Span::styled("strategies", Style::new().bold())));
    for strategy in Strategy::ALL {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<11}", strategy.name()),
                Style::new().fg(Color::Cyan),
            ),
            Span::raw(strategy.describe()),
        ]));
    }
    lines.push(Line::from(Span::styled(
        "commands  (:name value, e.g. :depth 384  :rate 5k  :strategy pipeline  :cpu 50)",
        Style::new().bold(),
    )));
    let names: Vec<String> = commands()
        .iter()
        .map(|(name, aliases, _)| match aliases.first() {
            Some(alias) => format!(":{name} (:{alias})"),
            None => format!(":{name}"),
        })
        .collect();
    lines.push(Line::from(format!("  {}", names.join("  "))));
    lines.push(Line::from(Span::styled(
        "runtime and threads are fixed for a session (--runtime, --threads). Any key closes help.",
        Style::new().fg(Color::DarkGray),
    )));
    lines
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let lines = help_lines();
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = area.width.min(84);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::bordered()
                    .title(" help ")
                    .title_alignment(Alignment::Center),
            )
            .wrap(Wrap { trim: false }),
        popup,
    );
}

/// 10^decade microseconds, short: `100µs`, `1ms`, `10s`.
fn decade_label(decade: i32) -> String {
    match decade {
        ..=2 => format!("{}µs", 10u64.pow(decade.max(0) as u32)),
        3..=5 => format!("{}ms", 10u64.pow((decade - 3) as u32)),
        _ => format!("{}s", 10u64.pow((decade - 6).min(9) as u32)),
    }
}

/// `1234567` → `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(group(12), "12");
        assert_eq!(nice_ceiling(3_400.0), 5_000.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(11.0), 20.0);
        assert_eq!(clock(3_725), "01:02:05");
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
}

#[cfg(test)]
mod screen_tests {
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::engine::EngineInfo;
    use crate::knobs::KnobChange;
    use crate::metrics::proc::{CpuSample, ThreadCpu};
    use crate::metrics::{ErrorCounts, ErrorKind, Event, LatencySummary, Snapshot, Totals};

    /// A fixed snapshot: 90 s of pipeline at depth 384 after a switch from sync at 30 s.
    fn canned(paced: bool) -> App {
        let knobs = crate::knobs::Knobs {
            strategy: Strategy::Pipeline,
            depth: 384,
            rate: if paced { 20_000.0 } else { 0.0 },
            ..Default::default()
        };
        let history: VecDeque<Arc<IntervalStats>> = (1..=90)
            .map(|second| {
                let fast = second > 30;
                let p50 = if fast { 2_400 } else { 210 };
                Arc::new(IntervalStats {
                    at_s: f64::from(second),
                    length_s: 1.0,
                    issued: if fast { 27_000 } else { 4_500 },
                    ok: if fast { 27_000 } else { 4_500 },
                    ok_rows: if fast { 27_000 } else { 4_500 },
                    throughput: if fast { 27_000.0 } else { 4_500.0 },
                    in_flight: if fast { 384 } else { 1 },
                    in_flight_max: if fast { 384 } else { 1 },
                    service: LatencySummary {
                        count: 1,
                        mean: p50 as f64,
                        p50,
                        p90: p50 * 2,
                        p99: p50 * 8,
                        p999: p50 * 20,
                        max: p50 * 40,
                    },
                    response: paced.then(|| LatencySummary {
                        p99: 90_000,
                        ..LatencySummary::default()
                    }),
                    cpu: CpuSample {
                        process_percent: 31.0,
                        threads: vec![ThreadCpu {
                            name: "casstop-engine".into(),
                            percent: 29.5,
                            run_queue_percent: 3.0,
                        }],
                        rss_bytes: 12 << 20,
                        node_percent: Some(176.0),
                        node_rss_bytes: Some(1_500 << 20),
                        process_cpu_s: 20.0,
                        machine_percent: Some(198.0),
                    },
                    verdict: crate::metrics::verdict::Verdict {
                        kind: VerdictKind::ServerBound,
                        text: "server-bound: node at 176% of 2 cores, p99 19.20 ms — the client is not the limit".into(),
                    },
                    ..IntervalStats::default()
                })
            })
            .collect();
        let mut errors = ErrorCounts::default();
        errors.add(ErrorKind::Timeout);
        let events: VecDeque<Arc<Event>> = [
            (
                30.0,
                "strategy pipeline",
                EventKind::Knob(KnobChange::new(&crate::knobs::STRATEGY, Strategy::Pipeline)),
            ),
            (
                30.0,
                "first write under `strategy pipeline` 0.2 ms after it was asked for",
                EventKind::Info,
            ),
            (
                45.5,
                "depth 384",
                EventKind::Knob(KnobChange::new(&crate::knobs::DEPTH, 384)),
            ),
        ]
        .into_iter()
        .map(|(at_s, text, kind)| {
            Arc::new(Event {
                at_s,
                text: text.into(),
                kind,
            })
        })
        .collect();
        let snapshot = Snapshot {
            started: Instant::now(),
            elapsed: Duration::from_secs(90),
            state: RunState::Running,
            paced,
            knobs,
            interval: history.back().cloned().unwrap(),
            totals: Totals {
                issued: 1_755_001,
                ok: 1_755_000,
                ok_rows: 1_755_000,
                errors,
                ..Totals::default()
            },
            history,
            events,
        };
        App::new(EngineInfo::for_tests(), Arc::new(snapshot), 120)
    }

    fn screen(app: &App, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(frame, app)).unwrap();
        let buffer = terminal.backend().buffer();
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn full_screen_at_80x24_shows_every_panel() {
        let text = screen(&canned(false), 80, 24);
        for expected in [
            "casstop",
            "Cassandra 5.0.9",
            "running",
            "00:01:30",
            "strategy pipeline",
            "depth 384",
            "throughput 27.0k/s",
            "latency p50 2.40 ms",
            "ok        1,755,000",
            "1 timeout",
            "in flight 384 / 384",
            "client    31% of a core",
            "depth 384",
            "q quit",
            "server-bound: node at 176%",
            "limit",
        ] {
            assert!(text.contains(expected), "missing `{expected}`:\n{text}");
        }
    }

    #[test]
    fn full_screen_at_160x48_shows_events_and_the_knob_marker() {
        let text = screen(&canned(false), 160, 48);
        assert!(text.contains("45.5s depth 384"), "{text}");
        assert!(
            text.contains("first write under `strategy pipeline` 0.2 ms"),
            "{text}"
        );
        assert!(text.contains("busiest   30% casstop-engine"), "{text}");
        assert!(text.contains("node     176% (local JVM)"), "{text}");
        assert!(text.contains("client CPU per write"), "{text}");
        assert!(
            text.contains("Little: 27.0k/s × 2.40 ms = 65 in flight (measured up to 384)"),
            "{text}"
        );
        assert!(
            text.contains("1ms") && text.contains("10ms"),
            "log-scaled latency axis:\n{text}"
        );
    }

    #[test]
    fn paced_runs_label_service_and_response_time() {
        let text = screen(&canned(true), 160, 48);
        assert!(text.contains("service p50 2.40 ms"), "{text}");
        assert!(text.contains("response p99 90.00 ms"), "{text}");
        assert!(text.contains("27.0k/s of 20.0k/s"), "{text}");
    }

    #[test]
    fn small_terminals_get_sparklines_then_a_message() {
        let compact = screen(&canned(false), 60, 16);
        assert!(compact.contains("writes/s 27.0k/s"), "{compact}");
        assert!(compact.contains("p99 19.20 ms"), "{compact}");
        assert!(compact.contains("ok 1,755,000"), "{compact}");
        let tiny = screen(&canned(false), 30, 8);
        assert!(tiny.contains("terminal too small (30×8)"), "{tiny}");
    }

    #[test]
    fn header_shows_the_emulated_rtt_and_the_hop() {
        let mut app = canned(false);
        assert!(!screen(&app, 160, 48).contains("hop :"));
        app.hop = Some(crate::ui::app::HopView {
            port: 9043,
            settings: crate::hop::HopSettings {
                rtt: std::time::Duration::from_millis(2),
                ..crate::hop::HopSettings::default()
            },
        });
        assert!(screen(&app, 160, 48).contains("rtt 2ms (hop :9043)"));
        assert!(screen(&app, 80, 24).contains("rtt 2ms (hop :9043)"));
    }

    #[test]
    fn failing_writes_show_the_node_as_down() {
        let mut app = canned(false);
        let mut snapshot = (*app.snapshot).clone();
        let mut interval = (*snapshot.interval).clone();
        interval.ok = 0;
        interval.errors.add(ErrorKind::Connection);
        interval.node = NodeHealth::Down;
        let interval = Arc::new(interval);
        snapshot.interval = interval.clone();
        snapshot
            .history
            .extend([interval.clone(), interval.clone(), interval]);
        snapshot.totals.maybe = 12;
        snapshot.totals.maybe_rows = 12;
        app.snapshot = Arc::new(snapshot);
        let text = screen(&app, 80, 24);
        assert!(text.contains("node DOWN for 00:00:03"), "{text}");
        assert!(!text.contains("running"), "{text}");
        assert!(text.contains("maybe     12 (12 rows)"), "{text}");
    }

    #[test]
    fn command_line_help_and_messages_draw() {
        let mut app = canned(false);
        app.mode = Mode::Command("depth 38".into());
        assert!(screen(&app, 80, 24).contains(":depth 38"));
        app.mode = Mode::Normal;
        app.message = Some((
            "depth must be between 1 and 100000, got 0".into(),
            Severity::Error,
        ));
        assert!(screen(&app, 80, 24).contains("depth must be between 1 and 100000, got 0"));
        app.message = None;
        app.mode = Mode::Help;
        let help = screen(&app, 100, 40);
        assert!(help.contains("wait for the oldest"), "{help}");
        assert!(help.contains(":depth (:d)"), "{help}");
    }
}
