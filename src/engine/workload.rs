//! What one write is: a prepared INSERT (or an UNLOGGED BATCH of them) with a unique key and a
//! payload, optionally preceded by the client's own CPU work, and how its failure is classified.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use scylla::client::session::Session;
use scylla::errors::ExecutionError;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::unprepared::Statement;
use scylla::value::CqlValue;

use super::outcome::{Completion, Failure, may_have_applied};
use super::reads::{self, ReadOp, prepare_reads};
use crate::cluster::coordinator;
use crate::config::Settings;
use crate::knobs::{
    BatchSpread, BatchType as BatchKind, Consistency, Knobs, Retry, Shard,
    Statement as StatementKind,
};
use crate::workload::rows::{Role, RowAt, Rows};

/// What every write of the run sends, built once at start: the table's rows (none for
/// casstop's own table, whose payload follows the `payload_bytes` knob) and the write prepared.
pub struct Writes {
    /// `None`: casstop's own `(key bigint, payload blob)` table.
    pub rows: Option<Arc<Rows>>,
    pub prepared: PreparedStatement,
    /// The write's CQL text with `?` markers, for `statement = unprepared`.
    pub text: String,
    pub keys: KeySpace,
    /// The reads the `mix` knob may send, by name.
    pub reads: Vec<ReadOp>,
}

impl Writes {
    /// Every operation's name: `insert`, then the reads.
    pub fn op_names(&self) -> Vec<String> {
        std::iter::once(crate::knobs::Mix::INSERT.to_string())
            .chain(self.reads.iter().map(|r| r.name.to_string()))
            .collect()
    }

    pub fn check_mix(&self, mix: &crate::knobs::Mix) -> Result<(), String> {
        reads::check_mix(&self.op_names(), mix)
    }
}

/// The statement and payload a worker sends; rebuilt only when a knob that shapes them changes.
pub struct RequestTemplate {
    pub writes: Arc<Writes>,
    pub single: PreparedStatement,
    /// The write as an unprepared statement (`statement = unprepared | literal`: the literal's
    /// text replaces its contents per write, its settings stay).
    pub simple: Statement,
    /// `rows_per_request` copies of the prepared or unprepared write, when more than one.
    pub batch: Option<Batch>,
    /// An empty batch of the right type and settings, for literal batches.
    pub literal_batch: Batch,
    pub rows: u32,
    pub statement: StatementKind,
    pub spread: BatchSpread,
    pub payload: Arc<[u8]>,
    /// Microseconds of the client's own CPU work per write (see [`burn_cpu`]).
    pub cpu_work_us: u32,
    /// Rounds of [`cpu_work`] between two looks at the thread's CPU clock.
    pub cpu_slice_rounds: u64,
    /// Which operation each request of a cycle is: `None` the write, `Some(i)` read `i`
    /// ([`crate::knobs::schedule`] of the mix's weights).
    pub cycle: Vec<Option<u8>>,
    /// The mix has writes (`insert` weighs more than 0).
    pub writes_in_mix: bool,
    /// The reads, with this template's consistency, timeout and retry.
    pub reads: Vec<PreparedStatement>,
    shaped_by: Shape,
}

/// The knobs a template is built from: a change to any of them needs a new template.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Shape {
    payload_bytes: u32,
    cpu_work_us: u32,
    rows_per_request: u32,
    consistency: Consistency,
    request_timeout: Duration,
    retry: Retry,
    statement: StatementKind,
    batch_type: BatchKind,
    batch_spread: BatchSpread,
    mix: crate::knobs::Mix,
}

