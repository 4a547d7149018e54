//! The rows of a profile's table as the node has it: each column's type from the driver's
//! metadata, its distributions from the profile, and the values of any row as a pure function of
//! where it falls (partition, row within it) — so `verify` regenerates what a row must hold from
//! its key alone.

use std::sync::Arc;

use scylla::cluster::metadata::{ColumnKind, ColumnType, NativeType, Table};
use scylla::value::CqlValue;

use super::dist::{Dist, mix};
use super::profile::{ColumnSpec, Profile, is_cql_identifier};
pub use super::values::fold;
use super::values::{Shape, default_population, fnv, make};

/// Which part of the key a column is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Partition,
    Clustering,
    Static,
    Regular,
}

/// One column and how its values are drawn.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub typ: ColumnType<'static>,
    pub role: Role,
    /// Explicit population: for a partition key, partitions are drawn from it (else each
    /// operation writes a partition of its own); for others, the numbers values are made from.
    population: Option<Dist>,
    /// Length of text and blobs, elements of a collection.
    size: Dist,
    /// Distinct values per partition (clustering columns).
    cluster: Dist,
    alphabet: Arc<[char]>,
    /// Mixed into this column's draws, so two columns of one type differ.
    salt: u64,
}

/// Where a row falls: what the engine knows of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowAt {
    /// The partition's key from the run's key space: unique across workers, loaders and runs.
    pub unique: u64,
    /// The partition's number counted from 0 in this worker (for a `seq` population).
    pub partition: u64,
    pub worker: u32,
    /// The row within its partition, `0..rows_per_partition`.
    pub row: u64,
}

/// A table's columns and how rows of it are made.
#[derive(Clone, Debug)]
pub struct Rows {
    pub keyspace: String,
    pub table: String,
    pub columns: Vec<Column>,
    /// Rows a partition holds at most: the product of the clustering columns' `cluster`.
    pub rows_per_partition: u64,
    /// Every column is a key or a counter: writes are `UPDATE ... SET c = c + ?`.
    pub counter: bool,
    /// The write, with a `?` for each column in [`Rows::columns`] order (counters first for an
    /// UPDATE, keys after).
    pub cql: String,
    /// [`Rows::columns`] indexes in the order the write binds them.
    pub bind_order: Vec<usize>,
    seed: u64,
    around_ms: i64,
}

impl Rows {
    /// The rows of `profile` in the table the node has (`table`, from the driver's metadata).
    /// A column the profile specifies that the table lacks is refused, naming the profile's line.
    pub fn new(profile: &Profile, table: &Table) -> Result<Rows, String> {
        for spec in &profile.columns {
            if !table.columns.contains_key(&spec.name) {
                return Err(format!(
                    "line {}: the profile gives column `{}` values but table {}.{} has no such column (it has {})",
                    spec.line,
                    spec.name,
                    profile.keyspace,
                    profile.table,
                    sorted_names(table).join(", ")
                ));
            }
        }
        let mut columns = vec![];
        let mut add = |name: &String, role: Role| {
            let column = &table.columns[name];
            columns.push(Column::new(
                name,
                column.typ.clone(),
                role,
                profile.spec(name),
            ));
        };
        for name in &table.partition_key {
            add(name, Role::Partition);
        }
        for name in &table.clustering_key {
            add(name, Role::Clustering);
        }
        for name in sorted_names(table) {
            match table.columns[&name].kind {
                ColumnKind::Static => add(&name, Role::Static),
                ColumnKind::Regular => add(&name, Role::Regular),
                _ => {}
            }
        }
        for column in &columns {
            if let Some(spec) = profile.spec(&column.name)
                && spec.cluster.is_some()
                && column.role != Role::Clustering
            {
                return Err(format!(
                    "line {}: `cluster` is for clustering columns; `{}` is a {:?} column",
                    spec.line, column.name, column.role
                ));
            }
        }
        let rows_per_partition = columns
            .iter()
            .filter(|c| c.role == Role::Clustering)
            .map(|c| c.cluster.most().max(1) as u64)
            .try_fold(1u64, u64::checked_mul)
            .ok_or(
                "the clustering columns' `cluster` sizes multiply past 2^64 rows per partition",
            )?;
        let is_counter = |c: &Column| matches!(c.typ, ColumnType::Native(NativeType::Counter));
        let counter = columns.iter().any(is_counter);
        let qualified = format!("{}.{}", profile.keyspace, profile.table);
        let (cql, bind_order) = if counter {
            let counters: Vec<usize> = (0..columns.len())
                .filter(|i| is_counter(&columns[*i]))
                .collect();
            let keys: Vec<usize> = (0..columns.len())
                .filter(|i| matches!(columns[*i].role, Role::Partition | Role::Clustering))
                .collect();
            let set: Vec<String> = counters
                .iter()
                .map(|i| format!("{0} = {0} + ?", quote(&columns[*i].name)))
                .collect();
            let wheres: Vec<String> = keys
                .iter()
                .map(|i| format!("{} = ?", quote(&columns[*i].name)))
                .collect();
            (
                format!(
                    "UPDATE {qualified} SET {} WHERE {}",
                    set.join(", "),
                    wheres.join(" AND ")
                ),
                counters.into_iter().chain(keys).collect(),
            )
        } else {
            let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
            let marks = vec!["?"; names.len()].join(", ");
            (
                format!(
                    "INSERT INTO {qualified} ({}) VALUES ({marks})",
                    names.join(", ")
                ),
                (0..columns.len()).collect(),
            )
        };
        Ok(Rows {
            keyspace: profile.keyspace.clone(),
            table: profile.table.clone(),
            columns,
            rows_per_partition,
            counter,
            cql,
            bind_order,
            seed: profile.seed,
            around_ms: profile.around_ms,
        })
    }

