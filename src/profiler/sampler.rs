//! The CPU sampler behind a capture. `ITIMER_PROF` sends SIGPROF to whichever thread is burning
//! the process's CPU; the handler unwinds that thread into a buffer mapped for this capture alone,
//! and the buffer is unmapped when the capture ends, so a capture leaves nothing behind. (pprof's
//! collector, used before, kept a fixed ~66 MiB table for the life of the process after its first
//! capture; its protobuf types still encode the result.)
//!
//! The handler only touches memory mapped before the timer was armed, and atomics: no lock, no
//! allocation. One capture runs at a time (the profiler thread's loop, or a bench's own call).

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use anyhow::{Result, bail};

/// Frames kept per sample, leaf first; deeper stacks lose their roots.
pub const MAX_DEPTH: usize = 128;

/// One sample as the handler writes it.
#[repr(C)]
struct Slot {
    depth: usize,
    /// The signal landed in blocked code: `ips` holds only where.
    cut: bool,
    /// The thread's name, NUL-padded (`PR_GET_NAME` gives at most 16 bytes with the NUL).
    name: [u8; 16],
    ips: [usize; MAX_DEPTH],
}

/// Text ranges a sample must not be taken in: unwinding from inside the unwinder's own library,
/// or the vDSO, is where signal-time unwinding can deadlock or crash.
const MAX_BLOCKED: usize = 16;
static BLOCKED: [(AtomicUsize, AtomicUsize); MAX_BLOCKED] =
    [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; MAX_BLOCKED];
static BLOCKED_LEN: AtomicUsize = AtomicUsize::new(0);

static BUFFER: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());
static CAPACITY: AtomicUsize = AtomicUsize::new(0);
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// Handlers between their first and last instruction: the buffer is unmapped only at zero.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);

/// One sampled stack: its thread's name and its return addresses, leaf first.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawStack {
    pub thread: String,
    pub ips: Vec<usize>,
    /// Taken in the vDSO or the unwinder, where unwinding is unsafe: `ips` is the leaf alone.
    pub cut: bool,
}

/// What a capture sampled.
#[derive(Debug, Default)]
pub struct Samples {
    pub stacks: Vec<(RawStack, u64)>,
    /// Samples beyond the buffer's room, lost.
    pub dropped: u64,
}

/// A capture in progress; [`Sampling::stop`] ends it.
pub struct Sampling {
    map: *mut c_void,
    bytes: usize,
}

// SAFETY: the mapping is owned by this value alone; the handler writes it only while armed, and
// `stop` disarms and waits for handlers before reading or unmapping it.
unsafe impl Send for Sampling {}

/// Starts sampling the process's CPU time `frequency_hz` times a second, with room for
/// `capacity` samples. The room is reserved address space: only the pages samples land in become
/// resident.
pub fn start(frequency_hz: u32, capacity: usize) -> Result<Sampling> {
    if frequency_hz == 0 {
        bail!("a profile's frequency must be at least 1 Hz");
    }
    if RUNNING.swap(true, SeqCst) {
        bail!("a capture is already running; one at a time");
    }
    match arm(frequency_hz, capacity.max(1)) {
        Ok(sampling) => Ok(sampling),
        Err(e) => {
            RUNNING.store(false, SeqCst);
            Err(e)
        }
    }
}

fn arm(frequency_hz: u32, capacity: usize) -> Result<Sampling> {
    block_unwinder_text();
    let bytes = capacity * std::mem::size_of::<Slot>();
    // SAFETY: an anonymous private mapping with no address hint; the result is checked.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        bail!(
            "reserving {} MiB for profile samples: {}",
            bytes >> 20,
            std::io::Error::last_os_error()
        );
    }
    NEXT.store(0, SeqCst);
    CAPACITY.store(capacity, SeqCst);
    BUFFER.store(map.cast(), SeqCst);
    let sampling = Sampling { map, bytes };
    // SAFETY: the handler is async-signal-safe (atomics and the mapped buffer only) and
    // restores errno; SA_RESTART keeps interrupted blocking calls going.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) = on_sigprof;
        action.sa_sigaction = handler as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGPROF, &action, std::ptr::null_mut()) != 0 {
            let e = std::io::Error::last_os_error();
            sampling.release();
            bail!("installing the SIGPROF handler: {e}");
        }
    }
    let period = Duration::from_secs(1) / frequency_hz;
    if let Err(e) = set_timer(period) {
        sampling.release();
        bail!("arming ITIMER_PROF: {e}");
    }
    Ok(sampling)
}