impl RequestTemplate {
    pub fn new(writes: &Arc<Writes>, knobs: &Knobs, rounds_per_us: f64) -> Self {
        let mut single = writes.prepared.clone();
        single.set_consistency(knobs.consistency.to_driver());
        single.set_request_timeout(Some(knobs.request_timeout));
        single.set_retry_policy(Some(knobs.retry.to_driver()));
        single.set_is_idempotent(knobs.retry.marks_idempotent());
        let mut simple = Statement::new(writes.text.clone());
        simple.set_consistency(knobs.consistency.to_driver());
        simple.set_request_timeout(Some(knobs.request_timeout));
        simple.set_retry_policy(Some(knobs.retry.to_driver()));
        simple.set_is_idempotent(knobs.retry.marks_idempotent());
        // Counter updates go in counter batches whatever `batch_type` says: the node refuses
        // them in any other.
        let batch_type = match &writes.rows {
            Some(rows) if rows.counter => BatchType::Counter,
            _ => knobs.batch_type.to_driver(),
        };
        let mut literal_batch = Batch::new(batch_type);
        literal_batch.set_consistency(knobs.consistency.to_driver());
        literal_batch.set_request_timeout(Some(knobs.request_timeout));
        literal_batch.set_retry_policy(Some(knobs.retry.to_driver()));
        literal_batch.set_is_idempotent(knobs.retry.marks_idempotent());
        let batch = (knobs.rows_per_request > 1).then(|| {
            let mut batch = literal_batch.clone();
            for _ in 0..knobs.rows_per_request {
                match knobs.statement {
                    StatementKind::Prepared => batch.append_statement(single.clone()),
                    _ => batch.append_statement(simple.clone()),
                }
            }
            batch
        });
        let cycle = super::reads::cycle(&writes.reads, &knobs.mix);
        RequestTemplate {
            writes_in_mix: cycle.contains(&None),
            reads: super::reads::prepared(&writes.reads, knobs),
            cycle,
            writes: writes.clone(),
            single,
            simple,
            batch,
            literal_batch,
            rows: knobs.rows_per_request,
            statement: knobs.statement,
            spread: knobs.batch_spread,
            payload: payload(knobs.payload_bytes as usize),
            cpu_work_us: knobs.cpu_work_us,
            cpu_slice_rounds: (CPU_SLICE_US * rounds_per_us).round().max(1.0) as u64,
            shaped_by: Self::shape(knobs),
        }
    }

    fn shape(knobs: &Knobs) -> Shape {
        Shape {
            payload_bytes: knobs.payload_bytes,
            cpu_work_us: knobs.cpu_work_us,
            rows_per_request: knobs.rows_per_request,
            consistency: knobs.consistency,
            request_timeout: knobs.request_timeout,
            retry: knobs.retry,
            statement: knobs.statement,
            batch_type: knobs.batch_type,
            batch_spread: knobs.batch_spread,
            mix: knobs.mix,
        }
    }

    /// Whether `knobs` need a different template.
    pub fn is_stale(&self, knobs: &Knobs) -> bool {
        self.shaped_by != Self::shape(knobs)
    }

    /// Rows of one partition the table holds at most (1 for a table without clustering rows).
    pub fn rows_per_partition(&self) -> u64 {
        self.writes
            .rows
            .as_ref()
            .map_or(1, |rows| rows.rows_per_partition)
    }

    /// Where row `counter` of `worker` falls. Rows are laid out in blocks of `rows` partitions ×
    /// rows per partition: with `partition` spread a request's rows are consecutive rows of one
    /// partition, with `scatter` each is in another partition. Both lay a block out one-to-one,
    /// so no two rows of a worker meet while the block size holds ([`Self::next_block`] keeps
    /// that across a change).
    pub fn place(&self, worker: u32, counter: u64) -> RowAt {
        let per_partition = self.rows_per_partition();
        let (partition, row) = match self.spread {
            BatchSpread::Partition => (counter / per_partition, counter % per_partition),
            BatchSpread::Scatter => {
                let width = u64::from(self.rows.max(1));
                let block = width * per_partition;
                let (index, offset) = (counter / block, counter % block);
                (index * width + offset % width, offset / width)
            }
        };
        RowAt {
            unique: self.writes.keys.key(worker, partition) as u64,
            partition,
            worker,
            row,
        }
    }

    /// The counter a worker moves on to when its template changes from `self` to `next`: past
    /// the end of its current block under both layouts, so rows written under one never meet
    /// rows written under the other (a table without clustering rows needs no jump).
    pub fn next_block(&self, next: &RequestTemplate, counter: u64) -> u64 {
        let per_partition = self.rows_per_partition();
        if per_partition == 1 || (self.rows == next.rows && self.spread == next.spread) {
            return counter;
        }
        let up = |value: u64, block: u64| value.div_ceil(block.max(1)) * block.max(1);
        let old = up(counter, u64::from(self.rows) * per_partition);
        up(old, u64::from(next.rows) * per_partition)
    }
}