    /// The values of the row at `at`, in bind order.
    pub fn values(&self, at: RowAt) -> Vec<CqlValue> {
        let all = self.row(at);
        self.bind_order.iter().map(|i| all[*i].clone()).collect()
    }

    /// The write with the values of `at` inlined: the python benchmarks' literal statement.
    pub fn literal(&self, at: RowAt) -> String {
        let all = self.row(at);
        let mut text = String::with_capacity(self.cql.len() + 64);
        let mut values = self.bind_order.iter().map(|i| &all[*i]);
        for (n, piece) in self.cql.split('?').enumerate() {
            if n > 0
                && let Some(value) = values.next()
            {
                super::literal::write(&mut text, value);
            }
            text.push_str(piece);
        }
        text
    }

    /// The values of the row at `at`, in [`Rows::columns`] order.
    pub fn row(&self, at: RowAt) -> Vec<CqlValue> {
        let mut values: Vec<CqlValue> = Vec::with_capacity(self.columns.len());
        for column in self.columns.iter().filter(|c| c.role == Role::Partition) {
            let number = match &column.population {
                None => at.unique as i64,
                Some(dist) => {
                    dist.sample(self.dense(at, dist) ^ if dist.is_seq() { 0 } else { column.salt })
                }
            };
            // The draw (a text key's length) follows the number, not the operation: a
            // population of N numbers is N partitions, as in cassandra-stress.
            values.push(self.make(column, number, mix(number as u64 ^ column.salt), true));
        }
        let partition_seed = self.fold_keys(&values);
        // The row's place within its partition, one digit per clustering column.
        let mut rest = at.row;
        let clustering: Vec<&Column> = self
            .columns
            .iter()
            .filter(|c| c.role == Role::Clustering)
            .collect();
        let mut digits = vec![0u64; clustering.len()];
        for (j, column) in clustering.iter().enumerate().rev() {
            let most = column.cluster.most().max(1) as u64;
            let here = column
                .cluster
                .sample(mix(partition_seed ^ column.salt))
                .max(1) as u64;
            digits[j] = (rest % most) % here;
            rest /= most;
        }
        for (column, digit) in clustering.iter().zip(digits) {
            let number = match &column.population {
                None => digit as i64,
                Some(dist) if dist.is_seq() => dist.sample(digit),
                Some(dist) => dist.sample(mix(partition_seed ^ column.salt).wrapping_add(digit)),
            };
            values.push(self.make(
                column,
                number,
                mix(partition_seed ^ column.salt ^ digit),
                true,
            ));
        }
        let row_seed =
            self.fold_keys_from(partition_seed, &values[self.key_count(Role::Partition)..]);
        for column in &self.columns[values.len()..] {
            let seed = if column.role == Role::Static {
                partition_seed
            } else {
                row_seed
            };
            values.push(self.value_of(column, seed));
        }
        values
    }

