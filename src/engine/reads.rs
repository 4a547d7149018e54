//! The reads a mix may send beside the write: what each is, how it is prepared at start, and
//! how one is sent for a row the run wrote.

use std::sync::Arc;

use anyhow::{Context, Result};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

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
    /// `fields: multirow`: markers outside the partition key each from their own row.
    pub multirow: bool,
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

/// The reads a mix may send: `read` (a row the run wrote, by its whole primary key) on every
/// table, and a profile's queries under their names, their markers bound by column name from the
/// row's values.
pub(super) async fn prepare_reads(
    session: &Session,
    settings: &Settings,
    rows: Option<&Rows>,
) -> Result<Vec<ReadOp>> {
    let cluster = &settings.cluster;
    let prepare = async |name: &str, text: String, what: String, multirow| -> Result<ReadOp> {
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
            multirow,
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
        reads.push(prepare("read", text, "the read".into(), false).await?);
    }
    for query in queries {
        let what = format!("query `{}` (line {})", query.name, query.line);
        reads.push(prepare(&query.name, query.cql.clone(), what, query.multirow).await?);
    }
    Ok(reads)
}

/// Which operation each request of a cycle of `mix` is: `None` the write, `Some(i)` read `i`.
/// A name the workload lacks was refused before it got here ([`check_mix`]), and would weigh
/// nothing.
pub(super) fn cycle(reads: &[ReadOp], mix: &crate::knobs::Mix) -> Vec<Option<u8>> {
    let ops: Vec<(Option<u8>, u32)> = mix
        .ops()
        .filter_map(|(name, weight)| {
            if name == crate::knobs::Mix::INSERT {
                return Some((None, weight));
            }
            let read = reads.iter().position(|r| &*r.name == name)?;
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
pub(super) fn prepared(reads: &[ReadOp], knobs: &crate::knobs::Knobs) -> Vec<PreparedStatement> {
    reads
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
