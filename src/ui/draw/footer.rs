//! The footer: the `:` command being typed, else the last message, else key hints.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::ui::app::{App, Mode, Severity};

pub(super) fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
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

#[cfg(test)]
mod tests {
    use crate::ui::app::{Mode, Severity};
    use crate::ui::draw::testing::{canned, screen};

    #[test]
    fn command_line_and_messages_draw() {
        let mut app = canned(false);
        app.mode = Mode::Command("depth 38".into());
        assert!(screen(&app, 80, 24).contains(":depth 38"));
        app.mode = Mode::Normal;
        app.message = Some((
            "depth must be between 1 and 100000, got 0".into(),
            Severity::Error,
        ));
        assert!(screen(&app, 80, 24).contains("depth must be between 1 and 100000, got 0"));
    }
}