/// Deterministic, incompressible-looking payload bytes.
pub fn payload(len: usize) -> Arc<[u8]> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ len as u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The client's own work per write: `rounds` of FNV-1a hashing over the payload (or the key when
/// there is no payload). Real, deterministic computation the compiler cannot drop; never inlined,
/// so CPU profiles show it under its own name.
#[inline(never)]
pub fn cpu_work(payload: &[u8], key: i64, rounds: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ key as u64;
    let block: &[u8] = if payload.is_empty() {
        &[0x5a; 64]
    } else {
        &payload[..payload.len().min(64)]
    };
    for _ in 0..rounds {
        for byte in block {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
        hash = std::hint::black_box(hash);
    }
    hash
}

/// Microseconds of work between two reads of the thread's CPU clock: long enough that the reads
/// (a system call each) cost about 1 % of the work, short enough to overshoot by little.
const CPU_SLICE_US: f64 = 20.0;

/// Burns `us` microseconds of this thread's CPU time on [`cpu_work`], checked against the thread's
/// CPU clock rather than trusted to the calibration alone: a round's speed varies with what
/// shares the core (a busy SMT sibling, such as the local node, slows it by a third), and a fixed
/// count of rounds would then mean a different `cpu_work_us` from one minute to the next. Should
/// the clock fail, the rest is burnt by the calibrated count of slices, so the write still goes.
pub fn burn_cpu(payload: &[u8], key: i64, us: u32, slice_rounds: u64) -> u64 {
    burn_cpu_by(thread_cpu_time, payload, key, us, slice_rounds)
}

fn burn_cpu_by(
    mut clock: impl FnMut() -> std::io::Result<Duration>,
    payload: &[u8],
    key: i64,
    us: u32,
    slice_rounds: u64,
) -> u64 {
    let budget = Duration::from_micros(u64::from(us));
    // What the calibration says `us` takes.
    let calibrated_slices = (f64::from(us) / CPU_SLICE_US).ceil() as u64;
    let by_count = |done: u64| {
        (done..calibrated_slices).fold(0, |hash, _| hash ^ cpu_work(payload, key, slice_rounds))
    };
    let start = match clock() {
        Ok(start) => start,
        Err(err) => {
            clock_failed(&err);
            return by_count(0);
        }
    };
    let mut hash = 0;
    let mut done = 0;
    loop {
        hash ^= cpu_work(payload, key, slice_rounds);
        done += 1;
        match clock() {
            Ok(now) if now.saturating_sub(start) >= budget => return hash,
            Ok(_) => {}
            Err(err) => {
                clock_failed(&err);
                return hash ^ by_count(done);
            }
        }
    }
}

/// Says once (per process) that the thread CPU clock cannot be read, and what casstop does then.
fn clock_failed(err: &std::io::Error) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        tracing::warn!(
            "the thread CPU clock cannot be read ({err}); --cpu-work-us falls back to the \
             calibrated count of rounds and the wall clock"
        );
    });
}

/// CPU time of the calling thread: unlike wall time, it does not count the time the thread was
/// preempted (the local node shares the machine's cores).
pub fn thread_cpu_time() -> std::io::Result<Duration> {
    use rustix::time::{ClockId, DynamicClockId, clock_gettime_dynamic};
    let now = clock_gettime_dynamic(DynamicClockId::Known(ClockId::ThreadCPUTime))?;
    Duration::try_from(now).map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))
}

/// How long `work` takes on this thread's CPU clock, or by the wall clock when that fails.
fn cpu_time_of(work: impl FnOnce()) -> Duration {
    let wall = Instant::now();
    let before = thread_cpu_time();
    work();
    match (before, thread_cpu_time()) {
        (Ok(before), Ok(after)) => after.saturating_sub(before),
        (Err(err), _) | (_, Err(err)) => {
            clock_failed(&err);
            wall.elapsed()
        }
    }
}

/// Rounds of [`cpu_work`] per microsecond of CPU on this machine: the median of a few trials of
/// about 5 ms each, measured once at start. It only sizes the slices of [`burn_cpu`].
pub fn calibrate_cpu_work() -> f64 {
    let block = payload(64);
    let rounds = 50_000;
    std::hint::black_box(cpu_work(&block, 1, rounds / 10));
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let took = cpu_time_of(|| {
                std::hint::black_box(cpu_work(&block, 1, rounds));
            });
            rounds as f64 / (took.as_secs_f64() * 1e6).max(1.0)
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2].max(1.0)
}

/// Where a request's rows come from: the worker and its row counter at the first row.
#[derive(Clone, Copy, Debug)]
pub struct Origin {
    pub worker: u32,
    pub counter: u64,
}

