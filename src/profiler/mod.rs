//! CPU profiles on demand: sample the whole process with pprof for a few seconds while the load
//! runs, on a thread of its own, and write a flamegraph SVG, a pprof protobuf and folded stacks,
//! plus a summary (top frames by self time, share of samples per category) for the screen.

pub mod categories;
pub mod wall;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

pub use categories::{Category, Frame};
pub use wall::WallSplit;

/// One capture's outputs and what they say.
#[derive(Clone, Debug, Serialize)]
pub struct ProfileSummary {
    pub dir: PathBuf,
    pub svg: PathBuf,
    pub pb: PathBuf,
    pub folded: PathBuf,
    /// The wall-clock view: the load threads' CPU stacks weighted by their time on CPU, beside
    /// their time waiting for I/O and for a core (µs).
    pub wall_svg: PathBuf,
    pub wall_pb: PathBuf,
    pub wall_folded: PathBuf,
    pub wall: WallSplit,
    pub duration_s: f64,
    pub frequency_hz: u32,
    pub samples: u64,
    /// Leaf functions with the most samples, and their sample counts.
    pub top_frames: Vec<(String, u64)>,
    /// Share of samples (0..=1) per category.
    pub categories: Vec<(String, f64)>,
}

impl ProfileSummary {
    pub fn share(&self, category: &str) -> f64 {
        self.categories
            .iter()
            .find(|(name, _)| name == category)
            .map(|(_, share)| *share)
            .unwrap_or(0.0)
    }
}

/// Samples the process for `duration` at `frequency_hz` and writes `profile.svg`, `profile.pb`
/// and `profile.folded` into `dir`. Blocks for the duration of the capture, or until a message
/// on `cut_short` for this capture (its number, or a later one) ends it early with what was
/// sampled so far.
pub fn capture(
    duration: Duration,
    frequency_hz: u32,
    dir: &Path,
    categories: &[Category],
    cut_short: Option<(&Receiver<u64>, u64)>,
) -> Result<ProfileSummary> {
    // Owner-only, like everything casstop records: stacks name the code and paths it ran.
    crate::files::create_private_dir(dir, true)?;
    // Samples landing in the unwinder's own libraries are skipped (unwinding from inside them is
    // where signal-time unwinding can deadlock). libc is kept: its send/recv wrappers are where
    // network time shows.
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(frequency_hz as i32)
        .blocklist(&["libgcc", "pthread", "vdso"])
        .build()
        .context("starting the CPU profiler")?;
    let wall_start = wall::WallStart::now();
    let started = Instant::now();
    match cut_short {
        Some((cut, this)) => wait_for_cut(cut, this, started + duration),
        None => std::thread::sleep(duration),
    }
    // The wall clocks close with the sampling window, before the report takes its time.
    let wall_spent = wall_start.finish();
    let elapsed = started.elapsed();
    let report = guard.report().build().context("building the profile")?;
    drop(guard);

    let stacks = stacks(&report);
    let samples: u64 = stacks.iter().map(|(_, count)| count).sum();
    let (wall_stacks, wall) = wall::wall_stacks(&wall_spent, &stacks);

    let folded = dir.join("profile.folded");
    std::fs::write(&folded, folded_text(&stacks))
        .with_context(|| format!("writing {}", folded.display()))?;

    let svg = dir.join("profile.svg");
    let file =
        std::fs::File::create(&svg).with_context(|| format!("creating {}", svg.display()))?;
    if samples > 0 {
        let mut options = inferno::flamegraph::Options::default();
        options.title = format!(
            "casstop CPU profile: {samples} samples at {frequency_hz} Hz over {:.1} s",
            elapsed.as_secs_f64()
        );
        report
            .flamegraph_with_options(std::io::BufWriter::new(file), &mut options)
            .context("writing the flamegraph")?;
    }

    let pb = dir.join("profile.pb");
    let profile = report.pprof().context("encoding the pprof profile")?;
    let mut bytes = Vec::new();
    prost::Message::encode(&profile, &mut bytes).context("encoding the pprof profile")?;
    std::fs::write(&pb, bytes).with_context(|| format!("writing {}", pb.display()))?;

    let (wall_folded, wall_svg) = write_wall(dir, &wall_stacks, &wall)?;
    let wall_pb = dir.join("profile-wall.pb");
    let mut bytes = Vec::new();
    prost::Message::encode(&wall::pprof(&wall_stacks, wall.wall_s), &mut bytes)
        .context("encoding the wall-clock pprof profile")?;
    std::fs::write(&wall_pb, bytes).with_context(|| format!("writing {}", wall_pb.display()))?;

    drop(report);
    give_memory_back();
    Ok(ProfileSummary {
        dir: dir.to_path_buf(),
        svg,
        pb,
        folded,
        wall_svg,
        wall_pb,
        wall_folded,
        wall,
        duration_s: elapsed.as_secs_f64(),
        frequency_hz,
        samples,
        top_frames: top_frames(&stacks, 8),
        categories: categories::shares(&stacks, categories),
    })
}

