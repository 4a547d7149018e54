//! The event log: knob changes, errors and notes, newest at the bottom.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::metrics::EventKind;
use crate::ui::app::App;

pub(super) fn draw_events(frame: &mut Frame, area: Rect, app: &App) {
    let rows = area.height.saturating_sub(2) as usize;
    frame.render_widget(
        Paragraph::new(event_lines(app, rows)).block(Block::bordered().title(" events ")),
        area,
    );
}

/// The newest `rows` events, one line each.
pub(super) fn event_lines(app: &App, rows: usize) -> Vec<Line<'static>> {
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
