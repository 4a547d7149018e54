//! The "where the time goes" panel: the verdict first, then the CPU evidence behind it (client,
//! busiest thread, node, machine, the worker tasks' split), Little's law, and the last profile.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::metrics::IntervalStats;
use crate::metrics::verdict::VerdictKind;
use crate::profiler::ProfileSummary;
use crate::ui::app::App;
use crate::units::{Bytes, Micros, PerSecond};

pub(super) fn draw_cpu(frame: &mut Frame, area: Rect, app: &App) {
    frame.render_widget(
        Paragraph::new(cpu_lines(app))
            .block(Block::bordered().title(" where the time goes "))
            // The verdict is the line that matters most: wrap it rather than cut it.
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn cpu_lines(app: &App) -> Vec<Line<'static>> {
    let interval = &app.snapshot.interval;
    let mut lines = vec![verdict_line(interval)];
    lines.extend(cpu_share_lines(interval));
    if interval.ok > 0 {
        lines.extend(per_write_lines(interval));
    }
    if let Some(left) = app.capture_left_s {
        lines.push(Line::from(Span::styled(
            format!("capturing a CPU profile … {left:.0} s left"),
            Style::new().fg(Color::Magenta),
        )));
    } else if let Some(profile) = &app.last_profile {
        lines.extend(profile_lines(profile));
    }
    lines
}

fn verdict_line(interval: &IntervalStats) -> Line<'static> {
    let style = match interval.verdict.kind {
        VerdictKind::CpuBound | VerdictKind::Failing => Style::new().fg(Color::Red).bold(),
        VerdictKind::ServerBound | VerdictKind::HeadOfLine => Style::new().fg(Color::Yellow).bold(),
        VerdictKind::IoBound => Style::new().fg(Color::Cyan).bold(),
        VerdictKind::Balanced | VerdictKind::Idle => Style::new().bold(),
    };
    Line::from(Span::styled(interval.verdict.text.clone(), style))
}

/// Who uses the CPU: the client, its busiest thread, the node, the machine, the worker tasks.
fn cpu_share_lines(interval: &IntervalStats) -> Vec<Line<'static>> {
    let cpu = &interval.cpu;
    let mut lines = vec![Line::from(format!(
        "client  {:>4.0}% of a core, RSS {}",
        cpu.process_percent,
        Bytes(cpu.rss_bytes)
    ))];
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
    lines
}

/// Client CPU per write and Little's law, for an interval with writes in it.
fn per_write_lines(interval: &IntervalStats) -> [Line<'static>; 2] {
    let per_write =
        interval.cpu.process_percent / 100.0 * interval.length_s * 1e6 / interval.ok as f64;
    // Little's law: what is in flight should be throughput × latency; a gap means writes
    // wait somewhere casstop does not time (a full FIFO, the client's own queue).
    let expected = interval.throughput * interval.service.mean / 1e6;
    [
        Line::from(format!("client CPU per write {per_write:.1} µs")),
        Line::from(format!(
            "Little: {} × {} = {expected:.0} in flight (measured up to {})",
            PerSecond(interval.throughput),
            Micros(interval.service.mean),
            interval.in_flight_max
        )),
    ]
}

/// The last capture's category shares and its three hottest frames.
fn profile_lines(profile: &ProfileSummary) -> Vec<Line<'static>> {
    let style = Style::new().fg(Color::Magenta);
    let shares: Vec<String> = profile
        .categories
        .iter()
        .filter(|(_, share)| *share >= 0.01)
        .map(|(name, share)| format!("{name} {:.0}%", share * 100.0))
        .collect();
    let mut lines = vec![Line::from(Span::styled(
        format!("profile: {}", shares.join(", ")),
        style,
    ))];
    for (frame, count) in profile.top_frames.iter().take(3) {
        let share = *count as f64 / profile.samples.max(1) as f64 * 100.0;
        let name: String = frame.chars().take(60).collect();
        lines.push(Line::from(Span::styled(
            format!("  {share:>3.0}% {name}"),
            style,
        )));
    }
    lines
}
