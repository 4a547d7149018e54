//! The help overlay: every key of the key table, every `:` command, and what each strategy does.
//! Laid out for the width it gets; it scrolls when it is taller than the screen.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect, Size};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::wrap;
use crate::knobs::Strategy;
use crate::ui::app::{HelpView, commands};
use crate::ui::keys::{self, Binding};

/// Wider than this, lines get too long to read.
const MAX_WIDTH: u16 = 100;

/// A heading and its entries: what is pressed or typed, and what it does.
type Section = (String, Vec<(String, String)>);

fn sections() -> Vec<Section> {
    let bindings = |table: &[Binding]| -> Vec<(String, String)> {
        table
            .iter()
            .map(|binding| (keys::keys_label(binding), binding.help.to_string()))
            .collect()
    };
    let mut in_help = bindings(keys::HELP);
    in_help.push(("other keys".into(), "close help (q quits)".into()));
    let strategies = Strategy::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("{} {}", i + 1, s.name()), s.describe().to_string()))
        .collect();
    let commands = commands()
        .into_iter()
        .map(|(name, aliases, takes)| {
            let aliases: String = aliases.iter().map(|a| format!(" (:{a})")).collect();
            (format!(":{name}{aliases}"), takes.to_string())
        })
        .collect();
    vec![
        ("keys".into(), bindings(keys::NORMAL)),
        ("strategies".into(), strategies),
        (
            "commands  (:name value, e.g. :depth 384  :rate 5k  :strategy pipeline  :cpu 50)"
                .into(),
            commands,
        ),
        ("in help".into(), in_help),
    ]
}

/// Every line of help, wrapped into `width` columns.
pub fn help_lines(width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let mut lines = Vec::new();
    for (heading, entries) in sections() {
        lines.extend(wrap::hanging(
            Span::raw(""),
            &heading,
            Style::new().bold(),
            width,
        ));
        // One column for the keys of a section, never more than half the width.
        let column = entries
            .iter()
            .map(|(label, _)| wrap::width(label) + 4)
            .max()
            .unwrap_or(0)
            .min(width / 2);
        for (label, text) in entries {
            let label = Span::styled(
                format!("  {label:<0$}", column - 2),
                Style::new().fg(Color::Cyan),
            );
            lines.extend(wrap::hanging(label, &text, Style::new(), width));
        }
    }
    lines.extend(wrap::hanging(
        Span::raw(""),
        "runtime and threads are fixed for a session (--runtime, --threads).",
        Style::new().fg(Color::DarkGray),
        width,
    ));
    lines
}

