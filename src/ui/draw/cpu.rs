//! The "where the time goes" panel: the verdict first, then the CPU evidence behind it (client,
//! busiest thread, node, machine, the worker tasks' split), Little's law, and the last profile.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::knobs::Strategy;
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
        lines.extend(per_write_lines(interval, app.snapshot.knobs.strategy));
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
    let verdict = &interval.verdict;
    // A rate not held is coloured by what holds it back.
    let kind = verdict.limit.unwrap_or(verdict.kind);
    let style = match kind {
        VerdictKind::CpuBound | VerdictKind::Failing => Style::new().fg(Color::Red).bold(),
        VerdictKind::ServerBound | VerdictKind::HeadOfLine => Style::new().fg(Color::Yellow).bold(),
        VerdictKind::IoBound => Style::new().fg(Color::Cyan).bold(),
        VerdictKind::RateHeld => Style::new().fg(Color::Green).bold(),
        VerdictKind::Balanced | VerdictKind::Idle | VerdictKind::RateNotHeld => Style::new().bold(),
    };
    Line::from(Span::styled(verdict.text.clone(), style))
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

/// Client CPU per write (per request, when the mix reads too), head-of-line waiting and
/// Little's law, for an interval with writes.
fn per_write_lines(interval: &IntervalStats, strategy: Strategy) -> Vec<Line<'static>> {
    let reads: u64 = interval.reads.iter().map(|r| r.ok).sum();
    let per = interval.cpu.process_percent / 100.0 * interval.length_s * 1e6
        / (interval.ok + reads) as f64;
    let mut lines = vec![Line::from(if reads > 0 {
        format!("client CPU per request {per:.1} µs (writes and reads)")
    } else {
        format!("client CPU per write {per:.1} µs")
    })];
    if matches!(strategy, Strategy::Pipeline | Strategy::Batches) {
        lines.push(Line::from(format!(
            "head-of-line {:.0}% of slot time, done but {}",
            interval.head_of_line_percent,
            if strategy == Strategy::Pipeline {
                "behind the oldest"
            } else {
                "waiting for the round"
            }
        )));
    }
    lines.push(Line::from(little(interval)));
    lines
}

/// Little's law, measured against estimated: writes in flight on average against throughput ×
/// service time. Where they disagree, what explains it.
fn little(interval: &IntervalStats) -> String {
    // A mix's reads hold slots too: the rate and mean are every request's.
    let rate = interval.requests_per_s();
    let expected = interval.little_in_flight();
    let measured = interval.in_flight_mean;
    let mean_us = if rate > 0.0 {
        expected / rate * 1e6
    } else {
        0.0
    };
    let head = format!(
        "Little: {} × {} = {expected:.0} in flight, measured {measured:.0}",
        PerSecond(rate),
        Micros(mean_us),
    );
    // Noise: a write or two, or a tenth, from the writes that straddle the interval's edges.
    let noise = (0.1 * expected).max(2.0);
    if measured > expected + noise && rate > 0.0 {
        // In flight counts from issue to the loop taking the answer; service time from send to
        // answer. The difference is time outside the round trip.
        let outside = (measured - expected) / rate * 1e6;
        let each = if interval.reads.is_empty() {
            "write"
        } else {
            "request"
        };
        format!(
            "{head} — each {each} also waits {} outside its round trip (queued before the send, \
             or answered but not yet taken by a busy loop)",
            Micros(outside)
        )
    } else if measured + noise < expected {
        format!("{head} — the interval finished writes issued in the one before")
    } else {
        head
    }
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
    let mut lines = vec![
        Line::from(Span::styled(
            format!("profile: {}", shares.join(", ")),
            style,
        )),
        // The same capture by wall time: what the CPU shares above cannot say by themselves.
        Line::from(Span::styled(format!("wall: {}", profile.wall), style)),
    ];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LatencySummary;

    fn interval(throughput: f64, service_mean_us: f64, in_flight_mean: f64) -> IntervalStats {
        IntervalStats {
            throughput,
            in_flight_mean,
            in_flight_max: 128,
            service: LatencySummary {
                mean: service_mean_us,
                ..LatencySummary::default()
            },
            ..IntervalStats::default()
        }
    }

    #[test]
    fn little_says_why_the_estimate_and_the_measure_disagree() {
        // 10k/s × 1 ms = 10 in flight, and 10 measured: nothing to explain.
        let agree = little(&interval(10_000.0, 1_000.0, 10.5));
        assert!(agree.ends_with("= 10 in flight, measured 10"), "{agree}");
        // 20 measured: each write spends 1 ms outside its round trip.
        let queued = little(&interval(10_000.0, 1_000.0, 20.0));
        assert!(
            queued.contains("each write also waits 1.00 ms outside its round trip"),
            "{queued}"
        );
        let straddle = little(&interval(10_000.0, 1_000.0, 5.0));
        assert!(
            straddle.contains("finished writes issued in the one before"),
            "{straddle}"
        );
    }
}
