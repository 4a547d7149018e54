//! Drawing: a pure function of [`App`] (which carries the latest snapshot). One file per panel;
//! no clocks read here, so a fixed snapshot always draws the same screen.

mod charts;
mod compact;
mod counters;
mod cpu;
mod events;
mod footer;
mod header;
pub mod help;
mod loaders;
mod nodes;
#[cfg(test)]
pub(crate) mod testing;
mod wrap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Paragraph;

use super::app::{App, Mode};
use compact::{MIN_HEIGHT, MIN_WIDTH};

/// Below this the charts become sparklines.
const FULL_WIDTH: u16 = 80;
const FULL_HEIGHT: u16 = 24;

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        compact::draw_too_small(frame, area);
        return;
    }
    let mut header_lines = header::header_lines(app, area.width);
    // A small terminal keeps room for the numbers: the header gets at most a quarter of it,
    // its last line saying there is more (`?` and `:` still reach every knob).
    let most = usize::from(area.height / 4).max(2);
    if header_lines.len() > most {
        header_lines.truncate(most);
        if let Some(last) = header_lines.last_mut() {
            last.spans.push(ratatui::text::Span::raw("…"));
        }
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(header_lines.len() as u16),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header_lines), header);
    if area.width < FULL_WIDTH || area.height < FULL_HEIGHT {
        compact::draw_compact(frame, body, app);
    } else {
        draw_full(frame, body, app);
    }
    footer::draw_footer(frame, footer, app);
    if app.mode == Mode::Help {
        help::draw_help(frame, area, app.help_scroll);
    }
}

/// The body between header and footer: two charts above, three panels below (the per-node
/// table above the events once the load reaches several nodes).
fn draw_full(frame: &mut Frame, body: Rect, app: &App) {
    let [charts, panels] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let [throughput, latency] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    charts::draw_throughput(frame, throughput, app);
    charts::draw_latency(frame, latency, app);
    let [counters, cpu, events] = Layout::horizontal([
        Constraint::Length(30),
        Constraint::Percentage(40),
        Constraint::Min(20),
    ])
    .areas(panels);
    counters::draw_counters(frame, counters, app);
    match &app.loaders {
        Some(loaders) => loaders::draw_loaders(frame, cpu, app, loaders),
        None => cpu::draw_cpu(frame, cpu, app),
    }
    match nodes::shown(app) {
        // Above the events, as tall as it needs (the events keep at least a few rows).
        Some(shown) if events.height >= nodes::height(shown.len()) + 4 => {
            let [table, rest] = Layout::vertical([
                Constraint::Length(nodes::height(shown.len())),
                Constraint::Min(0),
            ])
            .areas(events);
            nodes::draw_nodes(frame, table, shown);
            events::draw_events(frame, rest, app);
        }
        _ => events::draw_events(frame, events, app),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testing::{canned, screen};

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
            text.contains("Little: 27.0k/s × 2.40 ms = 65 in flight, measured 65"),
            "{text}"
        );
        assert!(
            text.contains("head-of-line 83% of slot time, done but behind the oldest"),
            "{text}"
        );
        assert!(
            text.contains("1ms") && text.contains("10ms"),
            "log-scaled latency axis:\n{text}"
        );
    }
}