    /// What a non-key column of a row holds, given its key's seeds: the same for a write and
    /// for a read back.
    fn value_of(&self, column: &Column, seed: u64) -> CqlValue {
        let draw = mix(seed ^ column.salt);
        let number = match &column.population {
            None => default_population(&column.typ).sample(draw),
            Some(dist) => dist.sample(draw),
        };
        self.make(column, number, draw, false)
    }

    /// What each non-key column of the row whose key columns hold `keys` (in [`Rows::columns`]
    /// order, partition then clustering) must hold, as (column index, value); counters, which
    /// every write adds to, are left out.
    pub fn expected(&self, keys: &[CqlValue]) -> Vec<(usize, CqlValue)> {
        let pk = self.key_count(Role::Partition);
        let partition_seed = self.fold_keys(&keys[..pk]);
        let row_seed = self.fold_keys_from(partition_seed, &keys[pk..]);
        (keys.len()..self.columns.len())
            .filter(|i| {
                !matches!(
                    self.columns[*i].typ,
                    ColumnType::Native(NativeType::Counter)
                )
            })
            .map(|i| {
                let column = &self.columns[i];
                let seed = if column.role == Role::Static {
                    partition_seed
                } else {
                    row_seed
                };
                (i, self.value_of(column, seed))
            })
            .collect()
    }

    /// The read that `verify` checks rows with: every column, in [`Rows::columns`] order.
    pub fn select_cql(&self) -> String {
        let names: Vec<String> = self.columns.iter().map(|c| quote(&c.name)).collect();
        format!(
            "SELECT {} FROM {}.{}",
            names.join(", "),
            self.keyspace,
            self.table
        )
    }

    /// What is wrong with a row read back by [`Rows::select_cql`]: each column whose value is
    /// not the one its key makes (or is missing), as (column, expected, found).
    pub fn check(&self, row: &[Option<CqlValue>]) -> Vec<Mismatch> {
        let keys = self.key_count(Role::Partition) + self.key_count(Role::Clustering);
        let Some(key_values) = row[..keys.min(row.len())]
            .iter()
            .cloned()
            .collect::<Option<Vec<CqlValue>>>()
        else {
            return vec![Mismatch {
                column: "(key)".into(),
                expected: "a key".into(),
                found: "null".into(),
            }];
        };
        self.expected(&key_values)
            .into_iter()
            .filter_map(|(i, expected)| {
                let found = row.get(i).cloned().flatten();
                match &found {
                    Some(found) if same(found, &expected) => None,
                    _ => Some(Mismatch {
                        column: self.columns[i].name.clone(),
                        expected: short(&expected),
                        found: found.as_ref().map_or("null (missing)".into(), short),
                    }),
                }
            })
            .collect()
    }

