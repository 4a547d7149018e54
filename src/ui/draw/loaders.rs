//! Under `casstop attach`, the "loaders" panel in place of "where the time goes": each loader's
//! health, throughput, p99 and verdict, and where knob changes go.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::control::remote::{LoaderHealth, LoaderView};
use crate::ui::app::App;
use crate::units::{Micros, PerSecond};

pub(super) fn draw_loaders(frame: &mut Frame, area: Rect, app: &App, loaders: &[LoaderView]) {
    frame.render_widget(
        Paragraph::new(loader_lines(app, loaders))
            .block(Block::bordered().title(" loaders "))
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn loader_lines(app: &App, loaders: &[LoaderView]) -> Vec<Line<'static>> {
    let target = match app.target {
        None => format!(
            "knob changes go to all {} loaders (`:loader N` picks one)",
            loaders.len()
        ),
        Some(i) => format!(
            "knob changes go to loader {} only (`:loader all` for all)",
            i + 1
        ),
    };
    let mut lines = vec![Line::from(Span::styled(target, Style::new().bold()))];
    for (i, loader) in loaders.iter().enumerate() {
        let marker = if app.target == Some(i) { "▶" } else { " " };
        let (health, style) = match &loader.health {
            LoaderHealth::Connecting => ("connecting".to_string(), Style::new().fg(Color::Yellow)),
            LoaderHealth::Up(state) => (state.clone(), Style::new().fg(Color::Green)),
            LoaderHealth::Down(_) => ("DOWN".to_string(), Style::new().fg(Color::Red).bold()),
        };
        let numbers = match loader.health {
            LoaderHealth::Up(_) => format!(
                "  {}  p99 {}",
                PerSecond(loader.throughput),
                Micros(loader.p99_us as f64)
            ),
            _ => String::new(),
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{marker}{} {} ", i + 1, loader.addr)),
            Span::styled(health, style),
            Span::raw(numbers),
        ]));
        let detail = match &loader.health {
            LoaderHealth::Down(why) => why.clone(),
            _ => loader.verdict.clone(),
        };
        if !detail.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("   {detail}"),
                Style::new().fg(Color::DarkGray),
            )));
        }
    }
    lines
}
