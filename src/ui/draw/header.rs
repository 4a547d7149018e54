//! The header: where the load goes and in what state, then every knob's current value.

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use crate::metrics::{NodeHealth, RunState, Snapshot};
use crate::ui::app::App;

/// The header: what runs where, then the knobs, laid out over as many lines as the width needs.
pub(super) fn header_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let mut lines = vec![title_line(app)];
    let mut current: Vec<Span> = Vec::new();
    let mut used = 0usize;
    for (name, value) in knob_values(app) {
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

/// ` casstop  127.0.0.1 · Cassandra 5.0.9  running  00:01:30`
fn title_line(app: &App) -> Line<'static> {
    let s = &app.snapshot;
    let state = if app.knobs.paused && s.state == RunState::Running {
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
    Line::from(vec![
        Span::styled(" casstop ", Style::new().bold().reversed()),
        Span::raw(format!(" {}  ", app.node_label)),
        Span::styled(state_text, state_style),
        Span::raw(format!("  {}  ", clock(s.elapsed.as_secs()))),
        // Last: on a narrow terminal the state and the clock stay in sight.
        Span::styled(workload(app), Style::new().fg(Color::DarkGray)),
    ])
}

/// What is written where: `casstop.writes`, or `time-series.toml → casstop.time_series`.
fn workload(app: &App) -> String {
    let info = &app.info;
    if info.workload == "default" || info.table.is_empty() {
        info.table.clone()
    } else {
        format!("{} → {}", info.workload, info.table)
    }
}

/// Every live knob as `(name, value)` under its registry name, leaving out what the strategy
/// ignores (the registry decides: [`crate::knobs::Knobs::header`]); then the runtime, fixed for
/// the session, and the hop's RTT last.
fn knob_values(app: &App) -> Vec<(&'static str, String)> {
    let threads = app.info.threads;
    let mut values = app.knobs.header();
    values.push((
        "runtime",
        format!(
            "{} ({threads} thread{})",
            app.info.runtime,
            if threads == 1 { "" } else { "s" }
        ),
    ));
    if let Some(hop) = &app.hop {
        values.push((
            "rtt",
            format!(
                "{} (hop :{})",
                crate::hop::format_rtt(hop.settings.rtt),
                hop.port
            ),
        ));
    }
    values
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::metrics::ErrorKind;
    use crate::ui::draw::testing::{canned, screen};

    #[test]
    fn clock_reads_hours_minutes_seconds() {
        assert_eq!(clock(3_725), "01:02:05");
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
}
