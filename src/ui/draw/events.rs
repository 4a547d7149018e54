//! The event log: knob changes, errors and notes, newest at the bottom. A long event wraps under
//! its text, clear of the timestamps, instead of being cut at the panel's edge.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::wrap;
use crate::metrics::{Event, EventKind};
use crate::ui::app::App;

pub(super) fn draw_events(frame: &mut Frame, area: Rect, app: &App) {
    let block = Block::bordered().title(" events ");
    let inner = block.inner(area);
    let lines = event_lines(app, inner.width.into(), inner.height.into());
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The newest events that fit in `rows` rows of `width` columns, whole, oldest first. An event
/// taller than the panel shows its beginning.
pub(super) fn event_lines(app: &App, width: usize, rows: usize) -> Vec<Line<'static>> {
    let mut newest_first: Vec<Vec<Line<'static>>> = Vec::new();
    let mut used = 0;
    for event in app.snapshot.events.iter().rev() {
        let mut lines = event_rows(event, width);
        if used + lines.len() > rows {
            if newest_first.is_empty() {
                lines.truncate(rows);
                newest_first.push(lines);
            }
            break;
        }
        used += lines.len();
        newest_first.push(lines);
    }
    newest_first.into_iter().rev().flatten().collect()
}

/// `   30.0s strategy pipeline`, wrapped under the text.
fn event_rows(event: &Event, width: usize) -> Vec<Line<'static>> {
    let style = match event.kind {
        EventKind::Knob(_) => Style::new().fg(Color::Yellow),
        EventKind::Error => Style::new().fg(Color::Red),
        EventKind::Info => Style::new().fg(Color::DarkGray),
    };
    let at = Span::styled(
        format!("{:>7.1}s ", event.at_s),
        Style::new().fg(Color::DarkGray),
    );
    wrap::hanging(at, &event.text, style, width)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ui::draw::testing::{canned, screen};

    /// The rows of the events panel (the box titled ` events `), inside its border.
    fn panel(text: &str) -> Vec<String> {
        let rows: Vec<Vec<char>> = text.lines().map(|line| line.chars().collect()).collect();
        let top = rows
            .iter()
            .position(|row| row.iter().collect::<String>().contains("┌ events "))
            .expect("the events panel");
        let title: String = rows[top].iter().collect();
        let left = title[..title.find("┌ events ").unwrap()].chars().count();
        let right = left
            + rows[top][left + 1..]
                .iter()
                .position(|c| *c == '┐')
                .unwrap()
            + 1;
        rows[top + 1..]
            .iter()
            .take_while(|row| row[left] != '└')
            .map(|row| row[left + 1..right].iter().collect())
            .collect()
    }

    #[test]
    fn long_events_wrap_under_their_text_at_160x48_and_120x36() {
        for (width, height) in [(160, 48), (120, 36)] {
            let rows = panel(&screen(&canned(false), width, height));
            let start = rows
                .iter()
                .position(|row| row.starts_with("   30.0s first write"))
                .unwrap_or_else(|| panic!("{width}×{height}: {rows:#?}"));
            let mut text = rows[start][9..].trim_end().to_string();
            for row in &rows[start + 1..] {
                if !row.starts_with("         ") || row.trim().is_empty() {
                    break;
                }
                text = format!("{text} {}", row.trim());
            }
            assert_eq!(
                text, "first write under `strategy pipeline` 0.2 ms after it was asked for",
                "{width}×{height}: {rows:#?}"
            );
            let last = rows.iter().rposition(|row| !row.trim().is_empty()).unwrap();
            assert!(
                rows[last].starts_with("   45.5s depth 384"),
                "newest last: {rows:#?}"
            );
        }
    }

    #[test]
    fn the_newest_events_fill_the_panel_whole() {
        let mut app = canned(false);
        let mut snapshot = (*app.snapshot).clone();
        snapshot.events.push_back(Arc::new(Event {
            at_s: 88.0,
            text: "a note long enough to take two rows of a narrow panel".into(),
            kind: EventKind::Info,
        }));
        app.snapshot = Arc::new(snapshot);
        let text = |lines: Vec<Line>| -> Vec<String> {
            lines.iter().map(|line| line.to_string()).collect()
        };
        // 40 columns, 3 rows: the two-row note and the one-row event before it; the older
        // (two-row) event does not fit whole and is left out.
        assert_eq!(
            text(event_lines(&app, 40, 3)),
            [
                "   45.5s depth 384",
                "   88.0s a note long enough to take two",
                "         rows of a narrow panel",
            ]
        );
        assert_eq!(
            text(event_lines(&app, 40, 1)),
            ["   88.0s a note long enough to take two"]
        );
    }
}