/// Writes `profile-wall.folded` (µs per stack) and `profile-wall.svg`, titled with the split.
fn write_wall(
    dir: &Path,
    stacks: &[(Vec<Frame>, u64)],
    split: &WallSplit,
) -> Result<(PathBuf, PathBuf)> {
    let folded = dir.join("profile-wall.folded");
    let text = folded_text(stacks);
    std::fs::write(&folded, &text).with_context(|| format!("writing {}", folded.display()))?;
    let svg = dir.join("profile-wall.svg");
    let file =
        std::fs::File::create(&svg).with_context(|| format!("creating {}", svg.display()))?;
    if !stacks.is_empty() {
        let mut options = inferno::flamegraph::Options::default();
        options.title = format!(
            "casstop wall-clock profile: {:.0}% on CPU, {:.0}% waiting for I/O, {:.0}% waiting for a core ({:.1} s of load threads)",
            split.on_cpu * 100.0,
            split.waiting_for_io * 100.0,
            split.waiting_for_core * 100.0,
            split.wall_s
        );
        options.count_name = "µs".into();
        inferno::flamegraph::from_lines(&mut options, text.lines(), std::io::BufWriter::new(file))
            .context("writing the wall-clock flamegraph")?;
    }
    Ok((folded, svg))
}

/// Waits until `until`, or a cut for capture `this` or a later one. A cut for an earlier capture
/// (asked after that one had ended) is passed over; one sent before this capture began, while
/// its request was on the way, still ends it.
fn wait_for_cut(cut: &Receiver<u64>, this: u64, until: Instant) {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match cut.recv_timeout(left) {
            Ok(id) if id >= this => return,
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => return,
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(left);
                return;
            }
        }
    }
}

/// Symbolising a capture parses the binary's debug information into a cache that lives for the
/// process (tens of MiB with line tables); drop it, and hand the freed heap back to the system, so
/// a capture does not leave the client that much bigger. pprof's own sample table (a fixed
/// ~160 MiB, allocated at the first capture and kept by the crate) cannot be freed from here.
fn give_memory_back() {
    backtrace::clear_symbol_cache();
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Every sampled stack, root first and led by its thread's name, with its count.
fn stacks(report: &pprof::Report) -> Vec<(Vec<Frame>, u64)> {
    let mut merged: HashMap<Vec<Frame>, u64> = HashMap::new();
    for (frames, count) in &report.data {
        let mut stack = vec![Frame {
            name: frames.thread_name_or_id(),
            file: String::new(),
        }];
        for frame in frames.frames.iter().rev() {
            for symbol in frame.iter().rev() {
                stack.push(Frame {
                    name: symbol.to_string(),
                    file: symbol.filename().into_owned(),
                });
            }
        }
        *merged.entry(stack).or_default() += (*count).max(0) as u64;
    }
    let mut stacks: Vec<_> = merged.into_iter().collect();
    stacks.sort();
    stacks
}

/// Brendan Gregg's folded format: `thread;root;...;leaf count`, one stack a line.
pub fn folded_text(stacks: &[(Vec<Frame>, u64)]) -> String {
    let mut text = String::new();
    for (stack, count) in stacks {
        let frames: Vec<String> = stack
            .iter()
            .map(|f| f.name.replace([';', '\n'], ":"))
            .collect();
        let _ = writeln!(text, "{} {count}", frames.join(";"));
    }
    text
}

/// The leaf functions with the most samples (self time).
pub fn top_frames(stacks: &[(Vec<Frame>, u64)], limit: usize) -> Vec<(String, u64)> {
    let mut by_leaf: HashMap<&str, u64> = HashMap::new();
    for (stack, count) in stacks {
        if let Some(leaf) = stack.last() {
            *by_leaf.entry(leaf.name.as_str()).or_default() += count;
        }
    }
    let mut top: Vec<(String, u64)> = by_leaf
        .into_iter()
        .map(|(name, count)| (name.to_string(), count))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(limit);
    top
}

/// Where a capture's files go: `<output dir>/profiles/<UTC timestamp>`.
pub fn capture_dir(output_dir: &Path) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "");
    output_dir.join("profiles").join(stamp)
}

