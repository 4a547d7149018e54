//! The footer: the `:` command being typed, else the last message, else key hints.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::ui::app::{App, Mode, Severity};
use crate::ui::keys::{self, Hint};

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

/// The footer's key hints, from the key table: as many as fit, the `Always` ones (help, quit)
/// however narrow the footer is.
fn key_hints(width: u16) -> Line<'static> {
    let hints = hints();
    let cost =
        |(key, what, _): &(String, &str, bool)| key.chars().count() + what.chars().count() + 3;
    let always = hints.iter().filter(|hint| hint.2);
    let mut budget = (width as usize).saturating_sub(always.clone().map(cost).sum());
    let shown = hints.iter().filter(|hint| !hint.2).take_while(|hint| {
        let fits = cost(hint) <= budget;
        if fits {
            budget -= cost(hint);
        }
        fits
    });
    Line::from(
        shown
            .chain(always)
            .flat_map(|(key, what, _)| {
                [
                    Span::styled(key.clone(), Style::new().bold().fg(Color::Cyan)),
                    Span::raw(format!(" {what}  ")),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

/// `(keys, word, always shown)` for every hint in the key table: `("+/-", "depth", false)`.
fn hints() -> Vec<(String, &'static str, bool)> {
    let mut hints: Vec<(String, &'static str, bool)> = Vec::new();
    for binding in keys::NORMAL {
        match binding.hint {
            Hint::Hidden => {}
            Hint::Starts(word) => hints.push((keys::hint_label(binding), word, false)),
            Hint::Always(word) => hints.push((keys::hint_label(binding), word, true)),
            Hint::Joins => {
                if let Some(last) = hints.last_mut() {
                    last.0 = format!("{}/{}", last.0, keys::hint_label(binding));
                }
            }
        }
    }
    hints
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

    #[test]
    fn hints_come_from_the_key_table_and_help_and_quit_always_fit() {
        let wide = screen(&canned(false), 160, 48);
        let footer = wide.lines().last().unwrap();
        for hint in [
            "1-5 strategy",
            "+/- depth",
            "[/] batch",
            "w/W workers",
            "r/R rate",
            "p pause",
            ": command",
            "z zoom",
            "? help",
            "q quit",
        ] {
            assert!(footer.contains(hint), "`{hint}` in `{footer}`");
        }
        let narrow = screen(&canned(false), 60, 16);
        let footer = narrow.lines().last().unwrap();
        assert!(footer.contains("1-5 strategy"), "{footer}");
        assert!(!footer.contains("zoom"), "{footer}");
        assert!(footer.trim_end().ends_with("? help  q quit"), "{footer}");
    }
}
