//! Workload profiles against the real node: every shipped profile runs, reads back as its
//! generator made it and has the schema its CQL says; every CQL type round-trips through the
//! python driver's own decoder; statement kinds do on the node what they say; live changes of the
//! workload's knobs lose and double nothing; a profile casstop cannot honour is refused by line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use casstop::config::Settings;
use casstop::engine::Engine;
use casstop::knobs::Statement;
use scylla::value::{CqlValue, Row};
use serde_json::{Value, json};

use crate::common;

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/workloads")
        .join(name)
}

/// Settings as `casstop --workload FILE` resolves them: the profile's table, knob defaults.
fn profile_settings(file: &Path) -> Settings {
    common::node_pid();
    let env = [(
        "CASSTOP_WORKLOAD_FILE".to_string(),
        file.display().to_string(),
    )];
    let mut settings = casstop::config::load(None, &env, &[])
        .unwrap_or_else(|err| panic!("{}: {err}", file.display()))
        .settings;
    settings.knobs.interval = Duration::from_millis(250);
    settings.output.dir = common::runs_dir();
    settings
}

fn run(settings: &Settings) -> casstop::metrics::aggregate::RunTotals {
    Engine::start(settings, None)
        .expect("engine starts")
        .wait()
        .expect("run ends")
}

fn verify_all(settings: &Settings) -> casstop::commands::verify::Verified {
    let owned = settings.clone();
    common::with_session(settings, async move |_| {
        casstop::commands::verify::verify(&owned, 0, true).await
    })
}

/// Each column of the table as `system_schema` has it: name → (kind, type).
fn schema_of(settings: &Settings) -> BTreeMap<String, (String, String)> {
    let cluster = settings.cluster.clone();
    common::with_session(settings, async move |session| {
        let rows = session
            .query_unpaged(
                "SELECT column_name, kind, type FROM system_schema.columns \
                 WHERE keyspace_name = ? AND table_name = ?",
                (&cluster.keyspace, &cluster.table),
            )
            .await?
            .into_rows_result()?;
        let mut columns = BTreeMap::new();
        for row in rows.rows::<(String, String, String)>()? {
            let (name, kind, typ) = row?;
            columns.insert(name, (kind, typ));
        }
        Ok(columns)
    })
}

/// The columns a `CREATE TABLE` statement declares, read from its text (not from the node):
/// name → (kind as `system_schema` says it, type without spaces).
fn declared(cql: &str) -> BTreeMap<String, (String, String)> {
    let open = cql.find('(').expect("a column list");
    let mut depth = 0;
    let mut close = open;
    for (at, c) in cql[open..].char_indices() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            close = open + at;
            break;
        }
    }
    let body = &cql[open + 1..close];
    let mut parts = vec![String::new()];
    let mut depth = 0;
    for c in body.chars() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().unwrap().push(c);
    }
    let mut columns = BTreeMap::new();
    let mut partition: Vec<String> = vec![];
    let mut clustering: Vec<String> = vec![];
    for part in parts.iter().map(|p| p.trim()) {
        let lower = part.to_lowercase();
        if let Some(key) = lower.strip_prefix("primary key") {
            let key = key.trim().strip_prefix('(').expect("PRIMARY KEY (");
            let key = &key[..key.len() - 1];
            let (pk, ck) = match key.trim().strip_prefix('(') {
                Some(rest) => {
                    let (pk, ck) = rest.split_once(')').unwrap();
                    (
                        pk.to_string(),
                        ck.trim_start_matches([',', ' ']).to_string(),
                    )
                }
                None => match key.split_once(',') {
                    Some((pk, ck)) => (pk.to_string(), ck.to_string()),
                    None => (key.to_string(), String::new()),
                },
            };
            let names = |list: &str| -> Vec<String> {
                list.split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect()
            };
            partition = names(&pk);
            clustering = names(&ck);
            continue;
        }
        let (name, rest) = part.split_once(char::is_whitespace).unwrap();
        let mut typ = rest.trim().to_string();
        let mut kind = "regular";
        for (suffix, is) in [(" static", "static"), (" primary key", "partition_key")] {
            if typ.to_lowercase().ends_with(suffix) {
                typ.truncate(typ.len() - suffix.len());
                kind = is;
                if is == "partition_key" {
                    partition = vec![name.to_string()];
                }
            }
        }
        let mut typ: String = typ.to_lowercase().split_whitespace().collect();
        // A tuple is always frozen: the node says so.
        if typ.starts_with("tuple<") {
            typ = format!("frozen<{typ}>");
        }
        columns.insert(name.to_string(), (kind.to_string(), typ));
    }
    for (names, kind) in [(partition, "partition_key"), (clustering, "clustering")] {
        for name in names {
            columns.get_mut(&name).expect("a key column is declared").0 = kind.into();
        }
    }
    columns
}