fn set_timer(period: Duration) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: period.as_secs() as libc::time_t,
        tv_usec: period.subsec_micros() as libc::suseconds_t,
    };
    let timer = libc::itimerval {
        it_interval: tv,
        it_value: tv,
    };
    // SAFETY: setitimer reads the struct passed and writes nothing when `old` is null.
    if unsafe { libc::setitimer(libc::ITIMER_PROF, &timer, std::ptr::null_mut()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Sampling {
    /// Disarms the timer, waits for handlers still running, and returns the samples, merged.
    pub fn stop(self) -> Samples {
        let _ = set_timer(Duration::ZERO);
        quiesce();
        let taken = NEXT.load(SeqCst).min(CAPACITY.load(SeqCst));
        let dropped = NEXT.load(SeqCst).saturating_sub(taken);
        let mut merged: std::collections::HashMap<RawStack, u64> = Default::default();
        for i in 0..taken {
            // SAFETY: i < capacity, within the mapping; the slots below `taken` were written by
            // handlers that have all finished (`quiesce`).
            let slot = unsafe { &*self.map.cast::<Slot>().add(i) };
            let depth = slot.depth.min(MAX_DEPTH);
            if depth == 0 {
                continue;
            }
            let len = slot.name.iter().position(|b| *b == 0).unwrap_or(16);
            let stack = RawStack {
                thread: String::from_utf8_lossy(&slot.name[..len]).into_owned(),
                ips: slot.ips[..depth].to_vec(),
                cut: slot.cut,
            };
            *merged.entry(stack).or_default() += 1;
        }
        self.release();
        let mut stacks: Vec<_> = merged.into_iter().collect();
        stacks.sort();
        Samples {
            stacks,
            dropped: dropped as u64,
        }
    }

    /// Stops handlers writing, waits for those running, ignores SIGPROF from now on (one still
    /// pending would otherwise end the process), and unmaps the buffer.
    fn release(self) {
        quiesce();
        // SAFETY: SIG_IGN for SIGPROF has no preconditions.
        unsafe {
            libc::signal(libc::SIGPROF, libc::SIG_IGN);
        }
        // SAFETY: the mapping is this value's, no handler can reach it any more (BUFFER is null
        // and none is running), and it is unmapped once.
        unsafe {
            libc::munmap(self.map, self.bytes);
        }
        RUNNING.store(false, SeqCst);
    }
}

/// No handler writes after this returns: the buffer is withdrawn, and running handlers finish.
fn quiesce() {
    BUFFER.store(std::ptr::null_mut(), SeqCst);
    while IN_HANDLER.load(SeqCst) != 0 {
        std::thread::yield_now();
    }
}

extern "C" fn on_sigprof(_signal: libc::c_int, _info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: errno is thread-local; it is put back as the interrupted code left it.
    let errno = unsafe { *libc::__errno_location() };
    IN_HANDLER.fetch_add(1, SeqCst);
    let buffer = BUFFER.load(SeqCst);
    if !buffer.is_null() {
        // SAFETY: the buffer stays mapped while this handler is counted in IN_HANDLER.
        unsafe { sample(buffer, interrupted_pc(context)) };
    }
    IN_HANDLER.fetch_sub(1, SeqCst);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Where the signal interrupted the thread.
fn interrupted_pc(context: *mut c_void) -> Option<usize> {
    if context.is_null() {
        return None;
    }
    let context = context.cast::<libc::ucontext_t>();
    // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
    #[cfg(target_arch = "x86_64")]
    let pc = unsafe { (*context).uc_mcontext.gregs[libc::REG_RIP as usize] as usize };
    #[cfg(target_arch = "aarch64")]
    let pc = unsafe { (*context).uc_mcontext.pc as usize };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let pc = {
        let _ = context;
        return None;
    };
    Some(pc)
}

/// # Safety
/// `buffer` holds `CAPACITY` slots and stays mapped for the call.
unsafe fn sample(buffer: *mut Slot, pc: Option<usize>) {
    let index = NEXT.fetch_add(1, SeqCst);
    if index >= CAPACITY.load(SeqCst) {
        return;
    }
    // SAFETY: index < capacity, and this handler alone claimed it.
    let slot = unsafe { &mut *buffer.add(index) };
    // SAFETY: PR_GET_NAME writes at most 16 bytes, the slot's name's size.
    unsafe {
        libc::prctl(libc::PR_GET_NAME, slot.name.as_mut_ptr());
    }
    if let Some(pc) = pc.filter(|pc| blocked(*pc)) {
        // The CPU time still counts, under the leaf: clock reads in the vDSO are common.
        slot.ips[0] = pc;
        slot.cut = true;
        slot.depth = 1;
        return;
    }
    // The unwind starts inside this handler; the interrupted code begins at the frame whose
    // address is the interrupted pc (the kernel's signal frame hands it over exactly).
    let mut depth = 0;
    let mut reached = pc.is_none();
    let mut seen = 0;
    // SAFETY: unsynchronised tracing is what a signal handler may do: it takes no lock of
    // backtrace's, and the code interrupted is not the unwinder's (see `blocked`).
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            let ip = frame.ip() as usize;
            if ip == 0 {
                // The outermost frame of a thread.
                return false;
            }
            seen += 1;
            if !reached {
                reached = Some(ip) == pc;
                if !reached {
                    // The handler's own frames are a handful; past them, give up on finding it.
                    return seen < 32;
                }
            }
            slot.ips[depth] = ip;
            depth += 1;
            depth < MAX_DEPTH
        });
    }
    if let (0, Some(pc)) = (depth, pc) {
        // The unwinder did not get through the signal frame: keep where it was at least.
        slot.ips[0] = pc;
        depth = 1;
    }
    slot.depth = depth;
}

