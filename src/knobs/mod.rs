//! The knob registry: every knob a user turns, defined once.
//!
//! A knob's entry below is its only definition: its name (the same as config key in its section,
//! flag, environment variable, `:` command, JSON field, recording field, header label and help
//! line), aliases, unit, range and description. The config loader, the command-line flags, the
//! `:` command line, the session's header and help, `bench --json`, the recordings and the knobs
//! `sweep` may step all read it from here, and [`Knobs::apply`] is the one place a value is
//! checked. Adding a knob is one entry here plus its effect in the engine.
//!
//! This module imports nothing of casstop's: it is the bottom layer. Its defaults come from the
//! shipped `config.toml`, the one source of every default.

mod choices;
mod list;
mod mix;
mod shard;
mod value;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use choices::{
    BatchSpread, BatchType, Consistency, Retry, Routing, Runtime, Statement, Strategy,
};
pub use list::parse_values;
pub use mix::{Mix, OpName, schedule};
pub use shard::Shard;
pub use value::{KnobType, Range, Scalar, Value, format_duration, parse_count, parse_duration};

/// The documented default configuration, shipped at the repo root: the one source of defaults.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../config.toml");

/// One knob: what it is called and what it accepts. See the module docs.
pub struct KnobDef {
    /// The one name: config key (in `section`), `--flag` (with `-` for `_`), `:` command, JSON.
    pub name: &'static str,
    /// The config section it lives in (`load`, `cluster`).
    pub section: &'static str,
    /// Other names the `:` command line takes.
    pub aliases: &'static [&'static str],
    /// The placeholder of its flag's value.
    pub value_name: &'static str,
    pub range: Range,
    /// It changes while the load runs; a fixed knob is set at start only.
    pub live: bool,
    /// `sweep` may step it over a list of values.
    pub steppable: bool,
    /// One line for `--help` and the session's help.
    pub help: &'static str,
    get: fn(&Knobs) -> Value,
    set: fn(&mut Knobs, Value),
    parse: fn(&str) -> Result<Value, String>,
    from_scalar: fn(Scalar<'_>) -> Result<Value, String>,
    shape: fn() -> String,
}

impl KnobDef {
    /// `load.depth`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }

    /// `--depth`, `--cpu-work-us`.
    pub fn flag(&self) -> String {
        format!("--{}", self.name.replace('_', "-"))
    }

    /// `CASSTOP_LOAD_DEPTH`.
    pub fn env_var(&self) -> String {
        format!("CASSTOP_{}_{}", self.section, self.name).to_ascii_uppercase()
    }

    pub fn get(&self, knobs: &Knobs) -> Value {
        (self.get)(knobs)
    }

    /// Reads text as this knob's type (the range is checked by [`Knobs::apply`]).
    pub fn parse(&self, text: &str) -> Result<Value, String> {
        (self.parse)(text)
    }

    /// Reads a config or JSON scalar as this knob's type.
    pub fn from_scalar(&self, scalar: Scalar<'_>) -> Result<Value, String> {
        (self.from_scalar)(scalar)
    }

    /// What its values look like: "a whole number (e.g. 128, 5k)", "sync|batches|...".
    pub fn shape(&self) -> String {
        (self.shape)()
    }

    /// Its values and range, for help: "a whole number (e.g. 128, 5k), 1..1000000".
    pub fn accepts(&self) -> String {
        match self.range.describe() {
            range if range.is_empty() => self.shape(),
            range => format!("{}, {range}", self.shape()),
        }
    }