/// Sends one request: `template.rows` rows, casstop's own table's with keys `key, key + 1,
/// ...`, a profile's from [`RequestTemplate::place`] of `origin`'s counters.
pub async fn write(
    session: Arc<Session>,
    template: Arc<RequestTemplate>,
    key: i64,
    origin: Origin,
    seq: u64,
    intended: Instant,
    note_coordinator: bool,
) -> Completion {
    let sent = Instant::now();
    let send = send(&session, &template, key, origin);
    let (result, coordinator) = if note_coordinator {
        let (result, failed_on) = coordinator::noting_failures(send).await;
        let coordinator = match &result {
            Ok(answer) => Some(coordinator::address_of(answer.request_coordinator().node())),
            Err(_) => failed_on,
        };
        (result, coordinator)
    } else {
        (send.await, None)
    };
    let result = result.map(drop);
    Completion {
        coordinator,
        seq,
        rows: template.rows,
        intended,
        sent,
        done: Instant::now(),
        outcome: result.map_err(|err| Failure::of(&err, may_have_applied(&err))),
        read: None,
        found: 0,
    }
}

/// Sends read `index` of the mix for the row at `at` (casstop's own table: `key`).
pub async fn read(
    session: Arc<Session>,
    template: Arc<RequestTemplate>,
    index: u8,
    key: i64,
    at: RowAt,
    seq: u64,
    intended: Instant,
) -> Completion {
    let sent = Instant::now();
    let statement = &template.reads[usize::from(index)];
    let result = match &template.writes.rows {
        None => session.execute_unpaged(statement, (key,)).await,
        Some(table) => {
            let op = &template.writes.reads[usize::from(index)];
            let values = if op.multirow {
                multirow_values(table, &op.binds, at, seq)
            } else {
                let row = table.row(at);
                op.binds.iter().map(|i| row[*i].clone()).collect()
            };
            session.execute_unpaged(statement, values).await
        }
    };
    let found = match &result {
        Ok(answer) => answer
            .is_rows()
            .then(|| answer.clone().into_rows_result().ok()),
        Err(_) => None,
    }
    .flatten()
    .map_or(0, |rows| rows.rows_num() as u64);
    Completion {
        coordinator: None,
        seq,
        rows: 0,
        intended,
        sent,
        done: Instant::now(),
        outcome: result.map(drop).map_err(|err| Failure::of(&err, false)),
        read: Some(index),
        found,
    }
}

/// cassandra-stress's `multirow`: each marker outside the partition key bound from a row of
/// `at`'s partition drawn for it, the partition key's from `at`. Only rows at or before `at`'s
/// are drawn: under either spread they were written before it, so they are there.
fn multirow_values(table: &Rows, binds: &[usize], at: RowAt, seq: u64) -> Vec<CqlValue> {
    let mut made: Vec<(u64, Vec<CqlValue>)> = Vec::with_capacity(binds.len());
    binds
        .iter()
        .enumerate()
        .map(|(marker, column)| {
            let row = if table.columns[*column].role == Role::Partition {
                at.row
            } else {
                crate::workload::dist::mix(seq ^ ((marker as u64) << 56)) % (at.row + 1)
            };
            let values = match made.iter().position(|(r, _)| *r == row) {
                Some(i) => &made[i].1,
                None => {
                    made.push((row, table.row(RowAt { row, ..at })));
                    &made[made.len() - 1].1
                }
            };
            values[*column].clone()
        })
        .collect()
}

/// The request itself, in the template's statement kind.
async fn send(
    session: &Session,
    template: &RequestTemplate,
    key: i64,
    origin: Origin,
) -> Result<scylla::response::query_result::QueryResult, ExecutionError> {
    let payload: &[u8] = &template.payload;
    let rows = template.rows;
    let place = |i: u32| template.place(origin.worker, origin.counter + u64::from(i));
    match (&template.writes.rows, template.statement) {
        (None, StatementKind::Prepared) => match &template.batch {
            None => {
                session
                    .execute_unpaged(&template.single, (key, payload))
                    .await
            }
            Some(batch) => {
                let values: Vec<(i64, &[u8])> = (0..i64::from(rows))
                    .map(|row| (key + row, payload))
                    .collect();
                session.batch(batch, values).await
            }
        },
        (None, StatementKind::Unprepared) => match &template.batch {
            None => {
                session
                    .query_unpaged(template.simple.clone(), (key, payload))
                    .await
            }
            Some(batch) => {
                let values: Vec<(i64, &[u8])> = (0..i64::from(rows))
                    .map(|row| (key + row, payload))
                    .collect();
                session.batch(batch, values).await
            }
        },
        (None, StatementKind::Literal) => {
            let text = |key: i64| default_literal(&template.writes.text, key, payload);
            literal(
                session,
                template,
                (0..i64::from(rows)).map(|row| text(key + row)),
            )
            .await
        }
        (Some(table), StatementKind::Prepared | StatementKind::Unprepared) => {
            let prepared = template.statement == StatementKind::Prepared;
            match &template.batch {
                None if prepared => {
                    session
                        .execute_unpaged(&template.single, table.values(place(0)))
                        .await
                }
                None => {
                    session
                        .query_unpaged(template.simple.clone(), table.values(place(0)))
                        .await
                }
                Some(batch) => {
                    let values: Vec<Vec<CqlValue>> =
                        (0..rows).map(|i| table.values(place(i))).collect();
                    session.batch(batch, values).await
                }
            }
        }
        (Some(table), StatementKind::Literal) => {
            literal(
                session,
                template,
                (0..rows).map(|i| table.literal(place(i))),
            )
            .await
        }
    }
}

