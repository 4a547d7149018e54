//! Small terminals: below 80×24 the charts become sparklines over the counters and the event log;
//! below the minimum the screen is one line saying so.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline, Wrap};

use super::counters::group;
use super::events::event_lines;
use crate::ui::app::App;
use crate::units::{Micros, PerSecond};

/// Below this the screen is replaced by a one-line message.
pub(super) const MIN_WIDTH: u16 = 40;
pub(super) const MIN_HEIGHT: u16 = 12;

/// The whole screen of a terminal below [`MIN_WIDTH`]×[`MIN_HEIGHT`].
pub(super) fn draw_too_small(frame: &mut Frame, area: Rect) {
    let text = format!(
        "terminal too small ({}×{}); casstop needs {MIN_WIDTH}×{MIN_HEIGHT}",
        area.width, area.height
    );
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

/// The body between header and footer on a small terminal.
pub(super) fn draw_compact(frame: &mut Frame, area: Rect, app: &App) {
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
        sparkline(
            format!(" writes/s {} ", PerSecond(i.throughput)),
            &throughput,
        )
        .style(Style::new().fg(Color::Cyan)),
        spark_a,
    );
    frame.render_widget(
        sparkline(format!(" p99 {} ", Micros(i.service.p99 as f64)), &p99)
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
    let lines = event_lines(app, events.width.into(), events.height.into());
    frame.render_widget(Paragraph::new(lines), events);
}

fn sparkline(title: String, data: &[u64]) -> Sparkline<'_> {
    Sparkline::default()
        .block(Block::new().borders(Borders::TOP).title(title))
        .data(data)
}

#[cfg(test)]
mod tests {
    use crate::ui::draw::testing::{canned, screen};

    #[test]
    fn small_terminals_get_sparklines_then_a_message() {
        let compact = screen(&canned(false), 60, 16);
        assert!(compact.contains("writes/s 27.0k/s"), "{compact}");
        assert!(compact.contains("p99 19.20 ms"), "{compact}");
        assert!(compact.contains("ok 1,755,000"), "{compact}");
        assert!(compact.contains("   45.5s depth 384"), "{compact}");
        let tiny = screen(&canned(false), 30, 8);
        assert!(tiny.contains("terminal too small (30×8)"), "{tiny}");
    }
}
