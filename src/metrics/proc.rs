//! Client (and local node) CPU and memory from `/proc`: process and per-thread CPU time, RSS.
//! The files are read and parsed by `procfs`; what is kept here is what casstop makes of them.

use std::collections::HashMap;
use std::fs;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use procfs::FromRead;
use procfs::process::{Process, Schedstat, Stat};
use serde::{Deserialize, Serialize};

/// The fields of a `/proc/<pid>/stat` (or `task/<tid>/stat`) line casstop uses.
#[derive(Debug, Clone, PartialEq)]
pub struct StatLine {
    pub name: String,
    pub state: char,
    /// User + system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident pages.
    pub rss_pages: u64,
}

impl From<Stat> for StatLine {
    fn from(stat: Stat) -> Self {
        StatLine {
            name: stat.comm,
            state: stat.state,
            cpu_ticks: stat.utime + stat.stime,
            rss_pages: stat.rss,
        }
    }
}

/// Parses a stat line. The name sits in parentheses and may itself hold spaces and parentheses,
/// so the fields are counted from the *last* `)`.
pub fn parse_stat(line: &str) -> Option<StatLine> {
    // procfs slices around the parentheses unchecked; a line without a pid before the name or a
    // state after it is refused here rather than left to panic there.
    let line = line.trim();
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let well_formed = open >= 2
        && close > open
        && line.is_char_boundary(open - 1)
        && line.is_char_boundary(close + 2)
        && line.len() > close + 2;
    if !well_formed {
        return None;
    }
    Stat::from_read(line.as_bytes()).ok().map(StatLine::from)
}

/// One thread's share of a core over the last interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadCpu {
    pub name: String,
    /// Percent of one core (100 = one core fully busy).
    pub percent: f64,
    /// Percent of the interval spent runnable but waiting for a core (run-queue delay): time the
    /// thread wanted the CPU and another process (the local node) had it.
    pub run_queue_percent: f64,
}

/// Run-queue wait in nanoseconds from a `/proc/<pid>/task/<tid>/schedstat` line
/// (`on-cpu-ns wait-ns timeslices`).
pub fn parse_schedstat_wait(text: &str) -> Option<u64> {
    Schedstat::from_read(text.as_bytes())
        .ok()
        .map(|schedstat| schedstat.run_delay)
}

/// CPU and memory over one interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuSample {
    /// casstop's whole process, percent of one core.
    pub process_percent: f64,
    /// casstop's threads, busiest first.
    pub threads: Vec<ThreadCpu>,
    pub rss_bytes: u64,
    /// The local node's JVM, percent of one core, when casstop knows its pid.
    pub node_percent: Option<f64>,
    pub node_rss_bytes: Option<u64>,
    /// casstop's CPU seconds since the sampler started.
    pub process_cpu_s: f64,
    /// Every process on the machine, percent of one core (200% = two cores busy): tells a
    /// saturated shared machine from an idle one.
    pub machine_percent: Option<f64>,
}

impl CpuSample {
    pub fn busiest_thread(&self) -> Option<&ThreadCpu> {
        self.threads.first()
    }

    /// The busiest of the threads that run the load: the engine thread (current-thread runtime)
    /// or the runtime's workers; not the UI, metrics or profiler threads.
    pub fn busiest_load_thread(&self) -> Option<&ThreadCpu> {
        self.threads
            .iter()
            .find(|t| t.name.starts_with("casstop-engine") || t.name.starts_with("casstop-wrk"))
    }
}

/// Samples `/proc` at interval edges and turns tick counters into percentages.
pub struct CpuSampler {
    ticks_per_s: f64,
    page_size: u64,
    node_pid: Option<u32>,
    started_ticks: u64,
    last_at: Instant,
    last_process: u64,
    last_threads: HashMap<u32, (u64, u64)>,
    last_node: Option<u64>,
    /// Busy and total ticks of all cores at the previous sample.
    last_machine: Option<(u64, u64)>,
}

/// Busy and total ticks over all cores from `/proc/stat`'s first line
/// (`cpu user nice system idle iowait irq softirq steal ...`).
pub fn parse_machine_ticks(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().next()?;
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let values: Vec<u64> = fields.take(8).filter_map(|f| f.parse().ok()).collect();
    if values.len() < 8 {
        return None;
    }
    let idle = values[3] + values[4];
    let total: u64 = values.iter().sum();
    Some((total - idle, total))
}

