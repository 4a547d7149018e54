//! The help overlay: every key, every `:` command, and what each strategy does.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::engine::knobs::Strategy;
use crate::ui::app::COMMANDS;
use crate::ui::keys;

pub fn help_lines() -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled("keys", Style::new().bold()))];
    for binding in keys::NORMAL {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<11}", keys::keys_label(binding)),
                Style::new().fg(Color::Cyan),
            ),
            Span::raw(binding.help),
        ]));
    }
    lines.push(Line::from(Span::styled("strategies", Style::new().bold())));
    for strategy in Strategy::ALL {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<11}", strategy.name()),
                Style::new().fg(Color::Cyan),
            ),
            Span::raw(strategy.describe()),
        ]));
    }
    lines.push(Line::from(Span::styled(
        "commands  (:name value, e.g. :depth 384  :rate 5k  :strategy pipeline  :cpu 50)",
        Style::new().bold(),
    )));
    let names: Vec<String> = COMMANDS
        .iter()
        .map(|(name, aliases, _)| match aliases.first() {
            Some(alias) => format!(":{name} (:{alias})"),
            None => format!(":{name}"),
        })
        .collect();
    lines.push(Line::from(format!("  {}", names.join("  "))));
    lines.push(Line::from(Span::styled(
        "runtime and threads are fixed for a session (--runtime, --threads). Any key closes help.",
        Style::new().fg(Color::DarkGray),
    )));
    lines
}

pub(super) fn draw_help(frame: &mut Frame, area: Rect) {
    let lines = help_lines();
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = area.width.min(84);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::bordered()
                    .title(" help ")
                    .title_alignment(Alignment::Center),
            )
            .wrap(Wrap { trim: false }),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use crate::ui::app::Mode;
    use crate::ui::draw::testing::{canned, screen};

    #[test]
    fn help_draws_over_the_screen() {
        let mut app = canned(false);
        app.mode = Mode::Help;
        let help = screen(&app, 100, 40);
        assert!(help.contains("wait for the oldest"), "{help}");
        assert!(help.contains(":depth (:d)"), "{help}");
    }
}