#[test]
fn every_shipped_profile_runs_reads_back_as_generated_and_has_its_declared_schema() {
    let _load = common::loading();
    let files: Vec<String> = std::fs::read_dir(shipped(""))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 6, "six shipped profiles: {files:?}");
    for file in files {
        let mut settings = profile_settings(&shipped(&file));
        settings.knobs.ops = 1_500;
        common::fresh_table(&settings);
        let totals = run(&settings).totals;
        assert_eq!(totals.errors.total(), 0, "{file}: {}", totals.errors);
        assert_eq!(totals.ok, 1_500, "{file}");
        assert_eq!(
            totals.ok_rows,
            1_500 * u64::from(settings.knobs.rows_per_request),
            "{file}"
        );

        let verified = verify_all(&settings);
        let rows = verified.rows_in_table.expect("counted") as u64;
        assert_eq!(
            verified.rows_mismatched, 0,
            "{file}: {:#?}",
            verified.examples
        );
        assert_eq!(verified.rows_checked, rows, "{file}: every row read back");
        match file.as_str() {
            // Partitions drawn from a uniform population meet now and then: their rows are
            // written again, never more rows than writes.
            "stress-blogposts.yaml" | "counters.toml" => {
                assert!(
                    rows <= totals.ok_rows && rows * 10 >= totals.ok_rows * 9,
                    "{file}: {rows} rows"
                )
            }
            // Every key distinct (a sequence, or the default one number per write): exact.
            _ => assert_eq!(rows, totals.ok_rows, "{file}: rows == ok rows"),
        }

        if file == "counters.toml" {
            // Each write adds 1 to `views` of its row: their sum is the rows written, exactly.
            assert_eq!(sum_of(&settings, "views"), totals.ok_rows as i64, "{file}");
        }

        let on_node: BTreeMap<String, (String, String)> = schema_of(&settings)
            .into_iter()
            .map(|(name, (kind, typ))| (name, (kind, typ.split_whitespace().collect())))
            .collect();
        let expected = declared(&settings.profile.table_cql);
        assert_eq!(
            on_node, expected,
            "{file}: the table on the node is the profile's"
        );
    }
}

fn sum_of(settings: &Settings, column: &str) -> i64 {
    let cql = format!(
        "SELECT sum({column}) FROM {}.{}",
        settings.cluster.keyspace, settings.cluster.table
    );
    common::with_session(settings, async move |session| {
        let rows = session.query_unpaged(cql, &[]).await?.into_rows_result()?;
        let (sum,): (scylla::value::Counter,) = rows.single_row()?;
        Ok(sum.0)
    })
}

/// A profile of every CQL type the node has (but counter, which a table holds only with keys),
/// in keys, statics, collections, a tuple, a UDT and a vector; text with the characters a literal
/// must escape.
fn every_type_profile(table: &str) -> String {
    format!(
        r#"keyspace = "casstop_test"
table = "{table}"
types = ["CREATE TYPE point (x int, label text, at frozen<tuple<double, date>>)"]
table_definition = """
CREATE TABLE {table} (
  k_text text, k_int int, c_date date, c_uuid uuid,
  s_set set<int> STATIC,
  v_ascii ascii, v_bigint bigint, v_blob blob, v_boolean boolean, v_decimal decimal,
  v_double double, v_duration duration, v_float float, v_inet inet, v_int int,
  v_smallint smallint, v_text text, v_time time, v_timestamp timestamp, v_timeuuid timeuuid,
  v_tinyint tinyint, v_uuid uuid, v_varint varint,
  v_list list<text>, v_set set<uuid>, v_map map<int, text>,
  v_frozen frozen<list<frozen<set<int>>>>, v_tuple tuple<int, text, blob>,
  v_udt frozen<point>, v_vector vector<float, 3>,
  PRIMARY KEY ((k_text, k_int), c_date, c_uuid)
)
"""

[columns.c_date]
cluster = "fixed(3)"

[columns.c_uuid]
cluster = "fixed(2)"

[columns.v_text]
size = "uniform(0..30)"
alphabet = "aZ9 é漢🦀'\"?;\\%"
"#
    )
}