fn read_machine_ticks() -> Option<(u64, u64)> {
    parse_machine_ticks(&fs::read_to_string("/proc/stat").ok()?)
}

impl CpuSampler {
    pub fn new(node_pid: Option<u32>) -> Self {
        let process = own_stat().map(|s| s.cpu_ticks).unwrap_or(0);
        let mut sampler = CpuSampler {
            ticks_per_s: procfs::ticks_per_second().max(1) as f64,
            page_size: procfs::page_size(),
            node_pid,
            started_ticks: process,
            last_at: Instant::now(),
            last_process: process,
            last_threads: HashMap::new(),
            last_node: None,
            last_machine: read_machine_ticks(),
        };
        sampler.last_threads = sampler
            .read_threads()
            .into_iter()
            .map(|(tid, s, wait)| (tid, (s.cpu_ticks, wait)))
            .collect();
        sampler.last_node = node_pid.and_then(process_stat).map(|s| s.cpu_ticks);
        sampler
    }

    /// Every thread's stat line and run-queue wait (ns).
    fn read_threads(&self) -> Vec<(u32, StatLine, u64)> {
        let Ok(tasks) = Process::myself().and_then(|me| me.tasks()) else {
            return Vec::new();
        };
        tasks
            .flatten()
            .filter_map(|task| {
                let tid = u32::try_from(task.tid).ok()?;
                let stat = task.stat().ok()?;
                let wait = task.schedstat().map(|s| s.run_delay).unwrap_or(0);
                Some((tid, StatLine::from(stat), wait))
            })
            .collect()
    }

    /// CPU over the time since the previous sample.
    pub fn sample(&mut self) -> CpuSample {
        let now = Instant::now();
        let wall = now
            .duration_since(self.last_at)
            .max(Duration::from_millis(1))
            .as_secs_f64();
        let percent = |ticks: u64| ticks as f64 / self.ticks_per_s / wall * 100.0;
        let mut sample = CpuSample::default();

        if let Some(stat) = own_stat() {
            sample.process_percent = percent(stat.cpu_ticks.saturating_sub(self.last_process));
            sample.rss_bytes = stat.rss_pages * self.page_size;
            sample.process_cpu_s =
                stat.cpu_ticks.saturating_sub(self.started_ticks) as f64 / self.ticks_per_s;
            self.last_process = stat.cpu_ticks;
        }

        let mut threads = HashMap::new();
        let mut by_name: HashMap<String, (f64, f64)> = HashMap::new();
        for (tid, stat, wait) in self.read_threads() {
            let (ticks_before, wait_before) = self
                .last_threads
                .get(&tid)
                .copied()
                .unwrap_or((stat.cpu_ticks, wait));
            let entry = by_name.entry(stat.name.clone()).or_default();
            entry.0 += percent(stat.cpu_ticks.saturating_sub(ticks_before));
            entry.1 += wait.saturating_sub(wait_before) as f64 / 1e9 / wall * 100.0;
            threads.insert(tid, (stat.cpu_ticks, wait));
        }
        self.last_threads = threads;
        // Threads of one name (a pool's) are summed: the role is what the user reads.
        sample.threads = by_name
            .into_iter()
            .map(|(name, (percent, run_queue_percent))| ThreadCpu {
                name,
                percent,
                run_queue_percent,
            })
            .collect();
        sample.threads.sort_by(|a, b| {
            b.percent
                .total_cmp(&a.percent)
                .then_with(|| a.name.cmp(&b.name))
        });
        self.last_at = now;

        if let Some(pid) = self.node_pid {
            match process_stat(pid) {
                Some(stat) => {
                    if let Some(before) = self.last_node {
                        sample.node_percent = Some(percent(stat.cpu_ticks.saturating_sub(before)));
                    }
                    sample.node_rss_bytes = Some(stat.rss_pages * self.page_size);
                    self.last_node = Some(stat.cpu_ticks);
                }
                None => self.last_node = None,
            }
        }
        let machine = read_machine_ticks();
        if let (Some((busy, total)), Some((busy_before, total_before))) =
            (machine, self.last_machine)
            && total > total_before
        {
            let share = busy.saturating_sub(busy_before) as f64 / (total - total_before) as f64;
            sample.machine_percent = Some(share * online_cores() as f64 * 100.0);
        }
        self.last_machine = machine;
        sample
    }
}

