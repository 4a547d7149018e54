//! The wall-clock view of a capture, which tells I/O-bound from CPU-bound time by itself. A CPU
//! profile shows only where a thread burnt its core; an I/O-bound client's 53 samples look like a
//! busy one's 500. Here each load thread's CPU stacks are weighted to add up to its measured time
//! on CPU, beside two frames for the rest of its wall time: waiting for I/O (idle in the reactor)
//! and waiting for a core (run-queue delay), both from the kernel's `schedstat`. The picture then
//! adds up to the threads' wall time.

use std::collections::BTreeMap;
use std::time::Instant;

use procfs::process::Process;
use serde::Serialize;

use super::categories::Frame;

/// The frames the off-CPU time goes to, under each thread.
pub const WAITING_FOR_IO: &str = "waiting for I/O (idle in the reactor)";
pub const WAITING_FOR_A_CORE: &str = "waiting for a core (run queue)";
pub const ON_CPU_UNSAMPLED: &str = "on CPU (no sample landed)";

/// Whether a thread runs the load: the current-thread runtime's, or a multi-thread worker.
pub fn is_load_thread(name: &str) -> bool {
    name.starts_with("casstop-engine") || name.starts_with("casstop-wrk")
}

/// One thread's kernel clocks, in nanoseconds.
#[derive(Clone, Debug)]
struct Clocks {
    name: String,
    on_cpu_ns: u64,
    run_delay_ns: u64,
}

/// The load threads' clocks when a capture began.
pub struct WallStart {
    at: Instant,
    threads: BTreeMap<i32, Clocks>,
}

impl WallStart {
    pub fn now() -> Self {
        WallStart {
            at: Instant::now(),
            threads: load_threads(),
        }
    }
}

fn load_threads() -> BTreeMap<i32, Clocks> {
    let Ok(tasks) = Process::myself().and_then(|me| me.tasks()) else {
        return BTreeMap::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let name = task.stat().ok()?.comm;
            let sched = task.schedstat().ok()?;
            is_load_thread(&name).then_some((
                task.tid,
                Clocks {
                    name,
                    on_cpu_ns: sched.sum_exec_runtime,
                    run_delay_ns: sched.run_delay,
                },
            ))
        })
        .collect()
}

/// How the load threads spent the capture, as shares of their wall time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WallSplit {
    /// Seconds of wall time summed over the load threads.
    pub wall_s: f64,
    pub on_cpu: f64,
    pub waiting_for_io: f64,
    pub waiting_for_core: f64,
}

impl std::fmt::Display for WallSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0}% on CPU, {:.0}% waiting for I/O, {:.0}% waiting for a core",
            self.on_cpu * 100.0,
            self.waiting_for_io * 100.0,
            self.waiting_for_core * 100.0
        )
    }
}

/// Per thread name: wall, on-CPU and run-queue nanoseconds over the capture.
#[derive(Clone, Copy, Debug, Default)]
struct Spent {
    wall: u64,
    on_cpu: u64,
    run_delay: u64,
}

/// What the load threads did between `start` and now, per thread name: read when sampling
/// ends, so the wall window is the samples' window.
pub struct WallSpent(BTreeMap<String, Spent>);

impl WallStart {
    pub fn finish(&self) -> WallSpent {
        let wall = self.at.elapsed().as_nanos() as u64;
        let mut spent: BTreeMap<String, Spent> = BTreeMap::new();
        for (tid, now) in load_threads() {
            // A thread that started during the capture is counted from its start, not before.
            let (cpu_before, delay_before) = self
                .threads
                .get(&tid)
                .map_or((0, 0), |then| (then.on_cpu_ns, then.run_delay_ns));
            let entry = spent.entry(now.name.clone()).or_default();
            let on_cpu = now.on_cpu_ns.saturating_sub(cpu_before);
            let run_delay = now.run_delay_ns.saturating_sub(delay_before);
            entry.wall += wall.max(on_cpu + run_delay);
            entry.on_cpu += on_cpu;
            entry.run_delay += run_delay;
        }
        WallSpent(spent)
    }
}

/// The wall-clock stacks (weights in µs) and the split, from what the threads spent and the
/// capture's CPU stacks (each led by its thread's name).
pub fn wall_stacks(
    spent: &WallSpent,
    cpu_stacks: &[(Vec<Frame>, u64)],
) -> (Vec<(Vec<Frame>, u64)>, WallSplit) {
    weigh(&spent.0, cpu_stacks)
}