/// A value as the python script writes it (see tests/it/python/read_back.py).
fn canon(value: &CqlValue) -> Value {
    let int = |n: i128| json!({ "int": n.to_string() });
    let signed = |bytes: &[u8]| {
        let mut n: i128 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
            -1
        } else {
            0
        };
        for b in bytes {
            n = (n << 8) | i128::from(*b);
        }
        n
    };
    let all = |values: &[CqlValue]| values.iter().map(canon).collect::<Vec<_>>();
    match value {
        CqlValue::Ascii(s) | CqlValue::Text(s) => json!({ "text": s }),
        CqlValue::Inet(ip) => json!({ "text": ip.to_string() }),
        CqlValue::Boolean(b) => json!({ "boolean": b }),
        CqlValue::Blob(bytes) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            json!({ "blob": hex })
        }
        CqlValue::TinyInt(n) => int(i128::from(*n)),
        CqlValue::SmallInt(n) => int(i128::from(*n)),
        CqlValue::Int(n) => int(i128::from(*n)),
        CqlValue::BigInt(n) => int(i128::from(*n)),
        CqlValue::Counter(c) => int(i128::from(c.0)),
        CqlValue::Varint(v) => int(signed(v.as_signed_bytes_be_slice())),
        CqlValue::Decimal(d) => {
            let (bytes, scale) = d.as_signed_be_bytes_slice_and_exponent();
            json!({ "decimal": [signed(bytes).to_string(), scale] })
        }
        // The bits, exactly: a decimal form would be read back rounded.
        CqlValue::Float(f) => json!({ "float": format!("{:016x}", f64::from(*f).to_bits()) }),
        CqlValue::Double(f) => json!({ "float": format!("{:016x}", f.to_bits()) }),
        CqlValue::Date(d) => json!({ "date": i64::from(d.0) - (1i64 << 31) }),
        CqlValue::Time(t) => json!({ "time": t.0 }),
        CqlValue::Timestamp(t) => json!({ "timestamp": t.0 }),
        CqlValue::Duration(d) => json!({ "duration": [d.months, d.days, d.nanoseconds] }),
        CqlValue::Uuid(u) => json!({ "uuid": u.to_string() }),
        CqlValue::Timeuuid(u) => json!({ "uuid": u.to_string() }),
        CqlValue::List(v) | CqlValue::Vector(v) => json!({ "list": all(v) }),
        CqlValue::Set(v) => json!({ "set": all(v) }),
        CqlValue::Map(pairs) => json!({
            "map": pairs.iter().map(|(k, v)| json!([canon(k), canon(v)])).collect::<Vec<_>>()
        }),
        CqlValue::Tuple(v) => json!({
            "tuple": v.iter().map(|v| v.as_ref().map_or(Value::Null, canon)).collect::<Vec<_>>()
        }),
        CqlValue::UserDefinedType { fields, .. } => json!({
            "udt": fields
                .iter()
                .map(|(name, v)| (name.clone(), v.as_ref().map_or(Value::Null, canon)))
                .collect::<serde_json::Map<_, _>>()
        }),
        other => panic!("no canonical form for {other:?}"),
    }
}

/// Sets and maps in one order, whichever driver listed them.
fn normalize(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(normalize),
        Value::Object(map) => {
            map.values_mut().for_each(normalize);
            for kind in ["set", "map"] {
                if let Some(Value::Array(items)) = map.get_mut(kind) {
                    items.sort_by_key(|item| item.to_string());
                }
            }
        }
        _ => {}
    }
}

