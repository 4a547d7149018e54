//! Authentication and TLS against a real second node: one Apache Cassandra 5.0 node of our own
//! (never the shared one on 9042) started through `casstop local up --auth --tls`'s code path, on
//! its own ports and data directory, driven by the real binary. Each refusal is one line naming
//! the culprit, exit code 2.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use casstop::config::{LocalSettings, Secret, Settings};
use casstop::local::{LocalNode, NodeOptions, Progress};

/// Ports no other test binary uses (the shared node has 9042/7000, the fault tests 9342/7342).
const CQL_PORT: u16 = 9442;
const STORAGE_PORT: u16 = 7442;
const TESTER: &str = "casstop_tester";
const KEYSPACE: &str = "casstop_test";

/// The tests below that use the node; the last one to finish stops it. A filtered run leaves it
/// running, and the next run reuses it.
const NODE_TESTS: usize = 8;
static FINISHED: AtomicUsize = AtomicUsize::new(0);

struct SecureNode {
    local: LocalSettings,
    address: String,
    ca_file: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    /// A password made for this run, so finding it anywhere it must not be is unambiguous.
    password: String,
}

struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _line: &str) {}
    fn finish(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

fn local_settings() -> LocalSettings {
    LocalSettings {
        data_dir: Path::new(env!("CARGO_TARGET_TMPDIR")).join("security-node"),
        cql_port: CQL_PORT,
        storage_port: STORAGE_PORT,
        auth: true,
        tls: true,
        ..Settings::default().local
    }
}

/// Counts a finished node test when dropped (also when the test panics); the last stops the node.
struct Finish;

impl Drop for Finish {
    fn drop(&mut self) {
        if FINISHED.fetch_add(1, Ordering::SeqCst) + 1 == NODE_TESTS {
            match LocalNode::new(&local_settings()).down() {
                Ok(pid) => eprintln!("security node stopped ({pid:?})"),
                Err(err) => eprintln!("security node did not stop: {err:#}"),
            }
        }
    }
}

/// The auth + TLS node, started (or reused) once per test binary, with a superuser role whose
/// password is new for this run.
fn secure_node() -> (&'static SecureNode, Finish) {
    static NODE: OnceLock<SecureNode> = OnceLock::new();
    let node = NODE.get_or_init(|| {
        let local = local_settings();
        let settings = Settings {
            local: local.clone(),
            ..Settings::default()
        };
        let node = LocalNode::new(&local);
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let report = runtime
            .block_on(node.up(&settings, &mut Quiet))
            .unwrap_or_else(|err| panic!("the auth + TLS node did not come up: {err:#}"));
        assert_eq!(
            report.options,
            NodeOptions {
                auth: true,
                tls: true
            }
        );
        let certificates = node.certificates();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let password = format!("pw{}x{nanos}", std::process::id());
        let admin = node.client_settings(&settings, report.options);
        // Create the role, or give it this run's password when an earlier run made it (Cassandra
        // refuses a second password change within 5 s, so never both).
        let role_password = password.clone();
        common::with_session(&admin, async move |session| {
            let existing = session
                .query_unpaged(
                    "SELECT role FROM system_auth.roles WHERE role = ?",
                    (TESTER,),
                )
                .await?
                .into_rows_result()?
                .rows_num();
            let verb = if existing == 0 { "CREATE" } else { "ALTER" };
            let statement = format!(
                "{verb} ROLE {TESTER} WITH PASSWORD = '{role_password}' AND LOGIN = true AND \
                 SUPERUSER = true"
            );
            session.query_unpaged(statement, &[]).await?;
            Ok(())
        });
        SecureNode {
            address: report.address.to_string(),
            ca_file: certificates.ca_file(),
            client_cert: certificates.client_cert_file(),
            client_key: certificates.client_key_file(),
            local,
            password,
        }
    });
    (node, Finish)
}

/// The binary with a clean environment: no inherited CASSTOP_* variables, logs into `state_dir`.
fn casstop(args: &[&str], env: &[(&str, &str)], state_dir: &Path) -> Output {
    let mut command = crate::common::casstop();
    for (var, _) in std::env::vars() {
        if var.starts_with("CASSTOP_") {
            command.env_remove(var);
        }
    }
    command
        .args(args)
        .env("XDG_STATE_HOME", state_dir)
        .env("CASSTOP_CLUSTER_KEYSPACE", KEYSPACE)
        .envs(env.iter().copied())
        .output()
        .expect("casstop runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts a refusal: exit code 2 and exactly one line on stderr containing every `expected`.
fn assert_refused(output: &Output, expected: &[&str]) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    for part in expected {
        assert!(stderr.contains(part), "`{part}` in: {stderr}");
    }
    stderr
}

fn tls_env(node: &SecureNode) -> Vec<(&'static str, String)> {
    vec![
        ("CASSTOP_TLS_ENABLED", "true".into()),
        ("CASSTOP_TLS_CA_FILE", node.ca_file.display().to_string()),
    ]
}

fn as_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn right_credentials_over_tls_write_rows_and_the_password_shows_nowhere() {
    let _load = crate::common::loading();
    let (node, _finish) = secure_node();
    let state = tempfile::tempdir().unwrap();
    let json = state.path().join("run.json");
    let mut env = tls_env(node);
    env.extend([
        ("CASSTOP_AUTH_USERNAME", TESTER.to_string()),
        ("CASSTOP_AUTH_PASSWORD", node.password.clone()),
        // The client certificate is optional; presenting one must not get in the way.
        (
            "CASSTOP_TLS_CERT_FILE",
            node.client_cert.display().to_string(),
        ),
        (
            "CASSTOP_TLS_KEY_FILE",
            node.client_key.display().to_string(),
        ),
        ("CASSTOP_CLUSTER_TABLE", "secure_writes".into()),
    ]);
    let output = casstop(
        &[
            "bench",
            "--hosts",
            &node.address,
            "--strategy",
            "callbacks",
            "--depth",
            "16",
            "--duration",
            "2s",
            "--truncate",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ],
        &as_refs(&env),
        state.path(),
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let ok_rows = result["ok_rows"].as_i64().unwrap();
    assert!(ok_rows > 0, "{result}");

    let mut settings = Settings::default();
    settings.cluster.hosts = vec![node.address.clone()];
    settings.cluster.keyspace = KEYSPACE.into();
    settings.cluster.table = "secure_writes".into();
    settings.auth.username = TESTER.into();
    settings.auth.password = Secret::new(node.password.clone());
    settings.tls.enabled = true;
    settings.tls.ca_file = node.ca_file.display().to_string();
    assert_eq!(common::count_rows(&settings), ok_rows, "every write landed");

    let log = std::fs::read_to_string(state.path().join("casstop").join("casstop.log"))
        .expect("the run wrote its log");
    assert!(log.contains("casstop starting"), "{log}");
    let help = casstop(&["bench", "--help"], &as_refs(&env), state.path());
    for (place, content) in [
        ("stdout", stdout),
        ("stderr", stderr),
        ("bench JSON", result.to_string()),
        ("log file", log),
        ("--help", text(&help.stdout)),
    ] {
        assert!(
            !content.contains(&node.password),
            "the password shows in {place}"
        );
    }
}

#[test]
fn a_client_of_casstops_own_node_that_sets_nothing_connects_the_way_it_was_started() {
    let _load = crate::common::loading();
    // The same node, known as casstop's local node: no TLS and no login are set, and the run
    // still writes, over TLS with the node's CA and as its default superuser, saying so once.
    let (node, _finish) = secure_node();
    let state = tempfile::tempdir().unwrap();
    let port = CQL_PORT.to_string();
    let storage_port = STORAGE_PORT.to_string();
    let data_dir = node.local.data_dir.display().to_string();
    let env = [
        ("CASSTOP_LOCAL_CQL_PORT", port.as_str()),
        ("CASSTOP_LOCAL_STORAGE_PORT", storage_port.as_str()),
        ("CASSTOP_LOCAL_DATA_DIR", data_dir.as_str()),
        ("CASSTOP_CLUSTER_TABLE", "secure_defaults"),
    ];
    let output = casstop(
        &["bench", "--hosts", &node.address, "--ops", "200", "--quiet"],
        &env,
        state.path(),
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("200 ok"), "{stdout}");
    let said: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("connecting to the local node"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].contains(&format!("over TLS with its CA {}", node.ca_file.display())),
        "{stderr}"
    );
    assert!(
        said[0].contains("default superuser `cassandra`"),
        "{stderr}"
    );
}

#[test]
fn wrong_password_is_refused_naming_the_user() {
    let _load = crate::common::loading();
    let (node, _finish) = secure_node();
    let state = tempfile::tempdir().unwrap();
    let mut env = tls_env(node);
    env.extend([
        ("CASSTOP_AUTH_USERNAME", TESTER.to_string()),
        ("CASSTOP_AUTH_PASSWORD", "not-the-password".to_string()),
    ]);
    let output = casstop(
        &["bench", "--hosts", &node.address, "--duration", "2s", "-q"],
        &as_refs(&env),
        state.path(),
    );
    let line = assert_refused(
        &output,
        &[
            &node.address,
            &format!("refused the login of user `{TESTER}`"),
            "auth.password",
        ],
    );
    assert!(!line.contains("not-the-password"), "{line}");
}

#[test]
fn no_credentials_against_an_auth_node_says_what_to_set() {
    let _load = crate::common::loading();
    let (node, _finish) = secure_node();
    let state = tempfile::tempdir().unwrap();
    let env = tls_env(node);
    let output = casstop(
        &["bench", "--hosts", &node.address, "--duration", "2s", "-q"],
        &as_refs(&env),
        state.path(),
    );
    assert_refused(
        &output,
        &[
            &node.address,
            "requires authentication",
            "auth.username",
            "CASSTOP_AUTH_PASSWORD",
        ],
    );
}

#[test]
fn plain_client_is_told_the_node_requires_tls() {
    let _load = crate::common::loading();
    let (node, _finish) = secure_node();
    let state = tempfile::tempdir().unwrap();
    let env = [
        ("CASSTOP_AUTH_USERNAME", TESTER),
        ("CASSTOP_AUTH_PASSWORD", node.password.as_str()),
    ];
    let output = casstop(
        &["bench", "--hosts", &node.address, "--duration", "2s", "-q"],
        &env,
        state.path(),
    );
    assert_refused(
        &output,
        &[&node.address, "requires TLS", "tls.enabled is false"],
    );
}

#[test]
fn certificate_from_another_ca_is_not_trusted() {
    let _load = crate::common::loading();
    let (node, _finish) = secure_node();
    let state = tempfile::tempdir().unwrap();
    // A certificate that did not sign the node's: the client certificate itself.
    let wrong_ca = node.client_cert.display().to_string();
    let env = [
        ("CASSTOP_TLS_ENABLED", "true"),
        ("CASSTOP_TLS_CA_FILE", wrong_ca.as_str()),
        ("CASSTOP_AUTH_USERNAME", TESTER),
        ("CASSTOP_AUTH_PASSWORD", node.password.as_str()),
    ];
    let output = casstop(
        &["bench", "--hosts", &node.address, "--duration", "2s", "-q"],
        &env,
        state.path(),
    );
    assert_refused(
        &output,
        &[
            &node.address,
            "TLS handshake failed",
            "UnknownIssuer",
            &format!("tls.ca_file {wrong_ca}"),
        ],
    );
}

#[test]
fn node_data_and_generated_keys_are_owner_only() {
    let _load = crate::common::loading();
    let (node, _finish) = secure_node();
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let data_dir = &node.local.data_dir;
    for dir in ["", "data", "commitlog", "conf", "logs", "tls"] {
        assert_eq!(mode(&data_dir.join(dir)), 0o700, "{dir}");
    }
    let tls = data_dir.join("tls");
    for file in ["node.pem", "client-key.pem", "ca.pem", "client.pem"] {
        assert_eq!(mode(&tls.join(file)), 0o600, "{file}");
    }
}

#[test]
fn up_with_other_options_while_it_runs_is_refused() {
    let _load = crate::common::loading();
    let (node, _finish) = secure_node();
    let local = LocalSettings {
        tls: false,
        ..node.local.clone()
    };
    let settings = Settings {
        local: local.clone(),
        ..Settings::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let err = runtime
        .block_on(LocalNode::new(&local).up(&settings, &mut Quiet))
        .expect_err("a running node is not silently reused with other options");
    let text = format!("{err:#}");
    assert!(
        text.contains("runs with auth on, TLS on, not auth on, TLS off as asked"),
        "{text}"
    );
    assert!(text.contains("casstop local down"), "{text}");
    assert!(err.is::<casstop::UsageError>(), "exit code 2");
}

/// TLS towards a node that does not speak it: the shared plain node, which is only asked for a
/// TLS handshake (not reconfigured).
#[test]
fn tls_client_against_a_plain_node_is_told_it_does_not_speak_tls() {
    let _load = crate::common::loading();
    common::node_pid();
    let state = tempfile::tempdir().unwrap();
    let certificates = casstop::tls::LocalCertificates::new(state.path());
    certificates.ensure().unwrap();
    let ca = certificates.ca_file().display().to_string();
    let env = [
        ("CASSTOP_TLS_ENABLED", "true"),
        ("CASSTOP_TLS_CA_FILE", &ca),
    ];
    let output = casstop(
        &[
            "bench",
            "--hosts",
            "127.0.0.1:9042",
            "--duration",
            "2s",
            "-q",
        ],
        &env,
        state.path(),
    );
    assert_refused(
        &output,
        &[
            "127.0.0.1:9042",
            "TLS handshake failed",
            "does not speak TLS",
            "tls.enabled = false",
        ],
    );
}

#[test]
fn unreadable_tls_files_are_config_errors_naming_key_and_file() {
    let _load = crate::common::loading();
    let state = tempfile::tempdir().unwrap();
    let output = casstop(
        &["bench", "--duration", "1s"],
        &[
            ("CASSTOP_TLS_ENABLED", "true"),
            ("CASSTOP_TLS_CA_FILE", "/nonexistent/ca.pem"),
        ],
        state.path(),
    );
    assert_refused(
        &output,
        &["CASSTOP_TLS_CA_FILE: `tls.ca_file` /nonexistent/ca.pem: cannot read"],
    );

    let garbage = state.path().join("key.pem");
    std::fs::write(&garbage, "not a key\n").unwrap();
    let certificates = casstop::tls::LocalCertificates::new(state.path());
    certificates.ensure().unwrap();
    let ca = certificates.ca_file().display().to_string();
    let cert = certificates.client_cert_file().display().to_string();
    let key = garbage.display().to_string();
    let output = casstop(
        &["bench", "--duration", "1s"],
        &[
            ("CASSTOP_TLS_ENABLED", "true"),
            ("CASSTOP_TLS_CA_FILE", &ca),
            ("CASSTOP_TLS_CERT_FILE", &cert),
            ("CASSTOP_TLS_KEY_FILE", &key),
        ],
        state.path(),
    );
    assert_refused(
        &output,
        &[&format!(
            "CASSTOP_TLS_KEY_FILE: `tls.key_file` {key}: no usable PEM private key"
        )],
    );
}
