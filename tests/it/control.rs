//! The control API against a real `casstop bench` on the shared node: status, knob changes that
//! the next intervals run at, refusals that change nothing, the token, pause and stop; and a real
//! Prometheus server scraping it, whose rate and quantile agree with casstop's own numbers.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value as Json;

const TOKEN: &str = "test-token-0123456789";

/// One HTTP/1.1 exchange, the connection closed after it: (status, body).
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    try_http(port, method, path, token, body).expect("the server accepts")
}

/// [`http`], or `None` when nothing listens yet, or when the listener went away before it
/// answered (a loader that exits during start-up resets the connections it had not accepted).
fn try_http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("a header and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    // Bodies come whole or chunked; a chunked one is unchunked here.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn unchunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        text = &rest[size + 2..];
    }
    out
}

fn json(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("JSON ({e}): {text}"))
}

/// A headless bench serving the API on a port of its own.
struct Loader {
    child: Child,
    port: u16,
}

impl Loader {
    fn start(table: &str, args: &[&str]) -> Loader {
        common::node_pid();
        let port = common::free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = common::casstop()
            .args(["bench", "--no-record", "-q", "--listen", &listen])
            .args(args)
            .env("CASSTOP_CONTROL_TOKEN", TOKEN)
            .env("CASSTOP_CLUSTER_KEYSPACE", "casstop_test")
            .env("CASSTOP_CLUSTER_TABLE", table)
            .env("CASSTOP_LOAD_INTERVAL", "500ms")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("casstop starts");
        let mut loader = Loader { child, port };
        common::wait_for(
            "a running run behind the API",
            Duration::from_secs(60),
            Duration::from_millis(200),
            || {
                // A loader that gave up during start-up fails the test with its own words.
                if let Ok(Some(status)) = loader.child.try_wait() {
                    let mut stderr = String::new();
                    if let Some(mut pipe) = loader.child.stderr.take() {
                        let _ = pipe.read_to_string(&mut stderr);
                    }
                    panic!("the loader exited ({status}) before it ran: {stderr}");
                }
                let (_, body) = try_http(port, "GET", "/status", None, "")?;
                (json(&body)["state"] == "running").then_some(())
            },
        );
        loader
    }

    fn status(&self) -> Json {
        let (code, body) = http(self.port, "GET", "/status", None, "");
        assert_eq!(code, 200, "{body}");
        json(&body)
    }

