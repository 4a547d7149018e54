//! The "nodes" panel, shown once the load reaches more than one node: per coordinator its
//! throughput, p50/p99, errors and writes in flight, whether the driver holds a connection, and
//! the server's own queue. A node that is down or slow beside the others stands out in red.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::metrics::NodeStats;
use crate::metrics::evidence::Outlier;
use crate::metrics::nodes::outlier;
use crate::ui::app::App;
use crate::units::{Micros, PerSecond};

/// Rows the panel takes for `nodes` nodes: borders, a header, one per node.
pub(super) fn height(nodes: usize) -> u16 {
    nodes as u16 + 3
}

/// The nodes of the latest interval, when there are several.
pub(super) fn shown(app: &App) -> Option<&[NodeStats]> {
    let nodes = &app.snapshot.interval.nodes;
    (nodes.len() > 1).then_some(nodes.as_slice())
}

pub(super) fn draw_nodes(frame: &mut Frame, area: Rect, nodes: &[NodeStats]) {
    let block = Block::bordered().title(" nodes (coordinator) ");
    let width = block.inner(area).width.into();
    frame.render_widget(Paragraph::new(node_lines(nodes, width)).block(block), area);
}

fn node_lines(nodes: &[NodeStats], width: usize) -> Vec<Line<'static>> {
    // The server's queue only where there is room for it.
    let wide = width >= 66;
    let mut header = format!(
        "{:<15} {:>8} {:>9} {:>9} {:>6}",
        "node", "ok/s", "p50", "p99", "errors"
    );
    if wide {
        header += &format!(" {:>6} {:>7}", "in fl", "queued");
    }
    let mut lines = vec![Line::from(Span::styled(header, Style::new().bold()))];
    let standing_out = outlier(nodes);
    for node in nodes {
        let ip = node.node.ip().to_string();
        if !node.connected {
            lines.push(Line::from(vec![
                Span::raw(format!("{ip:<15} ")),
                Span::styled(
                    "DOWN — the driver has no connection",
                    Style::new().fg(Color::Red).bold(),
                ),
            ]));
            continue;
        }
        let slow = matches!(&standing_out, Some(Outlier::Slow { node: n, .. }) if *n == node.node);
        let mut text = format!(
            "{ip:<15} {:>8} {:>9} {:>9} {:>6}",
            PerSecond(node.throughput).to_string(),
            Micros(node.service.p50 as f64).to_string(),
            Micros(node.service.p99 as f64).to_string(),
            node.errors.total()
        );
        if wide {
            let queued = node
                .server
                .map(|s| (s.mutation_pending + s.native_pending).to_string())
                .unwrap_or_else(|| "—".into());
            text += &format!(" {:>6.1} {queued:>7}", node.in_flight_mean);
        }
        let style = if slow {
            Style::new().fg(Color::Red).bold()
        } else if node.errors.total() > 0 {
            Style::new().fg(Color::Yellow)
        } else {
            Style::new()
        };
        let mut spans = vec![Span::styled(text, style)];
        if slow {
            spans.push(Span::styled(" slow", Style::new().fg(Color::Red).bold()));
        }
        lines.push(Line::from(spans));
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::metrics::{ErrorCounts, LatencySummary, ServerLoad};

    fn node(last: u8, p99: u64, connected: bool) -> NodeStats {
        NodeStats {
            node: SocketAddr::from(([127, 0, 0, last], 9042)),
            datacenter: None,
            connected,
            ok: 4_000,
            throughput: 4_000.0,
            service: LatencySummary {
                count: 4_000,
                p50: 900,
                p99,
                ..Default::default()
            },
            errors: ErrorCounts::default(),
            in_flight_mean: 12.5,
            server: Some(ServerLoad {
                native_pending: 7,
                ..Default::default()
            }),
        }
    }

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn a_slow_node_is_marked_and_a_down_one_says_so() {
        let nodes = [
            node(1, 2_000, true),
            node(2, 2_100, false),
            node(3, 9_000, true),
        ];
        let shown = text(&node_lines(&nodes, 72));
        // Down comes first among what stands out: no node is called slow while one is down.
        assert!(
            shown[2].contains("127.0.0.2") && shown[2].contains("DOWN"),
            "{shown:?}"
        );
        assert!(!shown[3].ends_with(" slow"), "{shown:?}");
        let nodes = [
            node(1, 2_000, true),
            node(3, 9_000, true),
            node(4, 2_100, true),
        ];
        let shown = text(&node_lines(&nodes, 72));
        assert_eq!(
            shown[2],
            "127.0.0.3         4000/s    900 µs   9.00 ms      0   12.5       7 slow"
        );
        assert!(shown[0].ends_with("queued"));
        // Narrow: no room for the queue.
        let narrow = text(&node_lines(&nodes, 50));
        assert!(!narrow[0].contains("queued") && narrow[1].starts_with("127.0.0.1"));
    }
}
