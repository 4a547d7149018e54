//! Sorting on-CPU samples into what the user can act on: the driver, network syscalls, the async
//! runtime, the application's own work, casstop itself, other. The patterns live in one place
//! (`[[profiler.categories]]` in config.toml; these are the defaults).

pub use crate::config::Category;

/// One sampled frame: the function's name (for the folded file and the top list) and where it
/// was compiled from (crate paths tell the driver, the runtime and casstop apart even for inlined
/// frames, whose names carry no module path).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    pub name: String,
    pub file: String,
}

impl Frame {
    /// What category patterns are matched against.
    pub fn key(&self) -> String {
        format!("{} {}", strip_generics(&self.name), self.file)
    }
}

/// The name given to samples no pattern claims.
pub const OTHER: &str = "other";

/// A frame's name without generic arguments, so `poll<casstop::X>` is not taken for casstop's
/// own code; the self type of `<scylla::Conn as Trait<T>>::f` is kept.
pub fn strip_generics(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut depth = 0usize;
    let leading = name.starts_with('<');
    let mut leading_open = leading;
    for (index, c) in name.char_indices() {
        match c {
            '<' => {
                depth += 1;
                if leading && index == 0 {
                    out.push(c);
                }
            }
            '>' => {
                depth = depth.saturating_sub(1);
                if leading_open && depth == 0 {
                    out.push(c);
                    leading_open = false;
                }
            }
            _ if depth == 0 || (leading_open && depth == 1) => out.push(c),
            _ => {}
        }
    }
    out
}

/// The category of one stack, given root first: the frame nearest the leaf that some pattern
/// claims decides (a `memcpy` called by the driver is the driver's time).
pub fn categorize<'a>(stack: &[Frame], categories: &'a [Category]) -> &'a str {
    for frame in stack.iter().rev() {
        let frame = frame.key();
        for category in categories {
            if category.patterns.iter().any(|p| frame.contains(p.as_str())) {
                return &category.name;
            }
        }
    }
    OTHER
}

/// Share of samples per category (0..=1), in the categories' order, `other` last.
pub fn shares(stacks: &[(Vec<Frame>, u64)], categories: &[Category]) -> Vec<(String, f64)> {
    let total: u64 = stacks.iter().map(|(_, count)| count).sum();
    let mut counts: Vec<(String, u64)> = categories
        .iter()
        .map(|c| (c.name.clone(), 0))
        .chain(std::iter::once((OTHER.to_string(), 0)))
        .collect();
    for (stack, count) in stacks {
        let name = categorize(stack, categories);
        if let Some(entry) = counts.iter_mut().find(|(n, _)| n == name) {
            entry.1 += count;
        }
    }
    counts
        .into_iter()
        .map(|(name, count)| {
            let share = if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            };
            (name, share)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames as `name@file` (the file may be left out).
    fn stack(frames: &[&str]) -> Vec<Frame> {
        frames
            .iter()
            .map(|f| {
                let (name, file) = f.split_once('@').unwrap_or((f, ""));
                Frame {
                    name: name.to_string(),
                    file: file.to_string(),
                }
            })
            .collect()
    }

    #[test]
    fn the_frame_nearest_the_leaf_decides() {
        let c = crate::config::Settings::default().profiler.categories;
        let cargo = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        let cpu = stack(&[
            "casstop-engine",
            &format!(
                "{{closure#0}}@{cargo}/tokio-1.54.1/src/runtime/scheduler/current_thread/mod.rs"
            ),
            "{async_fn#0}<casstop::engine::worker::Worker>@/work/main/src/engine/worker.rs",
            "cpu_work@/work/main/src/engine/workload.rs",
            "wrapping_mul<u64>@/rustc/abc/library/core/src/num/uint_macros.rs",
        ]);
        assert_eq!(categorize(&cpu, &c), "application");
        let serialize = stack(&[
            "casstop-engine",
            "{async_fn#0}<casstop::engine::workload::write>@/work/main/src/engine/workload.rs",
            &format!(
                "{{async_fn#0}}<scylla::client::session::Session>@{cargo}/scylla-1.9.0/src/client/session.rs"
            ),
            &format!("add_value@{cargo}/scylla-cql-2.0.0/src/serialize/row.rs"),
            "__memmove_avx_unaligned_erms",
        ]);
        assert_eq!(categorize(&serialize, &c), "driver");
        let send = stack(&[
            "casstop-engine",
            &format!("writer@{cargo}/scylla-1.9.0/src/network/connection.rs"),
            &format!("poll_write_priv@{cargo}/tokio-1.54.1/src/net/tcp/stream.rs"),
            "__libc_sendmsg",
        ]);
        assert_eq!(categorize(&send, &c), "network");
        let poll = stack(&[
            "casstop-engine",
            &format!("park@{cargo}/tokio-1.54.1/src/runtime/park.rs"),
            "epoll_wait",
        ]);
        assert_eq!(categorize(&poll, &c), "runtime");
        let ui = stack(&[
            "casstop",
            "run@/work/main/src/ui/mod.rs",
            &format!("draw<ratatui::X>@{cargo}/ratatui-core-0.1.0/src/terminal.rs"),
        ]);
        assert_eq!(categorize(&ui, &c), "casstop");
        assert_eq!(categorize(&stack(&["main", "_start"]), &c), OTHER);
    }

    #[test]
    fn generic_arguments_do_not_decide() {
        assert_eq!(
            strip_generics("instrument_poll<casstop::engine::worker::Run, tokio_metrics::X>"),
            "instrument_poll"
        );
        assert_eq!(
            strip_generics("<scylla::network::Connection as core::Foo<u8>>::send<T>"),
            "<scylla::network::Connection as core::Foo>::send"
        );
        let c = crate::config::Settings::default().profiler.categories;
        let generic_only = stack(&["t", "poll<casstop::engine::X>"]);
        assert_eq!(categorize(&generic_only, &c), OTHER);
    }

    #[test]
    fn shares_add_up_to_one() {
        let c = crate::config::Settings::default().profiler.categories;
        let stacks = vec![
            (stack(&["cpu_work"]), 6),
            (stack(&["scylla::x"]), 3),
            (stack(&["_start"]), 1),
        ];
        let shares = shares(&stacks, &c);
        assert_eq!(shares.first(), Some(&("application".to_string(), 0.6)));
        assert_eq!(shares.last(), Some(&(OTHER.to_string(), 0.1)));
        let total: f64 = shares.iter().map(|(_, s)| s).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(super::shares(&[], &c).iter().all(|(_, s)| *s == 0.0));
    }
}