/// The rows of the profile's table as the generator says they must be, keyed by their key:
/// the keys as the Rust driver read them, every other value from the generator.
fn generated(settings: &Settings) -> BTreeMap<String, BTreeMap<String, Value>> {
    let profile = settings.profile.clone();
    common::with_session(settings, async move |session| {
        use futures::StreamExt;
        let rows = casstop::cluster::rows_of(session, &profile)?;
        let keys = rows.key_count(casstop::workload::rows::Role::Partition)
            + rows.key_count(casstop::workload::rows::Role::Clustering);
        let mut stream = session
            .query_iter(rows.select_cql(), &[])
            .await?
            .rows_stream::<Row>()?;
        let mut all = BTreeMap::new();
        while let Some(row) = stream.next().await {
            let row = row?;
            let key_values: Vec<CqlValue> = row.columns[..keys]
                .iter()
                .map(|v| v.clone().unwrap())
                .collect();
            let mut values: BTreeMap<String, Value> = BTreeMap::new();
            for (column, value) in rows.columns.iter().zip(&key_values) {
                values.insert(column.name.clone(), canon(value));
            }
            for (i, value) in rows.expected(&key_values) {
                values.insert(rows.columns[i].name.clone(), canon(&value));
            }
            let key: Vec<&Value> = rows.columns[..keys]
                .iter()
                .map(|c| &values[&c.name])
                .collect();
            let key = serde_json::to_string(&key)?;
            values.values_mut().for_each(normalize);
            all.insert(key, values);
        }
        Ok(all)
    })
}

/// The rows as the python driver reads them, keyed like [`generated`]'s.
fn read_by_python(
    settings: &Settings,
    key_columns: &[String],
) -> BTreeMap<String, BTreeMap<String, Value>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/python/read_back.py");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .args(["127.0.0.1", "9042"])
        .arg(&settings.cluster.keyspace)
        .arg(&settings.cluster.table)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the python driver reads the table back (CI installs cassandra-driver): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut all = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let mut values: BTreeMap<String, Value> = serde_json::from_str(line).unwrap();
        let key: Vec<&Value> = key_columns.iter().map(|c| &values[c]).collect();
        let key = serde_json::to_string(&key).unwrap();
        values.values_mut().for_each(normalize);
        all.insert(key, values);
    }
    all
}

#[test]
fn every_cql_type_written_by_casstop_reads_back_equal_through_the_python_driver() {
    let _load = common::loading();
    let dir = tempfile::tempdir().unwrap();
    for statement in [
        Statement::Prepared,
        Statement::Unprepared,
        Statement::Literal,
    ] {
        let table = format!("every_type_{statement}");
        let file = dir.path().join(format!("{table}.toml"));
        std::fs::write(&file, every_type_profile(&table)).unwrap();
        let mut settings = profile_settings(&file);
        settings.knobs.statement = statement;
        settings.knobs.ops = 240;
        common::fresh_table(&settings);
        let totals = run(&settings).totals;
        assert_eq!(
            (totals.ok, totals.errors.total()),
            (240, 0),
            "{statement}: {}",
            totals.errors
        );

        let generated = generated(&settings);
        assert_eq!(generated.len(), 240, "{statement}: one row per write");
        let key_columns: Vec<String> = ["k_text", "k_int", "c_date", "c_uuid"]
            .map(String::from)
            .into();
        let read = read_by_python(&settings, &key_columns);
        assert_eq!(read.len(), 240, "{statement}: python reads every row");
        let columns: BTreeSet<&String> = generated.values().next().unwrap().keys().collect();
        assert_eq!(columns.len(), 30, "{statement}: every column compared");
        for (key, expected) in &generated {
            let found = read
                .get(key)
                .unwrap_or_else(|| panic!("{statement}: python finds no row {key}"));
            for (column, value) in expected {
                assert_eq!(
                    found.get(column),
                    Some(value),
                    "{statement}: row {key}, column {column}"
                );
            }
        }
    }
}

