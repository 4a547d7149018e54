//! The latency hop: a TCP forwarder in front of the node that delays each direction by half the
//! emulated RTT, so strategies can be compared at a real network distance on one machine (kernel
//! traffic shaping, `tc netem`, is not available everywhere).
//!
//! ```text
//!  client ──► reader (timestamps each chunk) ──bounded queue──► writer (sleeps to release) ──► node
//!  client ◄── writer ◄──bounded queue◄── reader ◄───────────────────────────────────────────── node
//! ```
//! Per connection and direction a reader stamps each chunk with its arrival and its release time
//! (`arrival + rtt/2 ± jitter`, never before the previous chunk's) and queues it; a writer sleeps
//! until the release time and writes. Nothing is dropped and nothing limits bandwidth: the queue
//! only fills when the consumer is slower than the producer, and then the reader stops reading,
//! so TCP pushes back on the sender. The hop runs on its own OS thread ([`THREAD_NAME`]) with a
//! current-thread runtime, so its CPU is one thread's CPU, measured from `/proc`.

pub mod control;
pub mod delay;
pub mod process;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

pub use delay::{DelayLine, JitterDistribution};

/// The hop thread's name (≤ 15 characters: `/proc` truncates thread names).
pub const THREAD_NAME: &str = "casstop-hop";

/// Bytes read per chunk at most. A chunk is released whole, so this only bounds memory per chunk.
const CHUNK_BYTES: usize = 64 * 1024;

/// Bytes queued per direction before the reader stops reading (back-pressure). Counted in bytes,
/// not chunks, so memory is bounded whatever the chunk sizes; 16 MiB over a 2.5 ms one-way delay
/// still allows 6.7 GB/s, far above what loopback and the node sustain: the hop delays, it does
/// not throttle.
pub const QUEUE_BYTES: usize = 16 << 20;

/// What the hop emulates; changes live.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HopSettings {
    /// Round trip added: each direction is delayed by half of it.
    #[serde(with = "crate::config::duration")]
    pub rtt: Duration,
    /// Spread of each direction's delay: uniform ±jitter, or normal with σ = jitter.
    #[serde(with = "crate::config::duration")]
    pub jitter: Duration,
    pub jitter_distribution: JitterDistribution,
    /// Seed of the jitter draws (each connection and direction derives its own).
    pub seed: u64,
}

impl Default for HopSettings {
    fn default() -> Self {
        HopSettings {
            rtt: Duration::ZERO,
            jitter: Duration::ZERO,
            jitter_distribution: JitterDistribution::Uniform,
            seed: 1,
        }
    }
}

impl std::fmt::Display for HopSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rtt {}", format_rtt(self.rtt))?;
        if !self.jitter.is_zero() {
            write!(
                f,
                " ± {} {}",
                format_rtt(self.jitter),
                self.jitter_distribution
            )?;
        }
        Ok(())
    }
}

/// `2ms`, `500µs`, `0`: short enough for a header.
pub fn format_rtt(rtt: Duration) -> String {
    if rtt.is_zero() {
        "0".into()
    } else if rtt.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", rtt.as_millis())
    } else if rtt < Duration::from_millis(1) {
        format!("{}µs", rtt.as_micros())
    } else {
        format!("{:.2}ms", rtt.as_secs_f64() * 1e3)
    }
}

/// Counters of everything the hop forwarded; written by the hop thread, read by anyone.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    open: AtomicU64,
    bytes_to_node: AtomicU64,
    bytes_to_client: AtomicU64,
    chunks_to_node: AtomicU64,
    chunks_to_client: AtomicU64,
    requests: AtomicU64,
    /// How the hop thread is scheduled (see [`raise_priority`]).
    scheduling: std::sync::OnceLock<&'static str>,
    /// Kernel thread id of the hop thread, for its CPU time.
    tid: AtomicU64,
}

