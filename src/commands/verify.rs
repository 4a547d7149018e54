//! `casstop verify`: reads rows of the workload's table back and checks every value against the
//! generator that wrote it (each value is a function of its row's key), counting rows whose
//! values differ or are missing, and naming the first of them.

use anyhow::{Context, Result};
use futures::StreamExt;
use scylla::value::{CqlValue, Row};
use serde::Serialize;

use crate::cli::VerifyArgs;
use crate::config::Settings;
use crate::stdout::say;
use crate::workload::rows::Mismatch;
use crate::{cluster, target};

/// What a verify found, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub workload: String,
    pub table: String,
    pub rows_checked: u64,
    /// Rows with at least one value not the generator's.
    pub rows_mismatched: u64,
    /// The table's rows when counted (`--count`).
    pub rows_in_table: Option<i64>,
    /// The first mismatched rows: their key and what differs.
    pub examples: Vec<Example>,
}

#[derive(Debug, Serialize)]
pub struct Example {
    pub key: String,
    pub mismatches: Vec<Mismatch>,
}

const EXAMPLES: usize = 5;

pub fn run(
    args: &VerifyArgs,
    mut settings: Settings,
    runtime: tokio::runtime::Runtime,
) -> Result<()> {
    runtime.block_on(target::prepare_cluster(&mut settings))?;
    let verified = runtime.block_on(verify(
        &settings,
        if args.all { 0 } else { args.sample },
        args.count,
    ))?;
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&verified)?;
        if path.as_os_str() == "-" {
            say!("{text}");
        } else {
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    print(&verified);
    if verified.rows_mismatched > 0 {
        anyhow::bail!(
            "{} of {} rows read back differ from what their keys make",
            verified.rows_mismatched,
            verified.rows_checked
        );
    }
    Ok(())
}

/// Reads up to `sample` rows (0 = all) and checks each.
pub async fn verify(settings: &Settings, sample: u64, count: bool) -> Result<Verified> {
    let session = cluster::connect(settings).await?;
    let profile = &settings.profile;
    let cluster = &settings.cluster;
    let checker = if profile.is_default() {
        Checker::Default
    } else {
        Checker::Rows(cluster::rows_of(&session, profile)?)
    };
    let mut cql = checker.select_cql(settings);
    if sample > 0 {
        cql.push_str(&format!(" LIMIT {sample}"));
    }
    let mut statement = cluster::admin(cql.clone());
    statement.set_page_size(2_000);
    let mut stream = session
        .query_iter(statement, &[])
        .await
        .with_context(|| format!("reading back `{cql}`"))?
        .rows_stream::<Row>()
        .context("reading the rows' columns")?;
    let mut verified = Verified {
        workload: profile.label(),
        table: format!("{}.{}", cluster.keyspace, cluster.table),
        rows_checked: 0,
        rows_mismatched: 0,
        rows_in_table: None,
        examples: vec![],
    };
    while let Some(row) = stream.next().await {
        let row = row.context("reading a row back")?;
        verified.rows_checked += 1;
        let (key, mismatches) = checker.check(&row.columns);
        if !mismatches.is_empty() {
            verified.rows_mismatched += 1;
            if verified.examples.len() < EXAMPLES {
                verified.examples.push(Example { key, mismatches });
            }
        }
    }
    if count {
        verified.rows_in_table = Some(cluster::count_rows(&session, cluster).await?);
    }
    Ok(verified)
}

/// What a row read back is checked against: casstop's own table or a profile's.
enum Checker {
    Default,
    Rows(crate::workload::rows::Rows),
}

impl Checker {
    fn select_cql(&self, settings: &Settings) -> String {
        match self {
            Checker::Default => format!(
                "SELECT key, payload FROM {}.{}",
                settings.cluster.keyspace, settings.cluster.table
            ),
            Checker::Rows(rows) => rows.select_cql(),
        }
    }

    /// The row's key, described, and what in it differs.
    fn check(&self, row: &[Option<CqlValue>]) -> (String, Vec<Mismatch>) {
        match self {
            Checker::Default => check_default(row),
            Checker::Rows(rows) => (rows.describe_key(row), rows.check(row)),
        }
    }
}

/// casstop's own table: each payload is the fixed bytes of its length.
fn check_default(row: &[Option<CqlValue>]) -> (String, Vec<Mismatch>) {
    let key = match row.first() {
        Some(Some(CqlValue::BigInt(key))) => format!("key={key}"),
        other => format!("key={other:?}"),
    };
    let mismatch = match row.get(1) {
        Some(Some(CqlValue::Blob(bytes))) => {
            let expected = crate::engine::workload::payload(bytes.len());
            (bytes[..] != expected[..]).then(|| Mismatch {
                column: "payload".into(),
                expected: format!("casstop's {} bytes", bytes.len()),
                found: "other bytes".into(),
            })
        }
        _ => Some(Mismatch {
            column: "payload".into(),
            expected: "a blob".into(),
            found: "null (missing)".into(),
        }),
    };
    (key, mismatch.into_iter().collect())
}

fn print(verified: &Verified) {
    say!(
        "verify {} ({}): {} rows read back, {} differ{}",
        verified.table,
        verified.workload,
        verified.rows_checked,
        verified.rows_mismatched,
        verified
            .rows_in_table
            .map(|rows| format!("; the table holds {rows} rows"))
            .unwrap_or_default()
    );
    for example in &verified.examples {
        say!("  row {}", example.key);
        for mismatch in &example.mismatches {
            say!(
                "    {}: expected {}, found {}",
                mismatch.column,
                mismatch.expected,
                mismatch.found
            );
        }
    }
}