    /// The first interval that closed wholly after `after_s` seconds of the run.
    fn interval_after(&self, after_s: f64) -> Json {
        common::wait_for(
            "an interval after the change",
            Duration::from_secs(20),
            Duration::from_millis(100),
            || {
                let status = self.status();
                let interval = &status["interval"];
                let start = interval["at_s"].as_f64()? - interval["length_s"].as_f64()?;
                (start >= after_s).then(|| interval.clone())
            },
        )
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_api_changes_knobs_refuses_whole_guards_with_the_token_and_stops_the_run() {
    let _load = common::loading();
    let loader = Loader::start(
        "control_api",
        &[
            "--strategy",
            "callbacks",
            "--depth",
            "4",
            "--duration",
            "60s",
        ],
    );
    let port = loader.port;
    let status = loader.status();
    assert_eq!(status["knobs"]["depth"], 4, "{status}");
    assert!(status["interval"]["throughput"].as_f64().unwrap() > 0.0);

    // No token, or the wrong one: 401, one line, nothing changed.
    for token in [None, Some("wrong")] {
        let (code, body) = http(port, "PATCH", "/knobs", token, r#"{"depth": 40}"#);
        assert_eq!(code, 401, "{body}");
        assert!(json(&body)["error"].as_str().unwrap().contains("Bearer"));
    }
    // A bad value among good ones: 400 naming it, and none of them applied.
    let (code, body) = http(
        port,
        "PATCH",
        "/knobs",
        Some(TOKEN),
        r#"{"depth": 40, "rows_per_request": 0}"#,
    );
    assert_eq!(code, 400, "{body}");
    let why = json(&body)["error"].as_str().unwrap().to_string();
    assert!(
        why.starts_with("rows_per_request ") && !why.contains('\n'),
        "{why}"
    );
    let (code, body) = http(
        port,
        "PATCH",
        "/knobs",
        Some(TOKEN),
        r#"{"runtime": "multi-thread"}"#,
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(loader.status()["knobs"]["depth"], 4, "nothing was applied");

    // A good change: the next interval runs at it. Callbacks chains at 40 keep about 40 writes
    // in flight; the 4 before could not have.
    let (code, body) = http(port, "PATCH", "/knobs", Some(TOKEN), r#"{"depth": 40}"#);
    assert_eq!(code, 200, "{body}");
    let answer = json(&body);
    assert_eq!(answer["applied"][0]["knob"], "depth");
    assert_eq!(answer["knobs"]["depth"], 40);
    let at = answer["in_force_at_s"]
        .as_f64()
        .expect("when it took effect");
    let after = loader.interval_after(at);
    let in_flight_max = after["in_flight_max"].as_u64().unwrap();
    assert!(
        (10..=40).contains(&in_flight_max),
        "in flight up to {in_flight_max} after depth 40: {after}"
    );
    assert_eq!(loader.status()["knobs"]["depth"], 40);

    // Pause: a whole interval without a write; resume: writes again.
    let (code, body) = http(port, "POST", "/pause", Some(TOKEN), "");
    assert_eq!(code, 200, "{body}");
    let paused = loader.interval_after(json(&body)["in_force_at_s"].as_f64().unwrap() + 0.2);
    assert_eq!(paused["ok"], 0, "{paused}");
    let (code, body) = http(port, "POST", "/resume", Some(TOKEN), "");
    assert_eq!(code, 200, "{body}");
    let resumed = loader.interval_after(json(&body)["in_force_at_s"].as_f64().unwrap());
    assert!(resumed["ok"].as_u64().unwrap() > 0, "{resumed}");

    // The closed intervals with their histograms, for merging elsewhere: token needed; each
    // histogram decodes with hdrhistogram's own reader and holds its interval's writes.
    let (code, _) = http(port, "GET", "/intervals", None, "");
    assert_eq!(code, 401);
    let (code, body) = http(port, "GET", "/intervals?since=2", Some(TOKEN), "");
    assert_eq!(code, 200);
    let kept = json(&body)["intervals"].as_array().unwrap().clone();
    assert!(kept.len() >= 3, "{} intervals", kept.len());
    assert_eq!(kept[0]["seq"], 3, "after since=2");
    for interval in &kept {
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            interval["service_hdr"].as_str().unwrap(),
        )
        .unwrap();
        let histogram: hdrhistogram::Histogram<u64> =
            hdrhistogram::serialization::Deserializer::new()
                .deserialize(&mut &bytes[..])
                .expect("a V2 histogram");
        assert_eq!(
            histogram.len(),
            interval["stats"]["service"]["count"].as_u64().unwrap(),
            "{interval}"
        );
    }
    let (code, _) = http(port, "GET", "/intervals?since=soon", Some(TOKEN), "");
    assert_eq!(code, 400);

    // Prometheus' page is open, and counts what /status counts.
    let (code, metrics) = http(port, "GET", "/metrics", None, "");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("casstop_knob{knob=\"depth\"} 40"),
        "{metrics}"
    );

    // Stop, as a first Ctrl-C: the run drains and ends by itself, with its summary.
    let (code, body) = http(port, "POST", "/stop", None, "");
    assert_eq!(code, 401, "{body}");
    let (code, body) = http(port, "POST", "/stop", Some(TOKEN), "");
    assert_eq!(code, 202, "{body}");
    let mut loader = loader;
    let exited = common::wait_for(
        "the run to end after POST /stop",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || loader.child.try_wait().unwrap(),
    );
    let mut stdout = String::new();
    loader
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(exited.success(), "{stdout}");
    assert!(
        stdout.contains("throughput"),
        "the summary is printed: {stdout}"
    );
}

/// Prometheus' HTTP API: the one value of an instant query, if it has one.
fn query(port: u16, promql: &str) -> Option<f64> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    // Prometheus takes a moment to listen: until then, no value.
    let path = format!("/api/v1/query?query={encoded}");
    let (code, body) = try_http(port, "GET", &path, None, "")?;
    assert_eq!(code, 200, "{promql}: {body}");
    let answer = json(&body);
    let value = answer["data"]["result"].get(0)?["value"][1].as_str()?;
    value.parse().ok().filter(|v: &f64| v.is_finite())
}

#[test]
fn a_real_prometheus_scrapes_the_rate_and_the_latency_casstop_reports() {
    let _load = common::loading();
    let loader = Loader::start(
        "control_prometheus",
        &[
            "--strategy",
            "callbacks",
            "--depth",
            "16",
            "--rate",
            "2000",
            "--duration",
            "60s",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let prom_port = common::free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: casstop\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            loader.port
        ),
    )
    .unwrap();
    let mut prometheus = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Debian's prometheus is installed (.ci/run installs it)");
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _prometheus = Kill(&mut prometheus);
    // Enough scrapes for a 30 s rate.
    let rate = common::wait_for(
        "Prometheus' rate of casstop_writes_total",
        Duration::from_secs(90),
        Duration::from_millis(500),
        || {
            // casstop's counters move at each interval's close (500 ms here), so a rate over a
            // short window is off by up to an interval's writes: 30 s keeps that under 2 %.
            let up = query(prom_port, "count_over_time(casstop_running[40s])")?;
            (up >= 32.0).then_some(())?;
            query(
                prom_port,
                r#"rate(casstop_writes_total{outcome="ok"}[30s])"#,
            )
        },
    );
    let own = loader.status();
    let held = own["interval"]["throughput"].as_f64().unwrap();
    eprintln!("Prometheus rate {rate:.0}/s, casstop's last interval {held:.0}/s, target 2000/s");
    assert!(
        (rate - 2000.0).abs() / 2000.0 < 0.05,
        "Prometheus says {rate:.0}/s"
    );
    assert!(
        (held - 2000.0).abs() / 2000.0 < 0.05,
        "casstop says {held:.0}/s"
    );

    // The quantile from the buckets lands in the bucket that holds casstop's own p99 of the
    // run so far (read just before and just after, so a scrape in between is bracketed).
    let before = loader.status()["totals"]["service"]["p99"]
        .as_f64()
        .unwrap()
        / 1e6;
    let quantile = query(
        prom_port,
        "histogram_quantile(0.99, casstop_service_time_seconds_bucket)",
    )
    .expect("a quantile");
    let after = loader.status()["totals"]["service"]["p99"]
        .as_f64()
        .unwrap()
        / 1e6;
    let bounds: Vec<f64> = casstop::metrics::BUCKET_BOUNDS_US
        .iter()
        .map(|us| *us as f64 / 1e6)
        .collect();
    let bucket_of = |v: f64| bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len());
    eprintln!("p99: Prometheus {quantile:.6} s, casstop {before:.6}..{after:.6} s");
    assert!(
        bucket_of(quantile) == bucket_of(before) || bucket_of(quantile) == bucket_of(after),
        "Prometheus' p99 {quantile} s is not in the bucket of casstop's {before}..{after} s"
    );

    // Every query of the shipped Grafana dashboard answers with a value from this scrape: its
    // metric names and labels are the ones casstop exposes.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/grafana/casstop-loaders.json"
    );
    let dashboard = json(&std::fs::read_to_string(path).unwrap());
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "30s")
                .replace("$loader", ".*");
            assert!(
                query(prom_port, &expr).is_some(),
                "the dashboard's `{}` query gives nothing: {expr}",
                panel["title"]
            );
            queries += 1;
        }
    }
    assert!(queries >= 10, "{queries} queries");
}