/// What the hop has done so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HopStats {
    /// Client connections accepted, and still open.
    pub connections: u64,
    pub open: u64,
    pub bytes_to_node: u64,
    pub bytes_to_client: u64,
    pub chunks_to_node: u64,
    pub chunks_to_client: u64,
    /// CQL write requests (EXECUTE and BATCH frames) forwarded to the node.
    #[serde(default)]
    pub requests: u64,
    /// CPU seconds of the hop thread since it started.
    pub cpu_s: f64,
    /// How the hop thread is scheduled: `SCHED_FIFO`, `nice -10` or `normal`.
    #[serde(default)]
    pub scheduling: String,
}

impl Counters {
    fn snapshot(&self) -> HopStats {
        let tid = self.tid.load(Ordering::Relaxed);
        HopStats {
            connections: self.connections.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
            bytes_to_node: self.bytes_to_node.load(Ordering::Relaxed),
            bytes_to_client: self.bytes_to_client.load(Ordering::Relaxed),
            chunks_to_node: self.chunks_to_node.load(Ordering::Relaxed),
            chunks_to_client: self.chunks_to_client.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            cpu_s: thread_cpu_s(tid).unwrap_or(0.0),
            scheduling: self
                .scheduling
                .get()
                .copied()
                .unwrap_or("normal")
                .to_string(),
        }
    }
}

/// Counts prepared write requests in the client's byte stream by walking the v4 frame headers (9 bytes:
/// version, flags, stream, opcode, body length), skipping bodies without looking at them. The
/// driver speaks protocol v4, whose headers are never compressed; on anything else the count is
/// meaningless but forwarding is unaffected.
#[derive(Debug, Default)]
pub struct RequestCounter {
    header: [u8; 9],
    header_len: usize,
    body_left: u64,
}

impl RequestCounter {
    /// Feeds the next bytes; returns how many write requests began in them.
    pub fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut requests = 0;
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let skip = self.body_left.min(bytes.len() as u64);
                self.body_left -= skip;
                bytes = &bytes[skip as usize..];
                continue;
            }
            let take = (9 - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&bytes[..take]);
            self.header_len += take;
            bytes = &bytes[take..];
            if self.header_len == 9 {
                self.header_len = 0;
                // EXECUTE and BATCH: the load's prepared writes; not the driver's metadata
                // QUERYs, the schema set-up, OPTIONS, STARTUP or PREPARE.
                if matches!(self.header[4], 0x0A | 0x0D) {
                    requests += 1;
                }
                let length = u32::from_be_bytes([
                    self.header[5],
                    self.header[6],
                    self.header[7],
                    self.header[8],
                ]);
                self.body_left = u64::from(length);
            }
        }
        requests
    }
}

/// Lets the hop thread run the moment a chunk is due, ahead of the client, the node and whatever
/// else competes for the cores: a wire does not wait for a CPU, and on a busy machine a hop at
/// normal priority would add run-queue delay to every chunk (4 wake-ups per round trip) on top of
/// the RTT. `SCHED_FIFO` at the lowest real-time priority when allowed (the hop sleeps between
/// chunks and uses a few percent of a core, and the kernel's real-time throttling bounds it
/// anyway), else a lower nice value, else nothing. Returns what it got.
fn raise_priority() -> &'static str {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } == 0 {
        return "SCHED_FIFO";
    }
    // SAFETY: on Linux, PRIO_PROCESS with who = 0 applies to the calling thread only.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -10) } == 0 {
        return "nice -10";
    }
    "normal"
}