/// `casstop bench --workload FILE` with a profile it cannot honour: exit 2, before any
/// connection, one line naming the file, the line and the key.
#[test]
fn a_profile_casstop_cannot_honour_is_refused_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let stress = std::fs::read_to_string(shipped("stress-blogposts.yaml")).unwrap();
    let cases = [
        (
            "visits.yaml",
            stress.replace(
                "  partitions: fixed(1)\n",
                "  partitions: fixed(1)\n  visits: fixed(10)\n",
            ),
            "insert.visits",
            "visits: fixed(10)",
        ),
        (
            "token.yaml",
            format!("{stress}\ntoken_range_queries:\n  all_columns_tr_query:\n    columns: '*'\n"),
            "token_range_queries",
            "token_range_queries:",
        ),
        (
            "dist.yaml",
            stress.replace("size: gaussian(10..200)", "size: poisson(10..200)"),
            "columnspec.title.size",
            "size: poisson(10..200)",
        ),
        (
            "unknown.toml",
            std::fs::read_to_string(shipped("vector.toml"))
                .unwrap()
                .replace("[columns.doc]", "[colums.doc]"),
            "colums",
            "[colums.doc]",
        ),
    ];
    for (name, text, key, line_text) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, &text).unwrap();
        let line = 1 + text
            .lines()
            .position(|l| l.trim() == line_text)
            .unwrap_or_else(|| panic!("{name}: the case has its line"));
        let output = common::casstop()
            .args([
                "bench",
                "--duration",
                "1s",
                "--hosts",
                "127.0.0.1:1",
                "--workload",
            ])
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{name}: one line: {stderr}"
        );
        let culprit = format!("{}:{line}: {key}:", file.display());
        assert!(
            stderr.contains(&culprit),
            "{name}: names `{culprit}`: {stderr}"
        );
    }
}

/// A table with clustering rows (so `batch_spread = partition` has partitions to fill), its key a
/// text and an int, a value of each of three kinds.
const SWITCH_PROFILE: &str = r#"keyspace = "casstop_test"
table = "workload_switch"
table_definition = """
CREATE TABLE workload_switch (k text, c int, v text, n bigint, m map<int, text>, PRIMARY KEY (k, c))
"""

[columns.c]
cluster = "fixed(40)"
"#;

#[test]
fn switching_statement_batch_type_spread_and_rows_live_loses_and_doubles_nothing() {
    use casstop::knobs::{self, BatchSpread, BatchType, KnobChange};
    let _load = common::loading();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("switch.toml");
    std::fs::write(&file, SWITCH_PROFILE).unwrap();
    let mut settings = profile_settings(&file);
    settings.knobs.depth = 16;
    // Reads beside: each must find its row through the layout that wrote it.
    settings.knobs.mix = "insert=3,read=1".parse().unwrap();
    common::fresh_table(&settings);
    let engine = Engine::start(&settings, None).expect("engine starts");
    let changes = [
        KnobChange::new(&knobs::STATEMENT, Statement::Literal),
        KnobChange::new(&knobs::ROWS_PER_REQUEST, 7),
        KnobChange::new(&knobs::BATCH_SPREAD, BatchSpread::Partition),
        KnobChange::new(&knobs::STATEMENT, Statement::Unprepared),
        KnobChange::new(&knobs::BATCH_TYPE, BatchType::Logged),
        KnobChange::new(&knobs::STATEMENT, Statement::Prepared),
        KnobChange::new(&knobs::BATCH_SPREAD, BatchSpread::Scatter),
        KnobChange::new(&knobs::ROWS_PER_REQUEST, 1),
        KnobChange::new(&knobs::STATEMENT, Statement::Literal),
        KnobChange::new(&knobs::ROWS_PER_REQUEST, 40),
        KnobChange::new(&knobs::BATCH_SPREAD, BatchSpread::Partition),
        KnobChange::new(&knobs::STATEMENT, Statement::Prepared),
    ];
    for change in changes {
        engine
            .change(change)
            .unwrap_or_else(|e| panic!("{change}: {e}"));
        std::thread::sleep(Duration::from_millis(400));
    }
    let totals = engine.stop().expect("run ends");
    let t = &totals.totals;
    assert_eq!(t.errors.total(), 0, "{}", t.errors);
    let [read] = t.reads.as_slice() else {
        panic!("one read operation: {:?}", t.reads);
    };
    assert_eq!(read.errors, 0);
    assert!(read.ok > 100, "{read:?}");
    assert_eq!(
        t.issued,
        t.ok + read.ok,
        "every issued request is counted once"
    );
    assert_eq!(
        read.rows, read.ok,
        "every read found its row, whichever layout wrote it"
    );
    assert!(
        t.ok_rows > t.ok,
        "batches ran: {} requests, {} rows",
        t.ok,
        t.ok_rows
    );
    let verified = verify_all(&settings);
    assert_eq!(verified.rows_mismatched, 0, "{:#?}", verified.examples);
    assert_eq!(
        verified.rows_in_table,
        Some(t.ok_rows as i64),
        "rows == ok rows: no row written twice, none lost, across every change"
    );
}