    /// The key of a row read back, as CQL literals: `tenant='a', account=5`.
    pub fn describe_key(&self, row: &[Option<CqlValue>]) -> String {
        let keys = self.key_count(Role::Partition) + self.key_count(Role::Clustering);
        self.columns[..keys]
            .iter()
            .zip(row)
            .map(|(column, value)| {
                format!(
                    "{}={}",
                    column.name,
                    value.as_ref().map_or("null".into(), short)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How many columns have `role`.
    pub fn key_count(&self, role: Role) -> usize {
        self.columns.iter().filter(|c| c.role == role).count()
    }

    /// A worker's partitions numbered densely for a `seq` population: each of 256 workers
    /// starts at its own 1/256th of the range, so workers meet only once they have written that
    /// much each.
    fn dense(&self, at: RowAt, dist: &Dist) -> u64 {
        let width = (dist.max as i128 - dist.min as i128 + 1).max(1) as u128;
        let start = (width / 256) * u128::from(at.worker & 0xff);
        ((start + u128::from(at.partition)) % width) as u64
    }

    fn fold_keys(&self, values: &[CqlValue]) -> u64 {
        self.fold_keys_from(mix(self.seed ^ 0xca55_7011), values)
    }

    fn fold_keys_from(&self, seed: u64, values: &[CqlValue]) -> u64 {
        values.iter().fold(seed, fold)
    }

    /// The value of `column`'s type from `number` (the population's sample) and `draw` (the
    /// rest of the randomness: lengths, characters). A key's value is one-to-one with its
    /// number, so distinct partitions and rows never share a key.
    fn make(&self, column: &Column, number: i64, draw: u64, key: bool) -> CqlValue {
        let shape = Shape {
            size: &column.size,
            alphabet: &column.alphabet,
        };
        make(&column.typ, shape, number, draw, key, self.around_ms)
    }
}

impl Column {
    /// A partition or clustering key column: a row is read back by these.
    pub fn is_key(&self) -> bool {
        matches!(self.role, Role::Partition | Role::Clustering)
    }

    fn new(name: &str, typ: ColumnType<'static>, role: Role, spec: Option<&ColumnSpec>) -> Column {
        let spec = spec.cloned().unwrap_or_default();
        let default_size = match &typ {
            ColumnType::Collection { .. } => Dist::uniform(1, 4),
            _ => Dist::uniform(4, 8),
        };
        let alphabet: Arc<[char]> = match spec.alphabet {
            Some(alphabet) => alphabet.chars().collect(),
            None => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                .chars()
                .collect(),
        };
        Column {
            name: name.into(),
            salt: fnv(name.as_bytes()),
            typ,
            role,
            population: spec.population,
            size: spec.size.unwrap_or(default_size),
            cluster: spec.cluster.unwrap_or(Dist::fixed(1)),
            alphabet,
        }
    }
}

impl Dist {
    fn is_seq(&self) -> bool {
        matches!(self.kind, super::dist::Kind::Seq)
    }
}

/// One column of a row read back that is not what its key makes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Mismatch {
    pub column: String,
    pub expected: String,
    pub found: String,
}

/// A value as a CQL literal, cut to 60 characters.
fn short(value: &CqlValue) -> String {
    let mut text = String::new();
    super::literal::write(&mut text, value);
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// `name` as CQL must spell it: quoted when it is not a lower-case identifier.
pub fn quote(name: &str) -> String {
    if is_cql_identifier(name) && name.chars().all(|c| !c.is_ascii_uppercase()) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn sorted_names(table: &Table) -> Vec<String> {
    let mut names: Vec<String> = table.columns.keys().cloned().collect();
    names.sort();
    names
}

/// Two values the same once a set's or map's order is not counted (the node returns them in
/// its own order).
pub fn same(a: &CqlValue, b: &CqlValue) -> bool {
    fn canonical(value: &CqlValue) -> CqlValue {
        match value {
            CqlValue::Set(items) => {
                let mut items: Vec<CqlValue> = items.iter().map(canonical).collect();
                items.sort_by_key(|v| fold(0, v));
                CqlValue::Set(items)
            }
            CqlValue::Map(pairs) => {
                let mut pairs: Vec<(CqlValue, CqlValue)> = pairs
                    .iter()
                    .map(|(k, v)| (canonical(k), canonical(v)))
                    .collect();
                pairs.sort_by_key(|(k, _)| fold(0, k));
                CqlValue::Map(pairs)
            }
            CqlValue::List(items) => CqlValue::List(items.iter().map(canonical).collect()),
            CqlValue::Vector(items) => CqlValue::Vector(items.iter().map(canonical).collect()),
            CqlValue::Tuple(items) => {
                CqlValue::Tuple(items.iter().map(|v| v.as_ref().map(canonical)).collect())
            }
            CqlValue::UserDefinedType {
                keyspace,
                name,
                fields,
            } => CqlValue::UserDefinedType {
                keyspace: keyspace.clone(),
                name: name.clone(),
                fields: fields
                    .iter()
                    .map(|(n, v)| (n.clone(), v.as_ref().map(canonical)))
                    .collect(),
            },
            other => other.clone(),
        }
    }
    canonical(a) == canonical(b)
}