/// Where the overlay goes on a screen of `area`: centred, as tall as its lines need.
fn popup(area: Rect) -> (Rect, Vec<Line<'static>>) {
    let width = area.width.min(MAX_WIDTH);
    let lines = help_lines(width.saturating_sub(2));
    let height = (lines.len() as u16).saturating_add(2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    (rect, lines)
}

/// How help fits a screen of `screen`: a page's lines, and how far it scrolls before its last
/// line is at the bottom.
pub fn view(screen: Size) -> HelpView {
    let (rect, lines) = popup(Rect::new(0, 0, screen.width, screen.height));
    let rows = rect.height.saturating_sub(2);
    HelpView {
        page: rows.max(1),
        end: (lines.len() as u16).saturating_sub(rows),
    }
}

pub(super) fn draw_help(frame: &mut Frame, area: Rect, scroll: u16) {
    let (rect, lines) = popup(area);
    let total = lines.len() as u16;
    let rows = rect.height.saturating_sub(2);
    let first = scroll.min(total.saturating_sub(rows));
    let position = if total > rows {
        format!(
            " {}-{} of {total} · ↑↓ PgUp PgDn · other keys close ",
            first + 1,
            first + rows
        )
    } else {
        " any key closes ".into()
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).scroll((first, 0)).block(
            Block::bordered()
                .title(" help ")
                .title_alignment(Alignment::Center)
                .title_bottom(Line::from(position).right_aligned()),
        ),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::*;
    use crate::ui::app::{Action, App, Mode};
    use crate::ui::draw::testing::{canned, screen};

    fn press(app: &mut App, code: KeyCode) -> Option<Action> {
        crate::ui::keys::on_key(app, KeyEvent::new(code, KeyModifiers::NONE))
    }

    /// The text inside the overlay's border, one string per row.
    fn popup_rows(text: &str) -> Vec<String> {
        let rows: Vec<Vec<char>> = text.lines().map(|line| line.chars().collect()).collect();
        let top = rows
            .iter()
            .position(|row| row.iter().collect::<String>().contains(" help "))
            .expect("the help overlay's top border");
        let left = rows[top].iter().position(|c| *c == '┌').unwrap();
        let right = rows[top].iter().rposition(|c| *c == '┐').unwrap();
        rows[top + 1..]
            .iter()
            .take_while(|row| row[left] != '└')
            .map(|row| row[left + 1..right].iter().collect())
            .collect()
    }

    /// Opens help at `width`×`height` and scrolls a line at a time (`j`) to the end; returns every
    /// line of help in order, and how many presses it took.
    fn scroll_through(width: u16, height: u16) -> (Vec<String>, usize) {
        let mut app = canned(false);
        app.help_view = view(Size::new(width, height));
        press(&mut app, KeyCode::Char('?'));
        let mut lines: Vec<String> = Vec::new();
        let mut presses = 0;
        loop {
            assert_eq!(app.mode, Mode::Help);
            let rows = popup_rows(&screen(&app, width, height));
            let first = usize::from(app.help_scroll);
            for (i, row) in rows.into_iter().enumerate() {
                if first + i >= lines.len() {
                    lines.push(row);
                } else {
                    assert_eq!(lines[first + i], row, "line {} moved", first + i);
                }
            }
            let before = app.help_scroll;
            press(&mut app, KeyCode::Char('j'));
            if app.help_scroll == before {
                return (lines, presses);
            }
            presses += 1;
        }
    }

    /// Everything help must say, found in `lines` read as running text (wrapping undone).
    fn assert_complete(lines: &[String]) {
        let text = lines
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        for binding in keys::NORMAL.iter().chain(keys::HELP) {
            let entry = format!("{} {}", keys::keys_label(binding), words(binding.help));
            assert!(text.contains(&entry), "missing key `{entry}` in:\n{text}");
        }
        for (name, aliases, takes) in commands() {
            let aliases: String = aliases.iter().map(|a| format!(" (:{a})")).collect();
            let entry = format!(":{name}{aliases} {}", words(&takes));
            assert!(text.contains(entry.trim()), "missing `{entry}` in:\n{text}");
        }
        for (i, strategy) in Strategy::ALL.iter().enumerate() {
            let entry = format!("{} {} {}", i + 1, strategy.name(), strategy.describe());
            assert!(text.contains(&entry), "missing `{entry}` in:\n{text}");
        }
        assert!(
            text.ends_with("runtime and threads are fixed for a session (--runtime, --threads)."),
            "{text}"
        );
    }

    #[test]
    fn help_draws_over_the_screen() {
        let mut app = canned(false);
        app.mode = Mode::Help;
        let help = screen(&app, 100, 40);
        assert!(help.contains("wait for the oldest"), "{help}");
        assert!(help.contains(":depth (:d)"), "{help}");
    }

    #[test]
    fn help_at_80x24_scrolls_to_every_key_command_and_strategy() {
        let (lines, presses) = scroll_through(80, 24);
        assert!(presses > 0, "at 80×24 help needs to scroll");
        assert_complete(&lines);
    }

    #[test]
    fn help_at_160x48_shows_every_key_command_and_strategy() {
        let (lines, _) = scroll_through(160, 48);
        assert_complete(&lines);
    }

    #[test]
    fn help_scrolls_by_line_and_page_and_any_other_key_closes() {
        let mut app = canned(false);
        app.help_view = view(Size::new(80, 24));
        let HelpView { page, end } = app.help_view;
        assert!(end > page, "80×24 holds less than two pages of help");
        press(&mut app, KeyCode::Char('?'));
        press(&mut app, KeyCode::PageDown);
        assert_eq!(app.help_scroll, page);
        press(&mut app, KeyCode::Up);
        press(&mut app, KeyCode::Char('k'));
        assert_eq!(app.help_scroll, page - 2);
        press(&mut app, KeyCode::Down);
        assert_eq!(app.help_scroll, page - 1);
        press(&mut app, KeyCode::End);
        assert_eq!(app.help_scroll, end);
        press(&mut app, KeyCode::PageDown);
        assert_eq!(app.help_scroll, end, "never past the end");
        let bottom = screen(&app, 80, 24);
        assert!(bottom.contains(&format!("of {} ·", end + page)), "{bottom}");
        press(&mut app, KeyCode::PageUp);
        assert_eq!(app.help_scroll, end - page);
        press(&mut app, KeyCode::Home);
        assert_eq!(app.help_scroll, 0);
        for (close, action) in [
            (KeyCode::Esc, None),
            (KeyCode::Char('?'), None),
            (KeyCode::Char('1'), None),
            (KeyCode::Char('q'), Some(Action::Quit)),
        ] {
            press(&mut app, KeyCode::Char('?'));
            press(&mut app, KeyCode::PageDown);
            assert_eq!(press(&mut app, close), action, "{close:?}");
            assert_eq!(app.mode, Mode::Normal, "{close:?} closes help");
            assert_eq!(app.help_scroll, 0, "help opens at the top again");
        }
    }
}