/// A thread's CPU time from `schedstat` (nanoseconds, unlike `stat`'s clock ticks).
fn thread_cpu_s(tid: u64) -> Option<f64> {
    if tid == 0 {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let on_cpu_ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(on_cpu_ns as f64 / 1e9)
}

/// A running hop. Dropping it stops the hop (open connections are closed).
pub struct Hop {
    listen: SocketAddr,
    upstream: SocketAddr,
    settings: watch::Sender<HopSettings>,
    counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Hop {
    /// Listens on `listen` (port 0: any free port) and forwards every connection to `upstream`.
    /// Returns once the hop accepts connections.
    pub fn start(listen: SocketAddr, upstream: SocketAddr, settings: HopSettings) -> Result<Hop> {
        let listener = std::net::TcpListener::bind(listen)
            .with_context(|| format!("the hop cannot listen on {listen}"))?;
        listener.set_nonblocking(true)?;
        let listen = listener.local_addr()?;
        let (settings_tx, settings_rx) = watch::channel(settings);
        let counters = Arc::new(Counters::default());
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() } as u64;
                thread_counters.tid.store(tid, Ordering::Relaxed);
                let _ = thread_counters.scheduling.set(raise_priority());
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        let _ = ready_tx.send(Err(anyhow!(err).context("the hop's runtime")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => {
                            let _ = ready_tx.send(Err(anyhow!(err).context("the hop's listener")));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    tokio::select! {
                        _ = accept_loop(listener, upstream, settings_rx, thread_counters) => {}
                        _ = stop_rx => {}
                    }
                });
                // Dropping the runtime cancels every connection's tasks, closing their sockets.
            })
            .context("starting the hop thread")?;
        ready_rx
            .recv()
            .map_err(|_| anyhow!("the hop thread ended before it was ready"))??;
        tracing::info!(%listen, %upstream, %settings, "hop started");
        Ok(Hop {
            listen,
            upstream,
            settings: settings_tx,
            counters,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    pub fn settings(&self) -> HopSettings {
        *self.settings.borrow()
    }

    /// Changes what the hop emulates; applies to chunks arriving from now on. Connections stay.
    pub fn set(&self, settings: HopSettings) {
        tracing::info!(%settings, "hop settings changed");
        self.settings.send_replace(settings);
    }

    pub fn stats(&self) -> HopStats {
        self.counters.snapshot()
    }
}

impl Drop for Hop {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    settings: watch::Receiver<HopSettings>,
    counters: Arc<Counters>,
) {
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of descriptors and the like: wait a little instead of spinning.
                tracing::warn!("hop accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let index = counters.connections.fetch_add(1, Ordering::Relaxed);
        counters.open.fetch_add(1, Ordering::Relaxed);
        let settings = settings.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
            if let Err(err) = forward(client, upstream, settings, counters.clone(), index).await {
                tracing::debug!(%peer, "hop connection ended: {err:#}");
            }
            counters.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Which way a chunk travels, for the counters and the jitter seed.
#[derive(Clone, Copy)]
enum Direction {
    ToNode,
    ToClient,
}

async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    settings: watch::Receiver<HopSettings>,
    counters: Arc<Counters>,
    index: u64,
) -> Result<()> {
    let node = TcpStream::connect(upstream)
        .await
        .with_context(|| format!("the hop cannot reach the node at {upstream}"))?;
    // Small CQL frames must not wait for Nagle: the delay is ours to add, not the kernel's.
    client.set_nodelay(true)?;
    node.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (node_read, node_write) = node.into_split();
    let seed = settings.borrow().seed;
    let to_node = pipe(
        client_read,
        node_write,
        settings.clone(),
        counters.clone(),
        Direction::ToNode,
        seed ^ (index * 2).wrapping_mul(0x9E37_79B9),
    );
    let to_client = pipe(
        node_read,
        client_write,
        settings,
        counters,
        Direction::ToClient,
        seed ^ (index * 2 + 1).wrapping_mul(0x9E37_79B9),
    );
    // Either side closing ends the connection once what was read has been delivered.
    let (a, b) = tokio::join!(to_node, to_client);
    a.and(b)
}

/// One direction: read, stamp, queue; a second task releases in order.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    settings: watch::Receiver<HopSettings>,
    counters: Arc<Counters>,
    direction: Direction,
    seed: u64,
) -> Result<()> {
    let (queue, mut queued) = mpsc::unbounded_channel::<(Instant, Vec<u8>, OwnedSemaphorePermit)>();
    let budget = Arc::new(Semaphore::new(QUEUE_BYTES));
    let reader_counters = counters.clone();
    let reader = async move {
        let mut line = DelayLine::new(seed);
        let mut requests = matches!(direction, Direction::ToNode).then(RequestCounter::default);
        let mut buffer = vec![0u8; CHUNK_BYTES];
        loop {
            let read = from.read(&mut buffer).await?;
            let arrival = Instant::now();
            if read == 0 {
                return Ok::<(), anyhow::Error>(());
            }
            if let Some(counter) = requests.as_mut() {
                let began = counter.feed(&buffer[..read]);
                reader_counters.requests.fetch_add(began, Ordering::Relaxed);
            }
            let now = *settings.borrow();
            let release = line.release(arrival, now.rtt / 2, now.jitter, now.jitter_distribution);
            // A full queue waits here: the socket is not read, TCP pushes back. Never dropped.
            let permit = budget
                .clone()
                .acquire_many_owned(read as u32)
                .await
                .context("the hop's queue budget closed")?;
            if queue
                .send((release, buffer[..read].to_vec(), permit))
                .is_err()
            {
                return Ok(());
            }
        }
    };
    let writer = async move {
        let mut timer = delay::PreciseTimer::new()?;
        let (bytes, chunks) = match direction {
            Direction::ToNode => (&counters.bytes_to_node, &counters.chunks_to_node),
            Direction::ToClient => (&counters.bytes_to_client, &counters.chunks_to_client),
        };
        while let Some((release, chunk, permit)) = queued.recv().await {
            timer.sleep_until(release).await?;
            to.write_all(&chunk).await?;
            drop(permit);
            bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            chunks.fetch_add(1, Ordering::Relaxed);
        }
        // The sender closed its side and everything it sent is delivered: pass the close on.
        to.shutdown().await?;
        Ok::<(), anyhow::Error>(())
    };
    let (read, written) = tokio::join!(reader, writer);
    read.and(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP server that echoes, optionally reading slowly.
    fn echo_server(read_pause: Option<Duration>) -> (SocketAddr, JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut socket, _) = listener.accept().unwrap();
            let mut buffer = vec![0u8; 4096];
            loop {
                if let Some(pause) = read_pause {
                    std::thread::sleep(pause);
                }
                match socket.read(&mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if socket.write_all(&buffer[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        (address, handle)
    }

    fn pattern(len: usize) -> Vec<u8> {
        let mut rng = delay::Rng::new(9);
        (0..len).map(|_| rng.next_u64() as u8).collect()
    }

    fn hop(upstream: SocketAddr, settings: HopSettings) -> Hop {
        Hop::start("127.0.0.1:0".parse().unwrap(), upstream, settings).unwrap()
    }

    #[test]
    fn bytes_arrive_intact_and_in_order_under_jitter() {
        let (upstream, server) = echo_server(None);
        let hop = hop(
            upstream,
            HopSettings {
                rtt: Duration::from_millis(2),
                jitter: Duration::from_millis(1),
                jitter_distribution: JitterDistribution::Normal,
                seed: 5,
            },
        );
        let sent = pattern(3 << 20);
        let mut socket = std::net::TcpStream::connect(hop.listen()).unwrap();
        let mut reader = socket.try_clone().unwrap();
        let expected = sent.len();
        let receiving = std::thread::spawn(move || {
            use std::io::Read;
            let mut received = vec![0u8; expected];
            reader.read_exact(&mut received).unwrap();
            received
        });
        {
            use std::io::Write;
            // Many small writes, so there are many chunks for jitter to try to reorder.
            for piece in sent.chunks(1000) {
                socket.write_all(piece).unwrap();
            }
        }
        let received = receiving.join().unwrap();
        assert!(received == sent, "bytes changed or reordered");
        drop(socket);
        server.join().unwrap();
        let stats = hop.stats();
        assert_eq!(stats.bytes_to_node, sent.len() as u64);
        assert_eq!(stats.bytes_to_client, sent.len() as u64);
        assert_eq!(stats.connections, 1);
        assert!(stats.chunks_to_node > 1);
    }

    #[test]
    fn a_round_trip_takes_the_rtt_and_a_change_applies_live() {
        use std::io::{Read, Write};
        let (upstream, _server) = echo_server(None);
        let hop = hop(
            upstream,
            HopSettings {
                rtt: Duration::from_millis(20),
                ..HopSettings::default()
            },
        );
        let mut socket = std::net::TcpStream::connect(hop.listen()).unwrap();
        socket.set_nodelay(true).unwrap();
        let round_trip = |socket: &mut std::net::TcpStream| {
            let start = Instant::now();
            socket.write_all(b"ping").unwrap();
            let mut answer = [0u8; 4];
            socket.read_exact(&mut answer).unwrap();
            assert_eq!(&answer, b"ping");
            start.elapsed()
        };
        // Each round trip at least the RTT; their median under 1.5x it (a hop twice as slow
        // as asked fails; the echo itself takes microseconds).
        let median_of_5 = |socket: &mut std::net::TcpStream, rtt: Duration| {
            let mut times: Vec<Duration> = (0..5).map(|_| round_trip(socket)).collect();
            times.sort();
            assert!(times[0] >= rtt, "{times:?} under {rtt:?}");
            assert!(times[2] < rtt * 3 / 2, "median of {times:?} for {rtt:?}");
        };
        median_of_5(&mut socket, Duration::from_millis(20));
        hop.set(HopSettings {
            rtt: Duration::from_millis(60),
            ..HopSettings::default()
        });
        median_of_5(&mut socket, Duration::from_millis(60));
        assert_eq!(hop.stats().connections, 1, "the same connection carried on");
        assert_eq!(hop.stats().open, 1);
    }

    #[test]
    fn a_slow_consumer_pushes_back_and_nothing_is_dropped() {
        use std::io::{Read, Write};
        use std::sync::atomic::AtomicUsize;
        // The node does not read for a while. The client writes far more than the hop's queue
        // and every socket buffer hold together, so its write must block (pushed back through
        // TCP) instead of the hop buffering without bound or dropping; then every byte arrives.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let upstream = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            let mut received = Vec::new();
            socket.read_to_end(&mut received).unwrap();
            received
        });
        let hop = hop(upstream, HopSettings::default());
        let sent = pattern(4 * QUEUE_BYTES);
        let written = Arc::new(AtomicUsize::new(0));
        let mut socket = std::net::TcpStream::connect(hop.listen()).unwrap();
        let writing = {
            let (sent, written) = (sent.clone(), written.clone());
            std::thread::spawn(move || {
                for chunk in sent.chunks(4096) {
                    socket.write_all(chunk).unwrap();
                    written.fetch_add(chunk.len(), Ordering::SeqCst);
                }
                socket.shutdown(std::net::Shutdown::Write).unwrap();
                socket
            })
        };
        // Pushed back: the writer stalls short of the end and stays stalled while the node does
        // not read (not merely slow: nothing more is taken in 300 ms).
        std::thread::sleep(Duration::from_millis(600));
        let stalled_at = written.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            written.load(Ordering::SeqCst),
            stalled_at,
            "the writer kept going: no back-pressure"
        );
        assert!(
            stalled_at < sent.len(),
            "the whole write was absorbed: no back-pressure"
        );
        let received = server.join().unwrap();
        let _socket = writing.join().unwrap();
        assert_eq!(received.len(), sent.len(), "bytes lost");
        assert!(received == sent, "bytes changed or reordered");
        assert_eq!(hop.stats().bytes_to_node, sent.len() as u64);
    }

    #[test]
    fn request_counter_walks_frames_split_anywhere() {
        let frame = |opcode: u8, body: &[u8]| {
            let mut f = vec![0x04, 0, 0, 1, opcode];
            f.extend((body.len() as u32).to_be_bytes());
            f.extend(body);
            f
        };
        let mut stream = frame(0x05, b"");
        stream.extend(frame(0x01, &[0x0A; 40]));
        for _ in 0..10 {
            stream.extend(frame(0x0A, &[0x07; 130]));
        }
        stream.extend(frame(0x0D, &[0x0D; 3000]));
        stream.extend(frame(0x07, b"SELECT"));
        for split in [1, 2, 8, 9, 10, 64, 4096, stream.len()] {
            let mut counter = RequestCounter::default();
            let counted: u64 = stream.chunks(split).map(|c| counter.feed(c)).sum();
            assert_eq!(counted, 11, "split every {split} bytes");
        }
    }

    #[test]
    fn format_rtt_is_short() {
        assert_eq!(format_rtt(Duration::ZERO), "0");
        assert_eq!(format_rtt(Duration::from_millis(2)), "2ms");
        assert_eq!(format_rtt(Duration::from_micros(500)), "500µs");
        assert_eq!(format_rtt(Duration::from_micros(1500)), "1.50ms");
    }
}