/// Sends writes whose values are in their text: one QUERY, or a batch of them.
async fn literal(
    session: &Session,
    template: &RequestTemplate,
    mut texts: impl Iterator<Item = String>,
) -> Result<scylla::response::query_result::QueryResult, ExecutionError> {
    if template.rows <= 1 {
        let mut statement = template.simple.clone();
        statement.contents = texts.next().unwrap_or_default();
        return session.query_unpaged(statement, ()).await;
    }
    let mut batch = template.literal_batch.clone();
    for text in texts {
        let mut statement = template.simple.clone();
        statement.contents = text;
        batch.append_statement(statement);
    }
    let values = vec![(); template.rows as usize];
    session.batch(&batch, values).await
}

/// casstop's own write with its key and payload inlined: `VALUES (key, 0x...)`.
fn default_literal(text: &str, key: i64, payload: &[u8]) -> String {
    use std::fmt::Write;
    let head = text.split("(?, ?)").next().unwrap_or(text);
    let mut out = String::with_capacity(head.len() + 32 + payload.len() * 2);
    out.push_str(head);
    let _ = write!(out, "({key}, 0x");
    for byte in payload {
        let _ = write!(out, "{byte:02x}");
    }
    out.push(')');
    out
}

/// Prepares the write the workers send: casstop's own INSERT, or the profile's table's write
/// built from the node's metadata of it.
pub async fn prepare_writes(
    session: &Session,
    settings: &Settings,
    keys: KeySpace,
) -> Result<Writes> {
    let cluster = &settings.cluster;
    let profile = &settings.profile;
    let (rows, text) = if profile.is_default() {
        let text = format!(
            "INSERT INTO {}.{} (key, payload) VALUES (?, ?)",
            cluster.keyspace, cluster.table
        );
        (None, text)
    } else {
        let rows = crate::cluster::rows_of(session, profile)?;
        let text = rows.cql.clone();
        (Some(Arc::new(rows)), text)
    };
    let prepared = session
        .prepare(crate::cluster::admin(text.clone()))
        .await
        .with_context(|| match &rows {
            None => format!(
                "preparing the INSERT into `{}.{}` (does the table have columns key bigint and payload blob?)",
                cluster.keyspace, cluster.table
            ),
            Some(_) => format!("preparing the workload's write `{text}`"),
        })?;
    let reads = prepare_reads(session, settings, rows.as_deref()).await?;
    Ok(Writes {
        rows,
        prepared,
        text,
        keys,
        reads,
    })
}

/// Where a run's keys come from: the top 16 bits of every key are the run's nonce, the next 8 the
/// worker, the low 40 the worker's row counter, moved into the loader's part of that counter's
/// range when several loaders share the nonce (`seed` and `shard`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeySpace {
    pub nonce: u16,
    pub shard: Shard,
}

const ROW_BITS: u32 = 40;

impl KeySpace {
    /// `seed`'s key space, or a new one per run when it is 0.
    pub fn of(knobs: &Knobs) -> KeySpace {
        KeySpace {
            nonce: u16::try_from(knobs.seed)
                .ok()
                .filter(|seed| *seed != 0)
                .unwrap_or_else(run_nonce),
            shard: knobs.shard,
        }
    }

    /// The key of `worker`'s `row`-th row. Keys never repeat within a run, across runs with
    /// different nonces, nor across the shards of one nonce (each owns 2^40/N rows per worker;
    /// past them a worker's counter wraps within its own part).
    pub fn key(&self, worker: u32, row: u64) -> i64 {
        let span = (1u64 << ROW_BITS) / u64::from(self.shard.count.max(1));
        let row = u64::from(self.shard.index) * span + row % span;
        ((u64::from(self.nonce) << 48) | (u64::from(worker & 0xff) << ROW_BITS) | row) as i64
    }
}