fn weigh(
    spent: &BTreeMap<String, Spent>,
    cpu_stacks: &[(Vec<Frame>, u64)],
) -> (Vec<(Vec<Frame>, u64)>, WallSplit) {
    let frame = |name: &str| Frame {
        name: name.to_string(),
        file: String::new(),
    };
    let mut stacks = Vec::new();
    let mut total = Spent::default();
    for (thread, s) in spent {
        let mine: Vec<&(Vec<Frame>, u64)> = cpu_stacks
            .iter()
            .filter(|(stack, _)| stack.first().is_some_and(|f| &f.name == thread))
            .collect();
        let samples: u64 = mine.iter().map(|(_, count)| count).sum();
        let us = |ns: f64| (ns / 1e3).round() as u64;
        if samples > 0 {
            // Each sample stands for an equal share of the thread's measured time on CPU.
            let per_sample = s.on_cpu as f64 / samples as f64;
            for (stack, count) in mine {
                stacks.push((stack.clone(), us(per_sample * *count as f64)));
            }
        } else if s.on_cpu > 0 {
            stacks.push((
                vec![frame(thread), frame(ON_CPU_UNSAMPLED)],
                us(s.on_cpu as f64),
            ));
        }
        let io = s.wall.saturating_sub(s.on_cpu + s.run_delay);
        stacks.push((vec![frame(thread), frame(WAITING_FOR_IO)], us(io as f64)));
        stacks.push((
            vec![frame(thread), frame(WAITING_FOR_A_CORE)],
            us(s.run_delay as f64),
        ));
        total.wall += s.wall;
        total.on_cpu += s.on_cpu;
        total.run_delay += s.run_delay;
    }
    stacks.retain(|(_, weight)| *weight > 0);
    let wall = total.wall.max(1) as f64;
    let split = WallSplit {
        wall_s: total.wall as f64 / 1e9,
        on_cpu: total.on_cpu as f64 / wall,
        waiting_for_io: total.wall.saturating_sub(total.on_cpu + total.run_delay) as f64 / wall,
        waiting_for_core: total.run_delay as f64 / wall,
    };
    (stacks, split)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str) -> Frame {
        Frame {
            name: name.into(),
            file: String::new(),
        }
    }

    #[test]
    fn the_frames_add_up_to_the_wall_time_and_the_samples_share_the_cpu_time() {
        let spent = BTreeMap::from([(
            "casstop-engine".to_string(),
            Spent {
                wall: 5_000_000_000,
                on_cpu: 650_000_000,
                run_delay: 100_000_000,
            },
        )]);
        let engine = frame("casstop-engine");
        let cpu_stacks = vec![
            (vec![engine.clone(), frame("send")], 30),
            (vec![engine.clone(), frame("poll")], 10),
            // Another thread's samples belong to no load thread's wall time.
            (vec![frame("casstop-metrics"), frame("sample")], 7),
        ];
        let (stacks, split) = weigh(&spent, &cpu_stacks);
        let weight = |leaf: &str| {
            stacks
                .iter()
                .find(|(stack, _)| stack.last().unwrap().name == leaf)
                .map(|(_, w)| *w)
                .unwrap()
        };
        assert_eq!(weight("send"), 487_500);
        assert_eq!(weight("poll"), 162_500);
        assert_eq!(weight(WAITING_FOR_IO), 4_250_000);
        assert_eq!(weight(WAITING_FOR_A_CORE), 100_000);
        let total: u64 = stacks.iter().map(|(_, w)| w).sum();
        assert_eq!(total, 5_000_000, "µs: the thread's whole wall time");
        assert!(!stacks.iter().any(|(s, _)| s[0].name == "casstop-metrics"));
        assert_eq!(split.wall_s, 5.0);
        assert!((split.on_cpu - 0.13).abs() < 1e-9);
        assert!((split.waiting_for_io - 0.85).abs() < 1e-9);
        assert!((split.waiting_for_core - 0.02).abs() < 1e-9);
    }

    #[test]
    fn cpu_time_without_samples_still_shows() {
        let spent = BTreeMap::from([(
            "casstop-wrk-0".to_string(),
            Spent {
                wall: 1_000_000,
                on_cpu: 400_000,
                run_delay: 0,
            },
        )]);
        let (stacks, split) = weigh(&spent, &[]);
        assert_eq!(stacks.len(), 2);
        assert_eq!(stacks[0].0[1].name, ON_CPU_UNSAMPLED);
        assert_eq!(stacks[0].1, 400);
        assert!((split.on_cpu - 0.4).abs() < 1e-9);
    }
}
