//! CPU profiles on demand: sample the whole process (`sampler`) for a few seconds while the load
//! runs, on a thread of its own, and write a flamegraph SVG, a pprof protobuf and folded stacks,
//! plus a summary (top frames by self time, share of samples per category) for the screen.

pub mod categories;
pub mod encode;
pub mod sampler;
pub mod wall;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

pub use categories::{Category, Frame};
use encode::SampleType;
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
    let sampling = sampler::start(frequency_hz, room_for(duration, frequency_hz))
        .context("starting the CPU profiler")?;
    let cpu_start = process_cpu();
    let wall_start = wall::WallStart::now();
    let started = Instant::now();
    match cut_short {
        Some((cut, this)) => wait_for_cut(cut, this, started + duration),
        None => std::thread::sleep(duration),
    }
    // The clocks close with the sampling window, before symbolising takes its time.
    let wall_spent = wall_start.finish();
    let raw = sampling.stop();
    let cpu_spent = process_cpu().saturating_sub(cpu_start);
    let elapsed = started.elapsed();

    let stacks = resolve(&raw.stacks);
    let samples: u64 = stacks.iter().map(|(_, count)| count).sum();
    // What one sample stands for, measured: the timer fires on the scheduler's tick, not at the
    // rate asked, so the process's CPU time over the window is shared out over every signal.
    let taken = samples + raw.dropped;
    let sample_ns = if taken > 0 {
        cpu_spent.as_nanos() as f64 / taken as f64
    } else {
        0.0
    };
    let (wall_stacks, wall) = wall::wall_stacks(&wall_spent, &stacks);

    let cpu_text = folded_text(&stacks);
    let folded = dir.join("profile.folded");
    std::fs::write(&folded, &cpu_text).with_context(|| format!("writing {}", folded.display()))?;
    let svg = dir.join("profile.svg");
    let title = format!(
        "casstop CPU profile: {samples} samples at {frequency_hz} Hz over {:.1} s",
        elapsed.as_secs_f64()
    );
    write_flamegraph(&svg, &cpu_text, title, "samples")?;
    let pb = dir.join("profile.pb");
    let types = encode::cpu_sample_types(sample_ns);
    write_pprof(&pb, &encode::pprof(&stacks, &types, elapsed.as_secs_f64()))?;

    let wall_text = folded_text(&wall_stacks);
    let wall_folded = dir.join("profile-wall.folded");
    std::fs::write(&wall_folded, &wall_text)
        .with_context(|| format!("writing {}", wall_folded.display()))?;
    let wall_svg = dir.join("profile-wall.svg");
    let title = format!(
        "casstop wall-clock profile: {:.0}% on CPU, {:.0}% waiting for I/O, {:.0}% waiting for a core ({:.1} s of load threads)",
        wall.on_cpu * 100.0,
        wall.waiting_for_io * 100.0,
        wall.waiting_for_core * 100.0,
        wall.wall_s
    );
    write_flamegraph(&wall_svg, &wall_text, title, "µs")?;
    let wall_pb = dir.join("profile-wall.pb");
    let types = [SampleType {
        name: "wall",
        unit: "microseconds",
        scale: 1.0,
    }];
    write_pprof(&wall_pb, &encode::pprof(&wall_stacks, &types, wall.wall_s))?;

    let top = top_frames(&stacks, 8);
    let shares = categories::shares(&stacks, categories);
    // What was built from the stacks goes before the heap is given back, or its pages stay.
    drop((stacks, wall_stacks, cpu_text, wall_text));
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
        top_frames: top,
        categories: shares,
    })
}

/// An SVG flamegraph of folded stacks; an empty file when nothing was sampled.
fn write_flamegraph(svg: &Path, folded: &str, title: String, count_name: &str) -> Result<()> {
    let file = std::fs::File::create(svg).with_context(|| format!("creating {}", svg.display()))?;
    if folded.is_empty() {
        return Ok(());
    }
    let mut options = inferno::flamegraph::Options::default();
    options.title = title;
    options.count_name = count_name.into();
    inferno::flamegraph::from_lines(&mut options, folded.lines(), std::io::BufWriter::new(file))
        .with_context(|| format!("writing the flamegraph {}", svg.display()))
}

fn write_pprof(path: &Path, profile: &pprof::protos::Profile) -> Result<()> {
    let mut bytes = Vec::new();
    prost::Message::encode(profile, &mut bytes)
        .with_context(|| format!("encoding {}", path.display()))?;
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Room for every sample the timer could deliver: one per period per core, and a margin. It is
/// address space only: pages become resident as samples land in them.
fn room_for(duration: Duration, frequency_hz: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let expected = duration.as_secs_f64() * f64::from(frequency_hz) * cores as f64;
    (expected * 1.25) as usize + 256
}

/// The process's CPU time so far (all threads).
fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
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
/// process (~170 MiB here, with line tables); drop it, and hand the freed heap back to the system,
/// so a capture does not leave the client that much bigger. Called once everything built from
/// the stacks is dropped: live blocks among the freed ones kept ~20 MiB of their pages resident.
/// The samples' own buffer is unmapped by the sampler.
fn give_memory_back() {
    backtrace::clear_symbol_cache();
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Every sampled stack, root first and led by its thread's name, with its count: each return
/// address resolved once, inlined functions unfolded (outermost first).
fn resolve(raw: &[(sampler::RawStack, u64)]) -> Vec<(Vec<Frame>, u64)> {
    let mut symbols: HashMap<(usize, bool), Vec<Frame>> = HashMap::new();
    let mut merged: HashMap<Vec<Frame>, u64> = HashMap::new();
    for (stack, count) in raw {
        let thread = if stack.thread.is_empty() {
            "unnamed".to_string()
        } else {
            stack.thread.clone()
        };
        let mut frames = vec![Frame {
            name: thread,
            file: String::new(),
        }];
        if stack.cut {
            frames.push(Frame {
                name: NOT_UNWOUND.to_string(),
                file: String::new(),
            });
        }
        for (depth, ip) in stack.ips.iter().enumerate().rev() {
            let leaf = depth == 0;
            let inlined = symbols
                .entry((*ip, leaf))
                .or_insert_with(|| symbolise(*ip, leaf));
            frames.extend(inlined.iter().cloned());
        }
        *merged.entry(frames).or_default() += count;
    }
    let mut stacks: Vec<_> = merged.into_iter().collect();
    stacks.sort();
    stacks
}

/// The functions at `ip`, outermost first. The resolver looks up `address - 1` (a return address
/// is just past its call); the leaf is where the signal landed, so it is looked up one on.
fn symbolise(ip: usize, leaf: bool) -> Vec<Frame> {
    let address = if leaf { ip.wrapping_add(1) } else { ip };
    let mut found = Vec::new();
    backtrace::resolve(address as *mut std::ffi::c_void, |symbol| {
        let name = symbol
            .name()
            .map(|name| format!("{name:#}"))
            .unwrap_or_else(|| UNKNOWN.to_string());
        let file = symbol
            .filename()
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        found.push(Frame { name, file });
    });
    if found.is_empty() {
        found.push(Frame {
            name: UNKNOWN.to_string(),
            file: String::new(),
        });
    }
    found.reverse();
    found
}

/// A frame no symbol covers (stripped code, libraries without a symbol table).
const UNKNOWN: &str = "[unknown]";
/// The parent of a sample taken in the vDSO or the unwinder: its callers are not known.
pub const NOT_UNWOUND: &str = "[stack not unwound: vDSO or unwinder]";

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
