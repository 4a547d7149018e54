//! Word wrapping done before rendering, so a panel knows how many rows its text takes: the event
//! log keeps its newest line at the bottom, help knows how far it scrolls.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// The columns `text` takes on screen.
pub(super) fn width(text: &str) -> usize {
    Span::raw(text).width()
}

/// `text` broken at spaces into pieces at most `width` columns wide; a word longer than that is
/// broken inside. Spaces inside a piece are kept as written; those at a break are dropped.
/// Always at least one piece.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut pieces = Vec::new();
    let mut current = String::new();
    for (gap, word) in words(text) {
        if self::width(&current) + gap.len() + self::width(word) <= width {
            if !current.is_empty() {
                current.push_str(gap);
            }
            current.push_str(word);
            continue;
        }
        if !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
        }
        for c in word.chars() {
            let next = self::width(&current) + self::width(c.encode_utf8(&mut [0; 4]));
            if !current.is_empty() && next > width {
                pieces.push(std::mem::take(&mut current));
            }
            current.push(c);
        }
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// The words of `text`, each with the spaces before it.
fn words(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = rest.len() - rest.trim_start_matches(' ').len();
        let (gap, tail) = rest.split_at(start);
        let end = tail.find(' ').unwrap_or(tail.len());
        let (word, after) = tail.split_at(end);
        rest = after;
        (!word.is_empty()).then_some((gap, word))
    })
}

/// `prefix` then `text` wrapped into `width` columns, the lines after the first indented by the
/// prefix's width: a hanging indent that keeps a timestamp or a key column clear.
pub(super) fn hanging(
    prefix: Span<'static>,
    text: &str,
    style: Style,
    width: usize,
) -> Vec<Line<'static>> {
    let indent = prefix.width();
    let mut prefix = Some(prefix);
    wrap(text, width.saturating_sub(indent))
        .into_iter()
        .map(|piece| {
            let lead = prefix
                .take()
                .unwrap_or_else(|| Span::raw(" ".repeat(indent)));
            Line::from(vec![lead, Span::styled(piece, style)])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_breaks_long_words() {
        assert_eq!(
            wrap("first write 7.2 ms after", 11),
            ["first write", "7.2 ms", "after"]
        );
        assert_eq!(wrap("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("µs × µs", 5), ["µs ×", "µs"]);
        assert_eq!(
            wrap("e.g. :depth 384  :rate 5k", 18),
            ["e.g. :depth 384", ":rate 5k"]
        );
        assert_eq!(wrap("a  b   c", 20), ["a  b   c"]);
    }

    #[test]
    fn hanging_indents_the_lines_after_the_first() {
        let lines = hanging(Span::raw("  30.0s "), "one two three", Style::new(), 16);
        let text: Vec<String> = lines.iter().map(|line| line.to_string()).collect();
        assert_eq!(text, ["  30.0s one two", "        three"]);
    }
}