    /// Whether `name` is this knob's name or one of its aliases.
    pub fn is_called(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

impl fmt::Debug for KnobDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for KnobDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// Generates [`Knobs`], one `static` [`KnobDef`] per knob, and [`ALL`], from one entry each.
macro_rules! registry {
    ($( $(#[$attr:meta])* $field:ident : $ty:ty = $id:ident { $($def:tt)* } )*) => {
        /// The value of every knob. The engine reads the live ones at the top of every step.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct Knobs {
            $( $(#[$attr])* pub $field: $ty, )*
        }

        $(
            pub static $id: KnobDef = KnobDef {
                name: stringify!($field),
                get: |knobs| knobs.$field.into_value(),
                set: |knobs, value| {
                    if let Some(value) = <$ty as KnobType>::from_value(value) {
                        knobs.$field = value;
                    }
                },
                parse: |text| <$ty as KnobType>::parse_text(text).map(KnobType::into_value),
                from_scalar: |scalar| {
                    <$ty as KnobType>::from_scalar(scalar).map(KnobType::into_value)
                },
                shape: <$ty as KnobType>::shape,
                $($def)*
            };
        )*

        /// Every knob, in the order help and the header list them.
        pub static ALL: &[&KnobDef] = &[$(&$id),*];
    };
}

registry! {
    strategy: Strategy = STRATEGY {
        section: "load", aliases: &["s"], value_name: "STRATEGY", range: Range::Any,
        live: true, steppable: false,
        help: "how each worker schedules its writes",
    }
    depth: u32 = DEPTH {
        section: "load", aliases: &["d"], value_name: "N",
        range: Range::Count { min: 1, max: 1_000_000 }, live: true, steppable: true,
        help: "writes in flight (pipeline) or independent chains (callbacks), per worker",
    }
    batch: u32 = BATCH {
        section: "load", aliases: &["b"], value_name: "N",
        range: Range::Count { min: 1, max: 1_000_000 }, live: true, steppable: true,
        help: "writes per round for the batches strategy, per worker",
    }
    workers: u32 = WORKERS {
        section: "load", aliases: &["w"], value_name: "N",
        range: Range::Count { min: 1, max: 256 }, live: true, steppable: true,
        help: "independent workers, each running the strategy",
    }
    rate: f64 = RATE {
        section: "load", aliases: &[], value_name: "WRITES_PER_S",
        range: Range::Rate { min: 0.01, max: 10_000_000.0 }, live: true, steppable: false,
        help: "target requests/s over all workers (0 = open); latency is then also measured \
               from each write's intended start",
    }
    #[serde(with = "duration_serde")]
    pacer_slack: Duration = PACER_SLACK {
        section: "load", aliases: &["slack"], value_name: "DURATION",
        range: Range::Duration { min: Duration::ZERO, max: Duration::from_millis(10) },
        live: true, steppable: false,
        help: "under a rate, how early a write may leave to share a wake-up with the ones due \
               just after it: 20us sends each at its own time (a wake-up and a TCP send per \
               write); 1ms sends in bursts what a 1 ms timer tick would (less CPU; writes up to \
               1 ms early)",
    }
    payload_bytes: u32 = PAYLOAD_BYTES {
        section: "load", aliases: &["payload"], value_name: "BYTES",
        range: Range::Count { min: 0, max: 64 << 20 }, live: true, steppable: true,
        help: "bytes of payload per row",
    }
    cpu_work_us: u32 = CPU_WORK_US {
        section: "load", aliases: &["cpu"], value_name: "US",
        range: Range::Count { min: 0, max: 1_000_000 }, live: true, steppable: true,
        help: "microseconds of client CPU burnt per write, by the load thread's own CPU clock \
               (the CPU-bound case)",
    }
    rows_per_request: u32 = ROWS_PER_REQUEST {
        section: "load", aliases: &["rows"], value_name: "N",
        // Cassandra rejects batches of more than 65,535 statements.
        range: Range::Count { min: 1, max: 65_535 }, live: true, steppable: true,
        help: "rows per request: 1 = one INSERT, more = one batch (batch_type) of that many rows",
    }
    statement: Statement = STATEMENT {
        section: "workload", aliases: &[], value_name: "KIND", range: Range::Any,
        live: true, steppable: false,
        help: "how a write is sent: prepared (EXECUTE with bound values), unprepared (bound \
               values; the Rust driver prepares the text before each write, two round trips) or \
               literal (values inlined in the CQL text; the node parses every write)",
    }
    batch_type: BatchType = BATCH_TYPE {
        section: "workload", aliases: &[], value_name: "TYPE", range: Range::Any,
        live: true, steppable: false,
        help: "what a request of several rows is: an unlogged or a logged batch (through the \
               batch log); a counter table's batches are counter batches",
    }
    batch_spread: BatchSpread = BATCH_SPREAD {
        section: "workload", aliases: &["spread"], value_name: "SPREAD", range: Range::Any,
        live: true, steppable: false,
        help: "where a batch's rows fall: scatter (each in another partition) or partition (rows \
               of one partition together; needs a table with clustering rows)",
    }
    mix: Mix = MIX {
        section: "workload", aliases: &[], value_name: "OPS", range: Range::Any,
        live: true, steppable: false,
        help: "which operations run and in what proportion: insert=3,read=1 (read: a row the \
               run wrote, read back; a profile's queries under their names); writes stay the \
               headline, each read has its own counts and latencies",
    }
    consistency: Consistency = CONSISTENCY {
        section: "cluster", aliases: &["cl"], value_name: "LEVEL", range: Range::Any,
        live: true, steppable: false,
        help: "consistency level of the writes",
    }
    #[serde(with = "duration_serde")]
    request_timeout: Duration = REQUEST_TIMEOUT {
        section: "cluster", aliases: &["timeout"], value_name: "DURATION",
        range: Range::Duration { min: Duration::from_millis(1), max: Duration::from_secs(600) },
        live: true, steppable: false,
        help: "client-side deadline of one request; a write that misses it is a timeout error, \
               counted as \"maybe written\"",
    }
    retry: Retry = RETRY {
        section: "cluster", aliases: &[], value_name: "POLICY", range: Range::Any,
        live: true, steppable: false,
        help: "after a failed write: default (retry elsewhere only when the write was refused), \
               never, or idempotent (also retry a broken connection on the next node)",
    }
    routing: Routing = ROUTING {
        section: "cluster", aliases: &[], value_name: "ROUTING", range: Range::Any,
        live: false, steppable: false,
        help: "which node coordinates each request: token-aware (a replica of the row, no \
               extra hop) or round-robin (every node in turn; with fewer replicas than nodes \
               most requests take a hop to a replica)",
    }
    connections_per_host: u32 = CONNECTIONS_PER_HOST {
        section: "cluster", aliases: &[], value_name: "N",
        range: Range::Count { min: 1, max: 64 }, live: false, steppable: false,
        help: "the driver's connections to each node (each carries up to 32k requests at once)",
    }
    throttle_cap: u32 = THROTTLE_CAP {
        section: "load", aliases: &["cap"], value_name: "N",
        range: Range::Count { min: 1, max: 10_000_000 }, live: true, steppable: false,
        help: "safety cap on writes in flight per worker for the throttle strategy",
    }
    paused: bool = PAUSED {
        section: "load", aliases: &[], value_name: "on|off", range: Range::Any,
        live: true, steppable: false,
        help: "issue no new writes (`p` toggles it; :pause, :resume)",
    }
    runtime: Runtime = RUNTIME {
        section: "load", aliases: &[], value_name: "RUNTIME", range: Range::Any,
        live: false, steppable: false,
        help: "async runtime: current-thread (everything on one core) or multi-thread \
               (`threads` OS threads)",
    }
    threads: u32 = THREADS {
        section: "load", aliases: &[], value_name: "N",
        range: Range::Count { min: 1, max: 256 }, live: false, steppable: false,
        help: "OS threads of the multi-thread runtime",
    }
    #[serde(with = "duration_serde")]
    interval: Duration = INTERVAL {
        section: "load", aliases: &[], value_name: "DURATION",
        range: Range::Duration { min: Duration::from_millis(100), max: Duration::from_secs(60) },
        live: false, steppable: false,
        help: "length of one metrics interval",
    }
    #[serde(with = "duration_serde")]
    duration: Duration = DURATION {
        section: "load", aliases: &[], value_name: "DURATION",
        range: Range::Duration { min: Duration::ZERO, max: Duration::from_secs(30 * 86_400) },
        live: false, steppable: false,
        help: "how long a run lasts (0s = until `ops` are done; bench defaults to 10s)",
    }
    ops: u64 = OPS {
        section: "load", aliases: &[], value_name: "N",
        range: Range::Count { min: 0, max: 1_000_000_000_000_000 }, live: false,
        steppable: false,
        help: "requests to issue over all workers, then stop (0 = no limit)",
    }
    max_error_percent: u32 = MAX_ERROR_PERCENT {
        section: "load", aliases: &[], value_name: "PERCENT",
        range: Range::Count { min: 0, max: 100 }, live: false, steppable: false,
        help: "a bench or sweep whose failed requests are more than this share of those issued \
               exits 1 after its summary (100 = never)",
    }
    seed: u32 = SEED {
        section: "load", aliases: &[], value_name: "N",
        range: Range::Count { min: 0, max: 65_535 }, live: false, steppable: false,
        help: "the run's key space (the top 16 bits of every key): 0 picks a new one per run, \
               so runs sharing a table never overwrite each other; loaders given the same seed \
               share one key space, which --shard splits",
    }
    shard: Shard = SHARD {
        section: "load", aliases: &[], value_name: "I/N", range: Range::Any,
        live: false, steppable: false,
        help: "this loader's part of the key space when N loaders share it: loader I (from 0) \
               of N writes only its part, so together they write each key once",
    }
}

/// Durations in config, recordings and JSON as `parse_duration` reads them: `"500ms"`.
pub mod duration_serde {
    use std::time::Duration;

    pub use super::parse_duration as parse;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_duration(&text).map_err(D::Error::custom)
    }
}

/// The knob called `name` (or by one of its aliases).
pub fn find(name: &str) -> Option<&'static KnobDef> {
    ALL.iter().copied().find(|def| def.is_called(name))
}

/// The knobs of a config section.
pub fn in_section(section: &str) -> impl Iterator<Item = &'static KnobDef> + '_ {
    ALL.iter()
        .copied()
        .filter(move |def| def.section == section)
}

impl Default for Knobs {
    /// The shipped `config.toml`'s values.
    fn default() -> Self {
        let table: toml::Table = DEFAULT_CONFIG_TOML
            .parse()
            .unwrap_or_else(|err| panic!("the shipped config.toml is not TOML: {err}"));
        let mut knobs = Knobs::zeroed();
        for def in ALL {
            let value = table
                .get(def.section)
                .and_then(|section| section.get(def.name))
                .map(|value| def.from_scalar(scalar_of(value)))
                .unwrap_or_else(|| panic!("the shipped config.toml has no `{}`", def.key()))
                .unwrap_or_else(|err| panic!("the shipped config.toml's `{}` {err}", def.key()));
            (def.set)(&mut knobs, value);
        }
        knobs
    }
}

/// A TOML value as a [`Scalar`].
pub fn scalar_of(value: &toml::Value) -> Scalar<'_> {
    match value {
        toml::Value::Integer(v) => Scalar::Int(*v),
        toml::Value::Float(v) => Scalar::Float(*v),
        toml::Value::String(v) => Scalar::Text(v),
        toml::Value::Boolean(v) => Scalar::Bool(*v),
        toml::Value::Datetime(_) => Scalar::Other("a date"),
        toml::Value::Array(_) => Scalar::Other("a list"),
        toml::Value::Table(_) => Scalar::Other("a table"),
    }
}

impl Knobs {
    /// Placeholder values, overwritten from config.toml by `default`.
    fn zeroed() -> Knobs {
        Knobs {
            strategy: Strategy::Callbacks,
            depth: 1,
            batch: 1,
            workers: 1,
            rate: 0.0,
            pacer_slack: Duration::ZERO,
            payload_bytes: 0,
            cpu_work_us: 0,
            rows_per_request: 1,
            statement: Statement::Prepared,
            batch_type: BatchType::Unlogged,
            batch_spread: BatchSpread::Scatter,
            mix: Mix::writes_only(),
            consistency: Consistency::One,
            request_timeout: Duration::from_secs(1),
            retry: Retry::Default,
            routing: Routing::TokenAware,
            connections_per_host: 1,
            throttle_cap: 1,
            paused: false,
            runtime: Runtime::CurrentThread,
            threads: 1,
            interval: Duration::from_secs(1),
            duration: Duration::ZERO,
            ops: 0,
            max_error_percent: 100,
            seed: 0,
            shard: Shard::WHOLE,
        }
    }

    /// The most writes a worker may have in flight under these knobs.
    pub fn in_flight_limit(&self) -> u32 {
        match self.strategy {
            Strategy::Sync => 1,
            Strategy::Batches => self.batch,
            Strategy::Pipeline | Strategy::Callbacks => self.depth,
            Strategy::Throttle => self.throttle_cap,
        }
    }

    /// OS threads the load runs on: one for the current-thread runtime, else `threads`.
    pub fn os_threads(&self) -> u32 {
        match self.runtime {
            Runtime::CurrentThread => 1,
            Runtime::MultiThread => self.threads,
        }
    }

    /// Sets `def` to `value` without checking; [`Knobs::validate`] checks.
    pub fn set(&mut self, def: &KnobDef, value: Value) {
        (def.set)(self, value);
    }

    /// The knobs after `change`, or one line naming the knob and what it accepts. The one place
    /// a change is checked: the engine installs only what this returned.
    pub fn apply(&self, change: &KnobChange) -> Result<Knobs, String> {
        let def = change.knob;
        if !def.live && def.get(self) != change.value {
            return Err(format!(
                "{} is fixed for the run; set it at start ({} or `{}`)",
                def.name,
                def.flag(),
                def.key()
            ));
        }
        let mut next = self.clone();
        next.set(def, change.value);
        next.validate_one(def)
            .map_err(|m| format!("{} {m}", def.name))?;
        next.cross_check(Some(def))
            .map_err(|(def, m)| format!("{} {m}", def.name))?;
        Ok(next)
    }

    /// Every knob in its range and every knob consistent with the others; the error names the
    /// knob and ends a sentence that starts with its name.
    pub fn validate(&self) -> Result<(), (&'static KnobDef, String)> {
        for def in ALL {
            self.validate_one(def).map_err(|m| (*def, m))?;
        }
        self.cross_check(None)
    }

    /// [`Knobs::validate`], blaming a broken rule between knobs on `changed` when it is one
    /// of them (the knob the user set, not the default beside it).
    pub fn validate_blaming(&self, changed: &KnobDef) -> Result<(), (&'static KnobDef, String)> {
        for def in ALL {
            self.validate_one(def).map_err(|m| (*def, m))?;
        }
        self.cross_check(Some(changed))
    }

    fn validate_one(&self, def: &KnobDef) -> Result<(), String> {
        def.range.check(&def.get(self))
    }

    /// Rules between knobs. A change is blamed on the knob that changed.
    fn cross_check(&self, changed: Option<&KnobDef>) -> Result<(), (&'static KnobDef, String)> {
        for def in [&BATCH, &DEPTH] {
            let Value::Count(value) = def.get(self) else {
                continue;
            };
            if value > i64::from(self.throttle_cap) {
                return Err(if changed == Some(&THROTTLE_CAP) {
                    (
                        &THROTTLE_CAP,
                        format!(
                            "must be at least depth ({}) and batch ({}), got {}",
                            self.depth, self.batch, self.throttle_cap
                        ),
                    )
                } else {
                    (
                        def,
                        format!(
                            "({value}) is bigger than the in-flight cap `{}` ({})",
                            THROTTLE_CAP.key(),
                            self.throttle_cap
                        ),
                    )
                });
            }
        }
        Ok(())
    }

    /// `name value` of every live knob, for the header, leaving out what the strategy ignores.
    pub fn header(&self) -> Vec<(&'static str, String)> {
        ALL.iter()
            .filter(|def| def.live && !self.ignores(def))
            .map(|def| (def.name, def.get(self).to_string()))
            .collect()
    }

    /// Knobs the current strategy does not read, and defaults not worth a place on screen.
    fn ignores(&self, def: &KnobDef) -> bool {
        let strategy = self.strategy;
        (*def == DEPTH && !matches!(strategy, Strategy::Pipeline | Strategy::Callbacks))
            || (*def == BATCH && strategy != Strategy::Batches)
            || (*def == THROTTLE_CAP && strategy != Strategy::Throttle)
            || (*def == PACER_SLACK && self.rate == 0.0)
            || ((*def == BATCH_TYPE || *def == BATCH_SPREAD) && self.rows_per_request == 1)
            || *def == PAUSED
    }
}

/// One change to one knob, as a key, the `:` command line, a sweep step or a test asks for it.
#[derive(Clone, Copy, PartialEq)]
pub struct KnobChange {
    pub knob: &'static KnobDef,
    pub value: Value,
}

impl KnobChange {
    pub fn new(knob: &'static KnobDef, value: impl KnobType) -> Self {
        KnobChange {
            knob,
            value: value.into_value(),
        }
    }

    /// `depth 384` → the change, or one line on what is wrong (the range is checked on apply).
    pub fn parse(name: &str, text: &str) -> Result<KnobChange, String> {
        let knob = find(name).ok_or_else(|| format!("no knob is called `{name}`"))?;
        let value = knob.parse(text).map_err(|m| format!("{} {m}", knob.name))?;
        Ok(KnobChange { knob, value })
    }
}

impl fmt::Debug for KnobChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KnobChange({self})")
    }
}