/// The node's own count of statements executed, by kind (`system_views.cql_metrics`).
fn executed(settings: &Settings) -> (f64, f64) {
    common::with_session(settings, async move |session| {
        let rows = session
            .query_unpaged("SELECT name, value FROM system_views.cql_metrics", &[])
            .await?
            .into_rows_result()?;
        let (mut prepared, mut regular) = (0.0, 0.0);
        for row in rows.rows::<(String, f64)>()? {
            match row? {
                (name, value) if name == "prepared_statements_executed" => prepared = value,
                (name, value) if name == "regular_statements_executed" => regular = value,
                _ => {}
            }
        }
        Ok((prepared, regular))
    })
}

/// What the node saw of each statement kind: `prepared` EXECUTEs, `literal` sends QUERYs whose
/// text holds the values (the node has no prepared statement with any of them), and
/// `unprepared` — the Rust driver must prepare a statement with bound values to serialise them —
/// reaches the node as EXECUTEs too, as the knob's help says.
#[test]
fn statement_kinds_reach_the_node_as_executes_or_as_queries_with_the_values_inlined() {
    // Alone: the node's counters are the whole node's.
    let _alone = common::measuring();
    let dir = tempfile::tempdir().unwrap();
    let writes = 2_000u64;
    for (statement, prepared_per_write, regular_per_write) in [
        (Statement::Prepared, 1, 0),
        (Statement::Literal, 0, 1),
        (Statement::Unprepared, 1, 0),
    ] {
        let table = format!("kind_{statement}");
        let file = dir.path().join(format!("{table}.toml"));
        std::fs::write(
            &file,
            format!(
                "keyspace = \"casstop_test\"\ntable = \"{table}\"\ntable_definition = \
                 \"CREATE TABLE {table} (thekey text PRIMARY KEY, col0 text, col1 int)\"\n"
            ),
        )
        .unwrap();
        let mut settings = profile_settings(&file);
        settings.knobs.statement = statement;
        settings.knobs.ops = writes;
        common::fresh_table(&settings);
        let before = executed(&settings);
        let totals = run(&settings).totals;
        let after = executed(&settings);
        assert_eq!(totals.ok, writes, "{statement}");
        let prepared = (after.0 - before.0) as u64;
        let regular = (after.1 - before.1) as u64;
        // Each count within 5 % of what the kind sends, plus the few statements of connecting.
        for (what, seen, per_write) in [
            ("EXECUTEs", prepared, prepared_per_write),
            ("QUERYs", regular, regular_per_write),
        ] {
            let want = writes * per_write;
            assert!(
                seen >= want && seen <= want + writes / 20 + 50,
                "{statement}: {seen} {what} for {writes} writes, want {want}"
            );
        }
        // No statement the node prepared for this table holds a value: each has markers only.
        let cluster = settings.cluster.clone();
        let texts: Vec<String> = common::with_session(&settings, async move |session| {
            let rows = session
                .query_unpaged("SELECT query_string FROM system.prepared_statements", &[])
                .await?
                .into_rows_result()?;
            Ok(rows
                .rows::<(Option<String>,)>()?
                .filter_map(|row| row.ok().and_then(|(text,)| text))
                .filter(|text| text.contains(&format!("{}.{}", cluster.keyspace, cluster.table)))
                .collect())
        });
        assert!(
            !texts.is_empty(),
            "{statement}: the write was prepared once at the start"
        );
        for text in texts {
            assert!(
                !text.contains('\''),
                "{statement}: a prepared text holds a value: {text}"
            );
        }
    }
}

/// What the node says it served of `settings`' table: (reads, writes) it coordinated.
fn coordinated(settings: &Settings) -> (i64, i64) {
    let (keyspace, table) = (
        settings.cluster.keyspace.clone(),
        settings.cluster.table.clone(),
    );
    common::with_session(settings, async move |session| {
        let mut counts = vec![];
        for view in ["coordinator_read_latency", "coordinator_write_latency"] {
            let text = format!(
                "SELECT count FROM system_views.{view} WHERE keyspace_name = '{keyspace}' AND table_name = '{table}'"
            );
            let rows = session.query_unpaged(text, &[]).await?.into_rows_result()?;
            counts.push(rows.first_row::<(i64,)>().map(|(c,)| c).unwrap_or(0));
        }
        Ok((counts[0], counts[1]))
    })
}

