//! The rows a worker has written, in the layouts they were written under: what a read of the mix
//! may ask for. A live change of `rows_per_request` or `batch_spread` lays later rows out
//! otherwise, and moves the worker on to a fresh block (rows it skips are never written); a row
//! is found again only through the layout that placed it.

use std::collections::VecDeque;

/// Layouts kept: a worker's reads draw from its newest this many (changes are the user's, few).
const KEPT: usize = 64;

/// One layout's rows: counters `start..end` placed by `layout` (the worker's request template).
struct Span<L> {
    start: u64,
    /// The newest span's end is the worker's next row, passed in: this field is set on close.
    end: u64,
    layout: L,
}

pub struct Written<L> {
    /// Oldest first.
    spans: VecDeque<Span<L>>,
}

impl<L> Written<L> {
    pub fn new(layout: L) -> Written<L> {
        Written {
            spans: VecDeque::from([Span {
                start: 0,
                end: 0,
                layout,
            }]),
        }
    }

    /// The worker's rows up to `end` were placed by the old layout; from `start` on, `layout`
    /// places them.
    pub fn relayout(&mut self, end: u64, start: u64, layout: L) {
        if let Some(last) = self.spans.back_mut() {
            last.end = end;
            if last.start >= last.end {
                self.spans.pop_back();
            }
        }
        if self.spans.len() == KEPT {
            self.spans.pop_front();
        }
        self.spans.push_back(Span {
            start,
            end: start,
            layout,
        });
    }

    /// The rows surely written when the worker's next row is `next_row`: all but the newest
    /// `lag` (writes in flight complete out of order).
    pub fn readable(&self, next_row: u64, lag: u64) -> u64 {
        let all: u64 = (0..self.spans.len())
            .map(|i| self.end_of(i, next_row) - self.spans[i].start)
            .sum();
        all.saturating_sub(lag)
    }

    /// The `n`th row written, oldest first (`n` below [`Self::readable`]): its counter and
    /// the layout that placed it. Beyond them, the newest span's first row.
    pub fn nth(&self, mut n: u64, next_row: u64) -> (u64, &L) {
        for (i, span) in self.spans.iter().enumerate() {
            let len = self.end_of(i, next_row) - span.start;
            if n < len {
                return (span.start + n, &span.layout);
            }
            n -= len;
        }
        let newest = self.spans.back().expect("a span is always kept");
        (newest.start, &newest.layout)
    }

    fn end_of(&self, i: usize, next_row: u64) -> u64 {
        let span = &self.spans[i];
        if i + 1 == self.spans.len() {
            next_row.max(span.start)
        } else {
            span.end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_found_through_the_layout_that_placed_it_and_skipped_rows_never() {
        let mut written = Written::new("one row a request");
        // 100 rows, then a change that skips to row 120 (the next block of 40).
        written.relayout(100, 120, "batches of 40");
        assert_eq!(
            written.readable(150, 0),
            130,
            "100 + 30, the 20 skipped are not"
        );
        assert_eq!(written.nth(99, 150), (99, &"one row a request"));
        assert_eq!(written.nth(100, 150), (120, &"batches of 40"));
        assert_eq!(written.nth(129, 150), (149, &"batches of 40"));
        // The newest rows may still be in flight: 30 of them held back reach into the old span.
        assert_eq!(written.readable(150, 40), 90);
        // A change before any row under the current layout leaves no empty span behind.
        written.relayout(150, 150, "scatter");
        written.relayout(150, 160, "partition");
        assert_eq!(written.readable(161, 0), 131);
        assert_eq!(written.nth(130, 161), (160, &"partition"));
        // Only the newest layouts are kept.
        for i in 0..100 {
            written.relayout(200 + i * 10, 200 + i * 10 + 5, "later");
        }
        assert_eq!(written.spans.len(), KEPT);
        assert_eq!(written.nth(0, 2000).1, &"later");
    }
}