/// A request for a capture.
/// Samples a capture should hold at least: fewer and a 2% frame is noise.
pub const MIN_SAMPLES: f64 = 500.0;
/// pprof samples on `ITIMER_PROF`, which the kernel checks at its scheduler tick (250 Hz here):
/// asking for more gives no more samples per CPU-second.
pub const TICK_HZ: u32 = 250;
/// A capture is stretched to at most this many times its configured length.
pub const MAX_STRETCH: u32 = 4;

/// How long and how fast to sample a client that uses `cpu_cores` of CPU (1.0 = one core), so
/// the capture holds [`MIN_SAMPLES`]: an I/O-bound client at 13% of a core gave 53 samples in
/// 5 s at 99 Hz. The rate goes up to the tick first, then the length, to [`MAX_STRETCH`] times.
pub fn plan(duration: Duration, frequency_hz: u32, cpu_cores: f64) -> (Duration, u32) {
    let cpu = cpu_cores.max(0.01);
    let samples = |d: Duration, hz: u32| cpu * d.as_secs_f64() * f64::from(hz.min(TICK_HZ));
    if samples(duration, frequency_hz) >= MIN_SAMPLES {
        return (duration, frequency_hz);
    }
    let hz = frequency_hz.max(TICK_HZ);
    if samples(duration, hz) >= MIN_SAMPLES {
        return (duration, hz);
    }
    let needed = Duration::from_secs_f64(MIN_SAMPLES / (cpu * f64::from(hz.min(TICK_HZ))));
    (needed.min(duration * MAX_STRETCH), hz)
}

#[derive(Clone, Debug)]
pub struct CaptureRequest {
    pub duration: Duration,
    pub frequency_hz: u32,
    pub dir: PathBuf,
}

/// The profiler thread: one capture at a time, results collected without waiting.
pub struct Profiler {
    requests: Sender<(u64, CaptureRequest)>,
    results: Receiver<Result<ProfileSummary>>,
    /// Cuts carry the number of the capture they end: a quit right after `f` may reach the
    /// profiler thread before the capture's request does.
    cut: Sender<u64>,
    captures: u64,
    running: Option<Instant>,
}

impl Profiler {
    pub fn spawn(categories: Vec<Category>) -> Result<Profiler> {
        let (requests, request_rx) = std::sync::mpsc::channel::<(u64, CaptureRequest)>();
        let (result_tx, results) = std::sync::mpsc::channel();
        let (cut, cut_rx) = std::sync::mpsc::channel::<u64>();
        std::thread::Builder::new()
            .name("casstop-profiler".into())
            .spawn(move || {
                for (id, request) in request_rx {
                    let result = capture(
                        request.duration,
                        request.frequency_hz,
                        &request.dir,
                        &categories,
                        Some((&cut_rx, id)),
                    );
                    if result_tx.send(result).is_err() {
                        break;
                    }
                }
            })
            .context("starting the profiler thread")?;
        Ok(Profiler {
            requests,
            results,
            cut,
            captures: 0,
            running: None,
        })
    }