/// Cores the machine has online: the `cpuN` lines of `/proc/stat`, whose first line sums them
/// (read once; 1 when `/proc/stat` cannot be read).
pub fn online_cores() -> u32 {
    static CORES: OnceLock<u32> = OnceLock::new();
    *CORES.get_or_init(|| {
        fs::read_to_string("/proc/stat")
            .ok()
            .map(|text| count_cores(&text))
            .filter(|cores| *cores > 0)
            .unwrap_or(1)
    })
}

/// The per-core lines (`cpu0`, `cpu1`, ...) of a `/proc/stat` text.
fn count_cores(text: &str) -> u32 {
    let per_core = |line: &&str| {
        line.strip_prefix("cpu")
            .and_then(|rest| rest.split(char::is_whitespace).next())
            .is_some_and(|id| id.parse::<u32>().is_ok())
    };
    text.lines().filter(per_core).count() as u32
}

fn own_stat() -> Option<StatLine> {
    Process::myself()
        .and_then(|me| me.stat())
        .ok()
        .map(StatLine::from)
}

fn process_stat(pid: u32) -> Option<StatLine> {
    let process = Process::new(i32::try_from(pid).ok()?).ok()?;
    process.stat().ok().map(StatLine::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_names() {
        let line = "4242 (casstop (worker) 1) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 37 0 0 20 0 3 0 \
                    12345 456789012 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.name, "casstop (worker) 1");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.cpu_ticks, 187);
        assert_eq!(stat.rss_pages, 2048);
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) R 1 2"), None);
        assert_eq!(parse_stat("1 (x)"), None);
        assert_eq!(parse_stat("(x) R 1 2"), None);
        assert_eq!(parse_stat("1 )x( R"), None);
        assert_eq!(parse_stat("1 (x)   "), None);
        assert_eq!(parse_stat("é(x) R"), None);
        assert_eq!(parse_stat("1 (x)é"), None);
    }

    #[test]
    fn parses_schedstat() {
        assert_eq!(parse_schedstat_wait("123456789 98765 4321\n"), Some(98765));
        assert_eq!(parse_schedstat_wait("1"), None);
    }

    fn thread_cpu() -> Duration {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Duration::try_from(now).unwrap()
    }

    #[test]
    fn machine_ticks_count_everything_but_idle_and_iowait() {
        let stat = "cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        assert_eq!(parse_machine_ticks(stat), Some((160, 1000)));
        assert_eq!(parse_machine_ticks("intr 1 2 3"), None);
        assert_eq!(count_cores(stat), 1);
        let two = "cpu  1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\ncpu1 1 2 3 4 5 6 7 8\nintr 5\n";
        assert_eq!(count_cores(two), 2);
        assert!(online_cores() >= 1);
    }

    #[test]
    fn reads_this_process_and_its_threads() {
        let me = own_stat().expect("our own stat");
        assert!(me.rss_pages > 0);
        let by_pid = process_stat(std::process::id()).expect("our stat by pid");
        assert_eq!(by_pid.name, me.name);
        let sampler = CpuSampler::new(None);
        let threads = sampler.read_threads();
        let tid = rustix::thread::gettid().as_raw_pid() as u32;
        let (_, this_thread, _) = threads
            .iter()
            .find(|(t, _, _)| *t == tid)
            .unwrap_or_else(|| panic!("thread {tid} not in {threads:?}"));
        assert_eq!(this_thread.state, 'R', "the thread reading is running");
        assert_eq!(process_stat(u32::MAX), None);
    }

    #[test]
    fn sampler_sees_this_process_burn_cpu() {
        // Burn 150 ms of this thread's CPU time, however long the shared machine makes that take:
        // the sampler must see at least that much, in seconds and as a share of the wall time.
        let mut sampler = CpuSampler::new(None);
        let start = Instant::now();
        let cpu_before = thread_cpu();
        let mut x = 0u64;
        while thread_cpu() - cpu_before < Duration::from_millis(150) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let wall = start.elapsed();
        let sample = sampler.sample();
        // /proc counts in clock ticks (10 ms): allow two of them.
        assert!(sample.process_cpu_s >= 0.13, "{sample:?}");
        assert!(sample.rss_bytes > 0);
        let busiest = sample.busiest_thread().expect("threads are listed");
        let floor = 0.9 * 15.0 / wall.as_secs_f64();
        assert!(busiest.percent >= floor, "{floor:.1}% at least: {sample:?}");
    }
}