fn blocked(pc: usize) -> bool {
    let len = BLOCKED_LEN.load(SeqCst).min(MAX_BLOCKED);
    BLOCKED[..len].iter().any(|(start, end)| {
        let (start, end) = (start.load(SeqCst), end.load(SeqCst));
        (start..end).contains(&pc)
    })
}

/// Records the executable ranges of the unwinder's library and the vDSO, from
/// `/proc/self/maps` (read before the timer is armed; the handler reads only the atomics).
fn block_unwinder_text() {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut n = 0;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let path = fields.nth(3).unwrap_or("");
        let unwinder = ["libgcc_s", "libunwind", "[vdso]"]
            .iter()
            .any(|name| path.contains(name));
        if !unwinder || !perms.contains('x') || n == MAX_BLOCKED {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        BLOCKED[n].0.store(start, SeqCst);
        BLOCKED[n].1.store(end, SeqCst);
        n += 1;
    }
    BLOCKED_LEN.store(n, SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One capture at a time, and these tests run in parallel.
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Burns `cpu` of this thread's CPU time in its own code (a busy machine stretches the wall
    /// time, not the samples); the clock (a syscall) is read only every so often.
    fn spin(cpu: Duration) -> u64 {
        let used = || {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime writes the timespec it is given.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
            Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
        };
        let until = used() + cpu;
        let mut x = 0u64;
        while used() < until {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        x
    }

    #[test]
    fn a_busy_thread_is_sampled_in_its_own_code_and_the_buffer_is_given_back() {
        let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let sampling = start(250, 1000).expect("sampling starts");
        assert!(start(250, 10).is_err(), "one capture at a time");
        let worker = std::thread::Builder::new()
            .name("sampler-spin".into())
            .spawn(|| spin(Duration::from_millis(300)))
            .unwrap();
        worker.join().unwrap();
        let samples = sampling.stop();
        let spun: u64 = samples
            .stacks
            .iter()
            .filter(|(stack, _)| stack.thread == "sampler-spin")
            .map(|(_, n)| n)
            .sum();
        assert!(spun >= 20, "{samples:?}");
        // The leaf is the interrupted code, not the handler: resolving the stacks finds the spin.
        let named = samples
            .stacks
            .iter()
            .filter(|(stack, _)| stack.thread == "sampler-spin")
            .any(|(stack, _)| {
                stack.ips.iter().any(|ip| {
                    let mut hit = false;
                    backtrace::resolve(*ip as *mut c_void, |symbol| {
                        hit |= symbol
                            .name()
                            .is_some_and(|name| format!("{name:#}").contains("spin"));
                    });
                    hit
                })
            });
        assert!(named, "a stack runs through spin()");
        for (stack, _) in samples.stacks.iter().filter(|(s, _)| !s.cut) {
            assert!(!stack.ips.is_empty());
            assert!(!stack.ips.contains(&0));
            let mut in_handler = false;
            backtrace::resolve(stack.ips[0] as *mut c_void, |symbol| {
                in_handler |= symbol
                    .name()
                    .is_some_and(|name| format!("{name:#}").contains("on_sigprof"));
            });
            assert!(!in_handler, "the handler's own frames are cut off");
        }
        // And it can run again.
        start(250, 10).expect("a second capture").stop();
    }

    #[test]
    fn a_full_buffer_drops_and_counts() {
        let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let sampling = start(1000, 2).expect("sampling starts");
        spin(Duration::from_millis(100));
        let samples = sampling.stop();
        let kept: u64 = samples.stacks.iter().map(|(_, n)| n).sum();
        assert_eq!(kept, 2);
        assert!(samples.dropped > 0);
    }
}