    /// When the capture in progress started, if one is.
    pub fn running_since(&self) -> Option<Instant> {
        self.running
    }

    /// Starts a capture, unless one is already running.
    pub fn start(&mut self, request: CaptureRequest) -> Result<()> {
        if self.running.is_some() {
            bail!("a capture is already running; one at a time");
        }
        self.captures += 1;
        self.requests
            .send((self.captures, request))
            .map_err(|_| anyhow::anyhow!("the profiler thread has stopped"))?;
        self.running = Some(Instant::now());
        Ok(())
    }

    /// Ends the capture in progress early: its files are written from the samples so far, and
    /// its result arrives through [`Profiler::poll`] or [`Profiler::wait`].
    pub fn cut_short(&self) {
        if self.running.is_some() {
            let _ = self.cut.send(self.captures);
        }
    }

    /// Waits up to `limit` for the capture in progress; `None` when none is running or it did
    /// not finish in time.
    pub fn wait(&mut self, limit: Duration) -> Option<Result<ProfileSummary>> {
        self.running?;
        let result = match self.results.recv_timeout(limit) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => return None,
            Err(RecvTimeoutError::Disconnected) => {
                Err(anyhow::anyhow!("the profiler thread stopped"))
            }
        };
        self.running = None;
        Some(result)
    }

    /// The finished capture's result, if one has finished since the last call.
    pub fn poll(&mut self) -> Option<Result<ProfileSummary>> {
        match self.results.try_recv() {
            Ok(result) => {
                self.running = None;
                Some(result)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.running.take()?;
                Some(Err(anyhow::anyhow!("the profiler thread stopped")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_lines_and_top_frames() {
        let frames = |names: &[&str]| -> Vec<Frame> {
            names
                .iter()
                .map(|n| Frame {
                    name: n.to_string(),
                    file: String::new(),
                })
                .collect()
        };
        let stacks = vec![
            (frames(&["t", "main", "work;odd"]), 5),
            (frames(&["t", "main", "send"]), 2),
            (frames(&["u", "other", "send"]), 1),
        ];
        let text = folded_text(&stacks);
        assert_eq!(text, "t;main;work:odd 5\nt;main;send 2\nu;other;send 1\n");
        assert_eq!(top_frames(&stacks, 1), vec![("work;odd".to_string(), 5)]);
        assert_eq!(top_frames(&stacks, 5)[1], ("send".to_string(), 3));
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn a_thin_capture_samples_faster_then_longer() {
        let five = Duration::from_secs(5);
        // A busy client: 99 Hz over 5 s gives 495 samples of one core; 1.2 cores is enough.
        assert_eq!(plan(five, 99, 1.2), (five, 99));
        // Half a core: up to the tick, 625 samples in the same 5 s.
        assert_eq!(plan(five, 99, 0.5), (five, TICK_HZ));
        // 13% of a core: 250 Hz and 15.4 s give 500.
        let (length, hz) = plan(five, 99, 0.13);
        assert_eq!(hz, TICK_HZ);
        assert!((15.3..15.5).contains(&length.as_secs_f64()), "{length:?}");
        // Nearly idle: no more than four times the configured length.
        assert_eq!(plan(five, 99, 0.01), (five * MAX_STRETCH, TICK_HZ));
        // A user's higher rate is kept.
        assert_eq!(plan(five, 999, 0.5), (five, 999));
    }
}

#[cfg(test)]
mod cut_tests {
    use super::*;

    #[test]
    fn a_cut_ends_its_own_capture_even_sent_early_but_not_a_later_one() {
        let (cut, rx) = std::sync::mpsc::channel();
        // A cut for capture 1, left over when capture 2 starts: capture 2 runs its length.
        cut.send(1).unwrap();
        let started = Instant::now();
        wait_for_cut(&rx, 2, started + Duration::from_millis(50));
        assert!(started.elapsed() >= Duration::from_millis(50));
        // The quit came before capture 2's thread got to it: it still ends capture 2.
        cut.send(2).unwrap();
        let started = Instant::now();
        wait_for_cut(&rx, 2, started + Duration::from_secs(30));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
