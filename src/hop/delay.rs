//! The delay line's arithmetic (when each chunk may leave) and a timer precise to microseconds.
//!
//! tokio's own timer wheel ticks in whole milliseconds, so `sleep_until(arrival + 0.5 ms)` would
//! really wait 1–2 ms: a 1 ms RTT would come out near 3 ms. The hop therefore sleeps on a Linux
//! `timerfd` (a high-resolution timer) registered with the runtime's reactor.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use tokio::io::unix::AsyncFd;

pub use crate::config::JitterDistribution;

/// SplitMix64: tiny, seedable, good enough to draw jitter; no dependency for one formula.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One draw of the jitter, in seconds (may be negative).
    pub fn jitter(&mut self, distribution: JitterDistribution, amount: Duration) -> f64 {
        let amount = amount.as_secs_f64();
        if amount == 0.0 {
            return 0.0;
        }
        match distribution {
            JitterDistribution::Uniform => (self.unit() * 2.0 - 1.0) * amount,
            JitterDistribution::Normal => {
                // Box–Muller; 1 - unit() is in (0, 1], so the logarithm is finite.
                let radius = (-2.0 * (1.0 - self.unit()).ln()).sqrt();
                radius * (std::f64::consts::TAU * self.unit()).cos() * amount
            }
        }
    }
}

/// One direction of one connection: decides each chunk's release time.
#[derive(Clone, Debug)]
pub struct DelayLine {
    rng: Rng,
    last_release: Option<Instant>,
}

impl DelayLine {
    pub fn new(seed: u64) -> Self {
        DelayLine {
            rng: Rng::new(seed),
            last_release: None,
        }
    }

    /// When a chunk that arrived at `arrival` may be written on: `arrival + delay + jitter`
    /// (never before its arrival), and never before the chunk ahead of it, so jitter cannot
    /// reorder bytes and a lowered RTT cannot overtake chunks already queued.
    pub fn release(
        &mut self,
        arrival: Instant,
        delay: Duration,
        jitter: Duration,
        distribution: JitterDistribution,
    ) -> Instant {
        let drawn = delay.as_secs_f64() + self.rng.jitter(distribution, jitter);
        let own = arrival + Duration::from_secs_f64(drawn.max(0.0));
        let release = match self.last_release {
            Some(previous) if previous > own => previous,
            _ => own,
        };
        self.last_release = Some(release);
        release
    }
}

/// A one-shot timer with microsecond precision: a `timerfd` the runtime's reactor watches.
pub struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
}