#[test]
fn readers_that_never_read_their_intervals_do_not_hold_the_load_back() {
    let _load = common::loading();
    let loader = Loader::start(
        "control_slow_reader",
        &["--depth", "16", "--rate", "2000", "--duration", "60s"],
    );
    // Ten seconds of intervals kept: each answer is tens of KiB of encoded histograms.
    std::thread::sleep(Duration::from_secs(10));
    // Four clients ask for all of them a hundred times over, pipelined, and never read an
    // answer: the server's socket buffers fill and its writes to them wait.
    let request = format!(
        "GET /intervals?since=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    );
    let stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", loader.port)).unwrap();
            stream
                .set_write_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            for _ in 0..100 {
                // Once the server stops reading, the requests back up here too: enough sent.
                if stream.write_all(request.as_bytes()).is_err() {
                    break;
                }
            }
            stream
        })
        .collect();
    let from_s = loader.status()["elapsed_s"].as_f64().unwrap();
    let mut throughputs = Vec::new();
    let mut after_s = from_s;
    for _ in 0..12 {
        let interval = loader.interval_after(after_s);
        after_s = interval["at_s"].as_f64().unwrap();
        throughputs.push(interval["throughput"].as_f64().unwrap());
    }
    drop(stalled);
    eprintln!("throughput per interval with stalled readers: {throughputs:?}");
    let mean = throughputs.iter().sum::<f64>() / throughputs.len() as f64;
    assert!((mean - 2000.0).abs() / 2000.0 < 0.03, "mean {mean:.0}/s");
    for t in &throughputs {
        assert!(
            (t - 2000.0).abs() / 2000.0 < 0.15,
            "an interval at {t:.0}/s"
        );
    }
}