#[test]
fn a_mix_changed_live_reads_what_was_written_and_counts_each_operation_once() {
    use casstop::knobs::{self, KnobChange, Mix};
    let _load = common::loading();
    let mut settings = common::settings("mix_live");
    settings.knobs.depth = 16;
    common::fresh_table(&settings);
    // The node's counters live as long as the table, across TRUNCATEs and earlier runs.
    let (reads_before, writes_before) = coordinated(&settings);
    let engine = Engine::start(&settings, None).expect("engine starts");
    assert_eq!(engine.info.ops, ["insert", "read"]);
    // A name the workload lacks changes nothing and says what it has.
    let err = engine
        .change(KnobChange::new(
            &knobs::MIX,
            "insert=1,read9=1".parse::<Mix>().unwrap(),
        ))
        .unwrap_err();
    assert!(
        err.contains("`read9`") && err.contains("insert, read"),
        "{err}"
    );
    assert_eq!(engine.knobs().mix, Mix::writes_only());
    for mix in ["insert=1,read=1", "read", "insert=3,read=1", "insert"] {
        std::thread::sleep(Duration::from_millis(700));
        engine
            .change(KnobChange::new(&knobs::MIX, mix.parse::<Mix>().unwrap()))
            .unwrap_or_else(|e| panic!("{mix}: {e}"));
    }
    std::thread::sleep(Duration::from_millis(500));
    let totals = engine.stop().expect("run ends");
    let t = &totals.totals;
    let [read] = t.reads.as_slice() else {
        panic!("one read operation: {:?}", t.reads);
    };
    assert_eq!(read.op, "read");
    assert_eq!(t.errors.total() + read.errors, 0, "{}", t.errors);
    assert!(
        read.ok > 100 && t.ok > 100,
        "{} reads, {} writes",
        read.ok,
        t.ok
    );
    assert_eq!(
        t.issued,
        t.ok + read.ok,
        "every request is counted once, as a write or as a read"
    );
    // Each read asked for a row an acknowledged write left: each found it.
    assert_eq!(read.rows, read.ok);
    // The writes stay the headline: rows == ok rows, reads counted by the node as reads.
    assert_eq!(common::count_rows(&settings), t.ok_rows as i64);
    let (reads_after, writes_after) = coordinated(&settings);
    assert_eq!(
        writes_after - writes_before,
        t.ok as i64,
        "the node's coordinated writes"
    );
    assert_eq!(
        reads_after - reads_before,
        read.ok as i64,
        "the node's coordinated reads"
    );
    // The intervals under `read` alone wrote nothing.
    assert!(
        totals
            .history
            .iter()
            .any(|i| i.ok == 0 && i.reads.iter().any(|r| r.ok > 0)),
        "no read-only interval"
    );
}