impl fmt::Display for KnobChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.knob.name, self.value)
    }
}

/// Recorded as `{"knob": "depth", "value": 384}`.
impl Serialize for KnobChange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("KnobChange", 2)?;
        state.serialize_field("knob", self.knob.name)?;
        state.serialize_field("value", &self.value)?;
        state.end()
    }
}

impl<'de> Deserialize<'de> for KnobChange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Raw {
            knob: String,
            value: toml::Value,
        }
        let raw = Raw::deserialize(deserializer)?;
        let knob = find(&raw.knob)
            .ok_or_else(|| D::Error::custom(format!("no knob is called `{}`", raw.knob)))?;
        let value = knob
            .from_scalar(scalar_of(&raw.value))
            .map_err(|m| D::Error::custom(format!("{} {m}", knob.name)))?;
        Ok(KnobChange { knob, value })
    }
}

/// A steppable knob's list, each value read as the knob reads text. Whole-number knobs take `...`
/// (see [`parse_values`]); the range is checked when each step is applied.
pub fn parse_list(def: &KnobDef, text: &str) -> Result<Vec<Value>, String> {
    if matches!(def.parse("1"), Ok(Value::Count(_))) {
        return Ok(parse_values(text)?
            .into_iter()
            .map(|v| Value::Count(i64::from(v)))
            .collect());
    }
    text.split(',').map(|token| def.parse(token)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_shipped_config_and_are_valid() {
        let knobs = Knobs::default();
        assert_eq!(knobs.strategy, Strategy::Callbacks);
        assert_eq!(knobs.depth, 128);
        assert_eq!(knobs.validate(), Ok(()));
    }

    #[test]
    fn names_are_unique_and_every_name_is_one_word() {
        let mut names: Vec<&str> = ALL
            .iter()
            .flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().copied()))
            .collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "a name or alias is used twice");
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        assert_eq!(DEPTH.flag(), "--depth");
        assert_eq!(CPU_WORK_US.flag(), "--cpu-work-us");
        assert_eq!(CONSISTENCY.env_var(), "CASSTOP_CLUSTER_CONSISTENCY");
    }

    #[test]
    fn changes_apply_and_refusals_name_the_knob_and_its_range() {
        let knobs = Knobs::default();
        let k = knobs.apply(&KnobChange::new(&DEPTH, 384u32)).unwrap();
        assert_eq!(k.in_flight_limit(), 384);
        assert_eq!(
            knobs.apply(&KnobChange::new(&DEPTH, 0u32)),
            Err("depth must be between 1 and 1000000, got 0".into())
        );
        let cap = knobs.apply(&KnobChange::new(&THROTTLE_CAP, 10u32));
        assert!(
            cap.unwrap_err()
                .starts_with("throttle_cap must be at least depth")
        );
        let deep = knobs.apply(&KnobChange::new(&DEPTH, 200_000u32));
        assert!(deep.unwrap_err().contains("in-flight cap"));
        assert!(
            knobs
                .apply(&KnobChange::new(&RATE, 1e-20))
                .unwrap_err()
                .starts_with("rate must be 0 (open)")
        );
        let fixed = knobs.apply(&KnobChange::new(&RUNTIME, Runtime::MultiThread));
        assert!(fixed.unwrap_err().contains("fixed for the run"));
    }

    #[test]
    fn a_change_reads_and_records_as_name_and_value() {
        let change = KnobChange::parse("cl", "one").unwrap();
        assert_eq!(change.to_string(), "consistency one");
        let json = serde_json::to_string(&KnobChange::new(&DEPTH, 64u32)).unwrap();
        assert_eq!(json, r#"{"knob":"depth","value":64}"#);
        let back: KnobChange = serde_json::from_str(&json).unwrap();
        assert_eq!(back, KnobChange::new(&DEPTH, 64u32));
        let timeout = KnobChange::new(&REQUEST_TIMEOUT, Duration::from_secs(2));
        let back: KnobChange =
            serde_json::from_str(&serde_json::to_string(&timeout).unwrap()).unwrap();
        assert_eq!(back, timeout);
        assert!(KnobChange::parse("depht", "1").is_err());
    }

    #[test]
    fn knobs_round_trip_through_json_and_old_records_get_defaults() {
        let knobs = Knobs::default();
        let json = serde_json::to_value(&knobs).unwrap();
        for def in ALL {
            assert!(json.get(def.name).is_some(), "{} missing in JSON", def.name);
        }
        let back: Knobs = serde_json::from_value(json).unwrap();
        assert_eq!(back, knobs);
        let old: Knobs = serde_json::from_str(r#"{"depth": 7}"#).unwrap();
        assert_eq!((old.depth, old.batch), (7, knobs.batch));
    }
}