/// `curl` against the TLS API: (exit code, status, body, stderr). curl (OpenSSL) checks the
/// certificate, not casstop.
fn curl(url: &str, ca: Option<&std::path::Path>, extra: &[&str]) -> (i32, u16, String, String) {
    let mut command = std::process::Command::new("curl");
    command.args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"]);
    if let Some(ca) = ca {
        command.arg("--cacert").arg(ca);
    }
    let out = command.args(extra).arg(url).output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        out.status.code().unwrap_or(-1),
        code.trim().parse().unwrap_or(0),
        body.to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// curl refused the server's certificate (exit 60: "peer certificate cannot be authenticated").
fn refused_certificate(what: &str, (exit, _, _, stderr): (i32, u16, String, String)) {
    assert_eq!(exit, 60, "curl accepted {what}: {stderr}");
}

/// A CA of another name, made by openssl: neither casstop's generator nor its key.
fn other_ca(dir: &std::path::Path) -> std::path::PathBuf {
    let ca = dir.join("other-ca.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=another CA", "-keyout"])
        .arg(dir.join("other-ca-key.pem"))
        .arg("-out")
        .arg(&ca)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    ca
}

/// With `control.cert_file`/`key_file` the API speaks HTTPS only: curl with the CA gets the
/// status and changes a knob with the token; without the CA, curl refuses the certificate; plain
/// HTTP gets no HTTP answer; attach's own client checks the chain and the name too.
#[test]
fn the_api_over_tls_is_verified_by_curl_and_by_attachs_client() {
    let _load = common::loading();
    common::node_pid();
    let dir = tempfile::tempdir().unwrap();
    let certs = casstop::tls::LocalCertificates::new(dir.path());
    certs.ensure().expect("certificates");
    let ca = certs.ca_file();
    let other_ca = other_ca(dir.path());

    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = common::casstop()
        .args(["bench", "--no-record", "-q", "--listen", &listen])
        .args([
            "--strategy",
            "callbacks",
            "--depth",
            "4",
            "--duration",
            "60s",
        ])
        .env("CASSTOP_CONTROL_TOKEN", TOKEN)
        .env("CASSTOP_CONTROL_CERT_FILE", certs.node_keystore())
        .env("CASSTOP_CONTROL_KEY_FILE", certs.node_keystore())
        .env("CASSTOP_CLUSTER_KEYSPACE", "casstop_test")
        .env("CASSTOP_CLUSTER_TABLE", "control_tls")
        .env("CASSTOP_LOAD_INTERVAL", "500ms")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("casstop starts");
    let _guard = KillOnDrop(&mut child);
    let url = format!("https://127.0.0.1:{port}");
    let status = common::wait_for(
        "a running run behind the HTTPS API",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let (_, code, body, _) = curl(&format!("{url}/status"), Some(&ca), &[]);
            (code == 200 && json(&body)["state"] == "running").then(|| json(&body))
        },
    );
    assert_eq!(status["knobs"]["depth"], 4, "{status}");

    let (exit, code, body, _) = curl(
        &format!("{url}/knobs"),
        Some(&ca),
        &[
            "-X",
            "PATCH",
            "-H",
            &format!("Authorization: Bearer {TOKEN}"),
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"depth": 12}"#,
        ],
    );
    assert_eq!((exit, code), (0, 200), "{body}");
    let (_, _, body, _) = curl(&format!("{url}/status"), Some(&ca), &[]);
    assert_eq!(json(&body)["knobs"]["depth"], 12, "{body}");

    // curl without the CA, with another CA, or for a name the certificate does not hold (sent
    // to the same socket under another name): the certificate is refused.
    refused_certificate(
        "a certificate it cannot verify",
        curl(&format!("{url}/status"), None, &[]),
    );
    refused_certificate(
        "a certificate of another CA",
        curl(&format!("{url}/status"), Some(&other_ca), &[]),
    );
    refused_certificate(
        "a certificate for another name",
        curl(
            &format!("https://loader.invalid:{port}/status"),
            Some(&ca),
            &["--resolve", &format!("loader.invalid:{port}:127.0.0.1")],
        ),
    );

    // Plain HTTP to the TLS port: no HTTP answer comes back.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(stream, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP was answered: {}",
        String::from_utf8_lossy(&answer)
    );

    // attach's client: the right CA gets the status; another CA is refused.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = |addr: &str, ca: &std::path::Path| {
        let config = casstop::tls::ca_client_config(ca.to_str().unwrap()).unwrap();
        casstop::control::client::Client::new(addr, Some(TOKEN.into())).with_tls(config)
    };
    let status = runtime
        .block_on(client(&listen, &ca).status())
        .expect("attach's client over TLS");
    assert_eq!(status.state, "running");
    let wrong_ca = runtime
        .block_on(client(&listen, &other_ca).status())
        .expect_err("another CA is refused");
    assert!(
        format!("{wrong_ca:#}").contains("certificate"),
        "{wrong_ca:#}"
    );
}

struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