#[test]
fn a_profiles_query_runs_under_its_name_and_finds_the_rows_it_wrote() {
    let _load = common::loading();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("mix.json");
    let output = common::casstop()
        .args(["bench", "--ops", "600", "--depth", "8", "--quiet"])
        .args([
            "--workload",
            shipped("stress-blogposts.yaml").to_str().unwrap(),
        ])
        .args(["--mix", "ops(insert=1,singlepost=1)"])
        .args(["--json", json.to_str().unwrap()])
        .env("CASSTOP_OUTPUT_DIR", dir.path())
        .output()
        .expect("casstop runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(result["mix"], "insert=1,singlepost=1");
    let reads = result["reads"].as_array().expect("a reads section");
    let single = reads
        .iter()
        .find(|r| r["op"] == "singlepost")
        .unwrap_or_else(|| panic!("{reads:?}"));
    let ok = single["ok"].as_u64().unwrap();
    assert_eq!(ok + result["ok"].as_u64().unwrap(), 600, "{result}");
    assert!(ok >= 250, "about half of 600: {single}");
    // `LIMIT 1` of a partition a write made: one row each.
    assert_eq!(single["rows"], ok, "{single}");
    assert!(text.contains("read singlepost"), "{text}");
    // The recording keeps the read apart: its own HDR tag, every read in its histograms, and
    // the report's table, timeline and percentile curves name it.
    let run = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("latency.hlog").exists())
        .expect("a run directory");
    let hlog = casstop::record::hlog::read(&std::fs::read(run.join("latency.hlog")).unwrap())
        .expect("the HDR log reads back");
    let read_series = casstop::record::hlog::Series::Read {
        op: "singlepost".into(),
        response: false,
    };
    let logged: u64 = hlog
        .histograms
        .iter()
        .filter(|h| h.series == read_series)
        .map(|h| h.histogram.len())
        .sum();
    assert_eq!(logged, ok, "each read in the log, under `read:singlepost`");
    let writes_logged: u64 = hlog
        .histograms
        .iter()
        .filter(|h| h.series == casstop::record::hlog::Series::Service)
        .map(|h| h.histogram.len())
        .sum();
    assert_eq!(
        writes_logged,
        result["ok"].as_u64().unwrap(),
        "the writes' log holds no read"
    );
    let out = dir.path().join("report");
    casstop::report::write_report(std::slice::from_ref(&run), &out).expect("the report is written");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Reads in the mix"), "{md}");
    let row = md
        .lines()
        .find(|l| l.contains("| singlepost |"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(
        row.contains(&format!("| singlepost | {ok} | 0 | {ok} |")),
        "{row}"
    );
    let timeline = std::fs::read_to_string(out.join("timeline.svg")).unwrap();
    assert!(timeline.contains("singlepost/s") && timeline.contains("singlepost p99"));
    let percentiles = std::fs::read_to_string(out.join("percentiles.svg")).unwrap();
    assert!(percentiles.contains("singlepost service time"));
    // A mix naming a query the profile lacks is refused before anything runs.
    let refused = common::casstop()
        .args(["bench", "--ops", "10", "--quiet"])
        .args([
            "--workload",
            shipped("stress-blogposts.yaml").to_str().unwrap(),
        ])
        .args(["--mix", "insert=1,read1=3"])
        .env("CASSTOP_OUTPUT_DIR", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`read1`") && err.contains("singlepost"),
        "{err}"
    );
}

/// Two queries that name a row by its key and one of its values: from one row (`samerow`) they
/// match it; from a row per marker (`multirow`) the value is another row's, so mostly not.
const MULTIROW_PROFILE: &str = r#"keyspace = "casstop_test"
table = "workload_multirow"
table_definition = """
CREATE TABLE workload_multirow (k bigint, c int, v text, PRIMARY KEY (k, c))
"""

[columns.c]
cluster = "fixed(40)"

[queries.same]
cql = "SELECT * FROM workload_multirow WHERE k = ? AND c = ? AND v = ? ALLOW FILTERING"
fields = "samerow"

[queries.multi]
cql = "SELECT * FROM workload_multirow WHERE k = ? AND c = ? AND v = ? ALLOW FILTERING"
fields = "multirow"
"#;

#[test]
fn a_multirow_query_binds_each_marker_from_its_own_row_of_the_partition() {
    let _load = common::loading();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("multirow.toml");
    std::fs::write(&file, MULTIROW_PROFILE).unwrap();
    let mut settings = profile_settings(&file);
    settings.knobs.depth = 16;
    settings.knobs.mix = "insert=2,same=1,multi=1".parse().unwrap();
    settings.knobs.ops = 6_000;
    common::fresh_table(&settings);
    let totals = run(&settings);
    let t = &totals.totals;
    let read = |op: &str| {
        t.reads
            .iter()
            .find(|r| r.op == op)
            .unwrap_or_else(|| panic!("{op}: {:?}", t.reads))
            .clone()
    };
    let (same, multi) = (read("same"), read("multi"));
    assert_eq!(same.errors + multi.errors + t.errors.total(), 0);
    assert!(same.ok > 500 && multi.ok > 500, "{same:?} {multi:?}");
    assert_eq!(same.rows, same.ok, "one row's key and value: each finds it");
    // Each marker from its own row: `k` is the partition's, `c` and `v` of two rows drawn apart,
    // alike only when the draws meet (about one in the rows before the read's).
    assert!(
        multi.rows * 2 < multi.ok,
        "{} of {} multirow reads matched a row",
        multi.rows,
        multi.ok
    );
}
