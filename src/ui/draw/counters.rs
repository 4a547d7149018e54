//! The counters panel: writes and rows so far, errors, in flight against the limit, the rate.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::ui::app::App;
use crate::units::{Micros, PerSecond};

pub(super) fn draw_counters(frame: &mut Frame, area: Rect, app: &App) {
    frame.render_widget(
        Paragraph::new(counter_lines(app)).block(Block::bordered().title(" counters ")),
        area,
    );
}

fn counter_lines(app: &App) -> Vec<Line<'static>> {
    let s = &app.snapshot;
    let t = &s.totals;
    let i = &s.interval;
    let k = &app.knobs;
    let limit = k.in_flight_limit() * k.workers;
    // The rate paces every request of the mix, reads too.
    let requests = i.throughput + i.reads.iter().map(|r| r.throughput).sum::<f64>();
    let achieved = if k.rate > 0.0 {
        format!(
            "{} of {} ({:.0}%)",
            PerSecond(requests),
            PerSecond(k.rate),
            requests / k.rate * 100.0
        )
    } else {
        format!("{} (open)", PerSecond(requests))
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
    // Each read of the mix: its own count, rate and tail (the lines above are the writes').
    for read in &t.reads {
        let now = i.reads.iter().find(|r| r.op == read.op);
        // Two short lines: the panel is a quarter of the screen wide.
        lines.push(Line::from(format!(
            "{:<9} {} ({})",
            read.op,
            group(read.ok),
            PerSecond(now.map_or(0.0, |r| r.throughput)),
        )));
        lines.push(Line::from(format!(
            "  found {}  p99 {}{}",
            group(read.rows),
            Micros(now.map_or(0, |r| r.service.p99) as f64),
            if read.errors > 0 {
                format!("  errors {}", group(read.errors))
            } else {
                String::new()
            }
        )));
    }
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

/// `1234567` → `1,234,567`.
pub(super) fn group(n: u64) -> String {
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
    fn group_puts_commas_between_thousands() {
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(group(12), "12");
    }
}
