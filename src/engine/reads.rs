//! The reads a mix may send beside the write: what each is, how it is prepared at start, and
//! how one is sent for a row the run wrote.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlValue;

use super::workload::{Completion, Failure, Origin, RequestTemplate, Writes, classify, describe};
use crate::config::Settings;
use crate::workload::rows::Rows;

/// A read of the mix: a prepared SELECT of a row the run wrote (always prepared: the
/// statement knob is the write's).
pub struct ReadOp {
    pub name: Arc<str>,
    pub prepared: PreparedStatement,
    /// [`Rows::columns`] index each marker binds, from the node's metadata of the prepared
    /// query; empty for casstop's own table, whose read binds the key.
    pub binds: Vec<usize>,
}

impl Writes {
    /// Every operation's name: `insert`, then the reads.
    pub fn op_names(&self) -> Vec<String> {
        std::iter::once(crate::knobs::Mix::INSERT.to_string())
            .chain(self.reads.iter().map(|r| r.name.to_string()))
            .collect()
    }

    pub fn check_mix(&self, mix: &crate::knobs::Mix) -> Result<(), String> {
        check_mix(&self.op_names(), mix)
    }
}

/// Refuses a mix that names an operation the workload (`ops`) lacks, naming the ones it has.
pub fn check_mix(ops: &[String], mix: &crate::knobs::Mix) -> Result<(), String> {
    match mix.ops().find(|(op, _)| !ops.iter().any(|o| o == op)) {
        None => Ok(()),
        Some((op, _)) => Err(format!(
            "mix names `{op}`, which this workload does not have; it has {}",
            ops.join(", ")
        )),
    }
}

/// Sends read `index` of the mix for the row at `origin` (casstop's own table: `key`).
pub async fn read(
    session: Arc<Session>,
    template: Arc<RequestTemplate>,
    index: u8,
    key: i64,
    origin: Origin,
    seq: u64,
    intended: Instant,
) -> Completion {
    let sent = Instant::now();
    let statement = &template.reads[usize::from(index)];
    let result = match &template.writes.rows {
        None => session.execute_unpaged(statement, (key,)).await,
        Some(table) => {
            let row = table.row(template.place(origin.worker, origin.counter));
            let binds = &template.writes.reads[usize::from(index)].binds;
            let values: Vec<CqlValue> = binds.iter().map(|i| row[*i].clone()).collect();
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
        outcome: result.map(drop).map_err(|err| Failure {
            kind: classify(&err),
            detail: describe(&err),
            // A read writes nothing.
            maybe_applied: false,
        }),
        read: Some(index),
        found,
    }
}

/// The reads a mix may send: `read` (a row the run wrote, by its whole primary key) on every
/// table, and a profile's queries under their names, their markers bound by column name from the
/// row's values.
pub(super) async fn prepare_reads(
    session: &Session,
    settings: &Settings,
    rows: Option<&Rows>,
) -> Result<Vec<ReadOp>> {
    let cluster = &settings.cluster;
    let prepare = async |name: &str, text: String, what: String| -> Result<ReadOp> {
        let prepared = session
            .prepare(crate::cluster::admin(text.clone()))
            .await
            .with_context(|| format!("preparing {what} `{text}`"))?;
        let binds = match rows {
            None => vec![],
            Some(rows) => prepared
                .get_variable_col_specs()
                .iter()
                .map(|spec| {
                    rows.columns
                        .iter()
                        .position(|c| c.name == spec.name())
                        .with_context(|| {
                            format!(
                                "{what} `{text}`: its marker for `{}` is not a column of {}.{}; \
                                 casstop binds a query's markers with the values of a row it wrote",
                                spec.name(),
                                rows.keyspace,
                                rows.table
                            )
                        })
                })
                .collect::<Result<_>>()?,
        };
        Ok(ReadOp {
            name: name.into(),
            prepared,
            binds,
        })
    };
    let mut reads = vec![];
    let queries = &settings.profile.queries;
    if !queries.iter().any(|q| q.name == "read") {
        let text = match rows {
            None => format!(
                "SELECT key, payload FROM {}.{} WHERE key = ?",
                cluster.keyspace, cluster.table
            ),
            Some(rows) => {
                let keys: Vec<String> = rows
                    .columns
                    .iter()
                    .filter(|c| c.is_key())
                    .map(|c| format!("{} = ?", crate::workload::rows::quote(&c.name)))
                    .collect();
                format!(
                    "SELECT * FROM {}.{} WHERE {}",
                    rows.keyspace,
                    rows.table,
                    keys.join(" AND ")
                )
            }
        };
        reads.push(prepare("read", text, "the read".into()).await?);
    }
    for query in queries {
        let what = format!("query `{}` (line {})", query.name, query.line);
        reads.push(prepare(&query.name, query.cql.clone(), what).await?);
    }
    Ok(reads)
}

/// Which operation each request of a cycle of `mix` is: `None` the write, `Some(i)` read `i`.
/// A name the workload lacks was refused before it got here ([`check_mix`]), and would weigh
/// nothing.
pub(super) fn cycle(writes: &Writes, mix: &crate::knobs::Mix) -> Vec<Option<u8>> {
    let ops: Vec<(Option<u8>, u32)> = mix
        .ops()
        .filter_map(|(name, weight)| {
            if name == crate::knobs::Mix::INSERT {
                return Some((None, weight));
            }
            let read = writes.reads.iter().position(|r| &*r.name == name)?;
            Some((Some(read as u8), weight))
        })
        .collect();
    let weights: Vec<u32> = ops.iter().map(|(_, w)| *w).collect();
    if weights.iter().sum::<u32>() == 0 {
        return vec![None];
    }
    crate::knobs::schedule(&weights)
        .into_iter()
        .map(|i| ops[usize::from(i)].0)
        .collect()
}

/// The reads with `knobs`' consistency, timeout and retry.
pub(super) fn prepared(writes: &Writes, knobs: &crate::knobs::Knobs) -> Vec<PreparedStatement> {
    writes
        .reads
        .iter()
        .map(|read| {
            let mut read = read.prepared.clone();
            read.set_consistency(knobs.consistency.to_driver());
            read.set_request_timeout(Some(knobs.request_timeout));
            read.set_retry_policy(Some(knobs.retry.to_driver()));
            // A read changes nothing: retrying it anywhere is safe.
            read.set_is_idempotent(true);
            read
        })
        .collect()
}
