//! Client (and local node) CPU and memory from `/proc`: process and per-thread CPU time, RSS.

use std::collections::HashMap;
use std::fs;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Clock ticks per second of `/proc/*/stat` times.
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

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

/// Parses a stat line. The name sits in parentheses and may itself hold spaces and parentheses,
/// so the fields are counted from the *last* `)`.
pub fn parse_stat(line: &str) -> Option<StatLine> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let name = line.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = line.get(close + 1..)?.split_whitespace().collect();
    // After the name: state is field 3 of the man page, utime 14, stime 15, rss 24.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(StatLine {
        name,
        state: fields.first()?.chars().next()?,
        cpu_ticks: field(14)? + field(15)?,
        rss_pages: field(24)?,
    })
}

/// One thread's share of a core over the last interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    text.split_whitespace().nth(1)?.parse().ok()
}

/// CPU and memory over one interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
        let process = read_stat("/proc/self/stat")
            .map(|s| s.cpu_ticks)
            .unwrap_or(0);
        let mut sampler = CpuSampler {
            ticks_per_s: ticks_per_second(),
            page_size: page_size(),
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
        sampler.last_node = node_pid
            .and_then(|pid| read_stat(&format!("/proc/{pid}/stat")))
            .map(|s| s.cpu_ticks);
        sampler
    }

    /// Every thread's stat line and run-queue wait (ns).
    fn read_threads(&self) -> Vec<(u32, StatLine, u64)> {
        let Ok(entries) = fs::read_dir("/proc/self/task") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let tid = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let stat = read_stat(&format!("/proc/self/task/{tid}/stat"))?;
                let wait = fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
                    .ok()
                    .and_then(|text| parse_schedstat_wait(&text))
                    .unwrap_or(0);
                Some((tid, stat, wait))
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

        if let Some(stat) = read_stat("/proc/self/stat") {
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
            match read_stat(&format!("/proc/{pid}/stat")) {
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

/// Cores the machine has online.
pub fn online_cores() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let cores = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if cores > 0 { cores as u32 } else { 1 }
}

fn read_stat(path: &str) -> Option<StatLine> {
    parse_stat(&fs::read_to_string(path).ok()?)
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
    }

    #[test]
    fn parses_schedstat() {
        assert_eq!(parse_schedstat_wait("123456789 98765 4321\n"), Some(98765));
        assert_eq!(parse_schedstat_wait("1"), None);
    }

    fn thread_cpu() -> Duration {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    }

    #[test]
    fn machine_ticks_count_everything_but_idle_and_iowait() {
        let stat = "cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        assert_eq!(parse_machine_ticks(stat), Some((160, 1000)));
        assert_eq!(parse_machine_ticks("intr 1 2 3"), None);
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