/// A nonce that differs between runs, so runs sharing a table do not overwrite each other's rows.
fn run_nonce() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    match ((nanos >> 10) as u16) ^ (std::process::id() as u16) {
        // 0 is the seed that asks for a random one: keep the two apart in what is recorded.
        0 => 1,
        nonce => nonce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_collide_across_workers_runs_and_shards() {
        let mut seen = std::collections::HashSet::new();
        for nonce in [1u16, 2] {
            for count in [1, 3] {
                for index in 0..count {
                    let keys = KeySpace {
                        nonce: nonce + 2 * (count as u16 / 3),
                        shard: Shard { index, count },
                    };
                    for worker in 0..4 {
                        for row in 0..100 {
                            assert!(
                                seen.insert(keys.key(worker, row)),
                                "{keys:?} {worker} {row}"
                            );
                        }
                    }
                }
            }
        }
        // A shard's rows stay in its part even past its end: the counter wraps inside it.
        let last = KeySpace {
            nonce: 9,
            shard: Shard { index: 2, count: 3 },
        };
        let span = (1u64 << ROW_BITS) / 3;
        assert_eq!(last.key(0, span), last.key(0, 0));
        assert!(last.key(0, span - 1) < (9i64 << 48) | (1 << ROW_BITS));
    }

    #[test]
    fn a_seed_names_the_key_space_and_0_asks_for_a_new_one() {
        let mut knobs = Knobs {
            seed: 4242,
            ..Knobs::default()
        };
        assert_eq!(KeySpace::of(&knobs).nonce, 4242);
        knobs.seed = 0;
        assert_ne!(KeySpace::of(&knobs).nonce, 0);
    }

    #[test]
    fn cpu_work_is_deterministic_and_burns_the_cpu_time_asked_for() {
        let data = payload(100);
        assert_eq!(cpu_work(&data, 7, 10), cpu_work(&data, 7, 10));
        assert_ne!(cpu_work(&data, 7, 10), cpu_work(&data, 8, 10));
        let rounds_per_us = calibrate_cpu_work();
        assert!(rounds_per_us >= 1.0);
        // The thread's own CPU clock says 2 ms were burnt, whatever else runs on the machine
        // (being preempted adds no CPU time to this thread): at least the budget, and at most a
        // few slices past it, since the clock is read after every slice.
        let slice = (CPU_SLICE_US * rounds_per_us) as u64;
        let cpu_before = thread_cpu_time().unwrap();
        burn_cpu(&data, 1, 2000, slice);
        let cpu = thread_cpu_time().unwrap() - cpu_before;
        assert!(cpu >= Duration::from_micros(2000), "burnt {cpu:?} of CPU");
        assert!(
            cpu < Duration::from_micros(2500),
            "burnt {cpu:?} of CPU for 2 ms asked"
        );
    }

    #[test]
    fn a_failing_cpu_clock_ends_the_burn_by_the_calibrated_count() {
        let data = payload(100);
        let failing = || Err(std::io::Error::from(std::io::ErrorKind::Unsupported));
        let mut reads = 0;
        let mut counting_failure = || {
            reads += 1;
            failing()
        };
        burn_cpu_by(&mut counting_failure, &data, 1, 2000, 1);
        assert_eq!(reads, 1, "no look at a clock that failed");

        // The clock works for a while (standing still), then fails: the burn still ends, after
        // the calibrated 100 slices of 20 µs, not one read more.
        let mut reads = 0;
        let mut fails_later = || {
            reads += 1;
            if reads <= 3 {
                Ok(Duration::ZERO)
            } else {
                failing()
            }
        };
        let hash = burn_cpu_by(&mut fails_later, &data, 1, 2000, 1);
        assert_eq!(reads, 4);
        // 100 slices in all: an even count of equal hashes cancels out.
        assert_eq!(hash, 0);
        assert_eq!(
            burn_cpu_by(failing, &data, 1, 20 * 99, 1),
            cpu_work(&data, 1, 1),
            "99 slices"
        );
    }

    #[test]
    fn payload_has_the_asked_length() {
        assert_eq!(payload(0).len(), 0);
        assert_eq!(payload(100).len(), 100);
        assert_ne!(payload(100)[..10], [0u8; 10]);
    }
}