impl PreciseTimer {
    /// Must be called inside a tokio runtime with IO enabled.
    pub fn new() -> Result<Self> {
        let owned = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )
        .map_err(std::io::Error::from)
        .context("creating a timerfd")?;
        // SAFETY: the timer owns its descriptor and never replaces or closes it while registered.
        let fd = unsafe { AsyncFd::register(owned) }
            .context("registering the timerfd with the runtime")?;
        Ok(PreciseTimer { fd })
    }

    /// Waits until `deadline`; returns at once when it has passed.
    pub async fn sleep_until(&mut self, deadline: Instant) -> Result<()> {
        let now = Instant::now();
        if deadline <= now {
            return Ok(());
        }
        // A zero it_value would disarm the timer; the wait is > 0, so at least 1 ns.
        let wait = (deadline - now).max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec::try_from(wait).context("a timer deadline out of range")?,
        };
        timerfd_settime(self.fd.get_ref(), TimerfdTimerFlags::empty(), &spec)
            .map_err(std::io::Error::from)
            .context("arming the timerfd")?;
        loop {
            let mut guard = self.fd.readable().await.context("waiting on the timerfd")?;
            let mut expirations = [0u8; 8];
            // A wake-up without an expiration (WouldBlock) clears readiness and waits again.
            let read = guard.try_io(|fd| {
                rustix::io::read(fd.get_ref(), &mut expirations).map_err(std::io::Error::from)
            });
            match read {
                Ok(Ok(8)) => return Ok(()),
                Ok(Ok(short)) => bail!("read {short} bytes from the timerfd, not 8"),
                Ok(Err(err)) => return Err(err).context("reading the timerfd"),
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_is_arrival_plus_delay_without_jitter() {
        let mut line = DelayLine::new(7);
        let start = Instant::now();
        let delay = Duration::from_millis(1);
        let release = line.release(start, delay, Duration::ZERO, JitterDistribution::Uniform);
        assert_eq!(release, start + delay);
        let later = start + Duration::from_millis(5);
        assert_eq!(
            line.release(later, delay, Duration::ZERO, JitterDistribution::Uniform),
            later + delay
        );
    }

    #[test]
    fn jitter_never_reorders_and_stays_within_bounds() {
        for distribution in [JitterDistribution::Uniform, JitterDistribution::Normal] {
            let mut line = DelayLine::new(42);
            let start = Instant::now();
            let delay = Duration::from_millis(2);
            let jitter = Duration::from_millis(1);
            let mut previous = start;
            let mut spread = (f64::MAX, f64::MIN);
            // Dense arrivals (10 µs apart, jitter ±1 ms) try to reorder; sparse ones (5 ms
            // apart) show the jitter's own spread.
            let arrivals = (0..10_000u64)
                .map(|i| start + Duration::from_micros(i * 10))
                .chain((0..2_000u64).map(|i| start + Duration::from_millis(200 + i * 5)));
            for (i, arrival) in arrivals.enumerate() {
                let release = line.release(arrival, delay, jitter, distribution);
                assert!(release >= previous, "{distribution}: chunk {i} overtook");
                assert!(
                    release >= arrival,
                    "{distribution}: released before arrival"
                );
                if i >= 10_000 {
                    let own = (release - arrival).as_secs_f64() * 1e3;
                    spread = (spread.0.min(own), spread.1.max(own));
                }
                previous = release;
            }
            // Jitter really varies the delay (else the ordering check proves nothing).
            assert!(spread.1 - spread.0 > 1.0, "{distribution}: {spread:?}");
            if distribution == JitterDistribution::Uniform {
                assert!(
                    spread.0 >= 1.0 - 1e-6 && spread.1 <= 3.0 + 1e-6,
                    "{spread:?}"
                );
            }
        }
    }

    #[test]
    fn lowering_the_delay_does_not_overtake_queued_chunks() {
        let mut line = DelayLine::new(1);
        let start = Instant::now();
        let slow = line.release(
            start,
            Duration::from_millis(50),
            Duration::ZERO,
            JitterDistribution::Uniform,
        );
        let fast = line.release(
            start + Duration::from_millis(1),
            Duration::ZERO,
            Duration::ZERO,
            JitterDistribution::Uniform,
        );
        assert_eq!(fast, slow);
    }

    #[test]
    fn jitter_is_seeded_and_centred() {
        let draws = |seed| {
            let mut rng = Rng::new(seed);
            (0..20_000)
                .map(|_| rng.jitter(JitterDistribution::Normal, Duration::from_millis(1)))
                .collect::<Vec<f64>>()
        };
        assert_eq!(draws(3), draws(3), "same seed, same jitter");
        assert_ne!(draws(3), draws(4));
        let values = draws(3);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let sd =
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
        assert!(mean.abs() < 5e-5, "mean {mean}");
        assert!((sd - 1e-3).abs() < 5e-5, "σ {sd}");
    }

    #[test]
    fn precise_timer_is_not_rounded_to_milliseconds() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let waits: Vec<Duration> = runtime.block_on(async {
            let mut timer = PreciseTimer::new().unwrap();
            let mut waits = Vec::new();
            for _ in 0..50 {
                let start = Instant::now();
                timer
                    .sleep_until(start + Duration::from_micros(300))
                    .await
                    .unwrap();
                waits.push(start.elapsed());
            }
            waits
        });
        let mut sorted = waits.clone();
        sorted.sort();
        assert!(sorted[0] >= Duration::from_micros(300), "{sorted:?}");
        // tokio's timer would give ≥ 1 ms; the median of a precise one is far below.
        assert!(sorted[25] < Duration::from_micros(900), "{sorted:?}");
    }
}
