//! The hop's control channel: a unix socket beside the node's files. One JSON request per line,
//! one JSON answer per line: read the hop's state and counters, or change what it emulates live
//! (`:rtt 1ms` in the session, the RTT steps of `bench --matrix --rtt`).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::{Hop, HopSettings, HopStats, JitterDistribution};

/// How long a client waits for the hop to answer; the hop answers from memory, at once.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// A request on the control channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// The hop's state and counters.
    State,
    /// Change what the hop emulates; fields left out stay as they are.
    Set(SettingsChange),
}

/// A partial change of [`HopSettings`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SettingsChange {
    #[serde(default, with = "optional_duration")]
    pub rtt: Option<Duration>,
    #[serde(default, with = "optional_duration")]
    pub jitter: Option<Duration>,
    #[serde(default)]
    pub jitter_distribution: Option<JitterDistribution>,
    #[serde(default)]
    pub seed: Option<u64>,
}

impl SettingsChange {
    pub fn rtt(rtt: Duration) -> Self {
        SettingsChange {
            rtt: Some(rtt),
            ..SettingsChange::default()
        }
    }

    pub fn apply(&self, mut settings: HopSettings) -> HopSettings {
        if let Some(rtt) = self.rtt {
            settings.rtt = rtt;
        }
        if let Some(jitter) = self.jitter {
            settings.jitter = jitter;
        }
        if let Some(distribution) = self.jitter_distribution {
            settings.jitter_distribution = distribution;
        }
        if let Some(seed) = self.seed {
            settings.seed = seed;
        }
        settings
    }
}

/// What the hop answers to every request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HopState {
    pub pid: u32,
    pub listen: SocketAddr,
    pub upstream: SocketAddr,
    pub settings: HopSettings,
    pub stats: HopStats,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Ok(HopState),
    Error(String),
}

/// Serves the control channel of `hop` at `path` until the process ends. Blocking: it runs on
/// its own thread, so control requests never take time from the forwarding thread.
pub fn serve(hop: &Hop, path: &Path) -> Result<()> {
    // A socket file left by a hop that was killed would make bind fail.
    crate::local::process::remove_stale(path);
    let listener = UnixListener::bind(path)
        .with_context(|| format!("the hop cannot listen for control on {}", path.display()))?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if let Err(err) = answer(hop, stream) {
            tracing::warn!("hop control request failed: {err:#}");
        }
    }
    Ok(())
}

fn answer(hop: &Hop, stream: UnixStream) -> Result<()> {
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let answer = match serde_json::from_str::<Request>(line.trim()) {
        Ok(Request::State) => Answer::Ok(state(hop)),
        Ok(Request::Set(change)) => {
            hop.set(change.apply(hop.settings()));
            Answer::Ok(state(hop))
        }
        Err(err) => Answer::Error(format!("not a hop request: {err}")),
    };
    let mut text = serde_json::to_string(&answer)?;
    text.push('\n');
    (&stream).write_all(text.as_bytes())?;
    Ok(())
}

fn state(hop: &Hop) -> HopState {
    HopState {
        pid: std::process::id(),
        listen: hop.listen(),
        upstream: hop.upstream(),
        settings: hop.settings(),
        stats: hop.stats(),
    }
}

/// Sends one request to the hop listening for control at `path`.
pub fn request(path: &Path, request: &Request) -> Result<HopState> {
    let stream = UnixStream::connect(path)
        .with_context(|| format!("no hop answers on {}", path.display()))?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    let mut text = serde_json::to_string(request)?;
    text.push('\n');
    (&stream).write_all(text.as_bytes())?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .with_context(|| format!("the hop on {} did not answer", path.display()))?;
    match serde_json::from_str::<Answer>(line.trim())
        .with_context(|| format!("the hop on {} answered `{}`", path.display(), line.trim()))?
    {
        Answer::Ok(state) => Ok(state),
        Answer::Error(message) => bail!("the hop refused the request: {message}"),
    }
}

mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => crate::config::duration::serialize(d, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|t| crate::config::duration::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_and_live_change_over_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hop.sock");
        let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let hop = Hop::start(
            "127.0.0.1:0".parse().unwrap(),
            upstream.local_addr().unwrap(),
            HopSettings::default(),
        )
        .unwrap();
        let listen = hop.listen();
        let serving = path.clone();
        // The server thread runs until the test process ends, like the hop process's own.
        let hop = std::sync::Arc::new(hop);
        let served = hop.clone();
        std::thread::spawn(move || serve(&served, &serving));
        let mut state = None;
        for _ in 0..100 {
            if let Ok(answer) = request(&path, &Request::State) {
                state = Some(answer);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let state = state.expect("the control channel answers");
        assert_eq!(state.listen, listen);
        assert_eq!(state.settings.rtt, Duration::ZERO);
        let changed = request(
            &path,
            &Request::Set(SettingsChange {
                rtt: Some(Duration::from_micros(1500)),
                jitter: Some(Duration::from_micros(100)),
                jitter_distribution: Some(JitterDistribution::Normal),
                seed: None,
            }),
        )
        .unwrap();
        assert_eq!(changed.settings.rtt, Duration::from_micros(1500));
        assert_eq!(
            changed.settings.jitter_distribution,
            JitterDistribution::Normal
        );
        assert_eq!(changed.settings.seed, 1, "left out, left alone");
        assert_eq!(hop.settings().rtt, Duration::from_micros(1500));
        let text =
            serde_json::to_string(&Request::Set(SettingsChange::rtt(Duration::from_millis(2))))
                .unwrap();
        assert_eq!(
            text,
            r#"{"set":{"rtt":"2ms","jitter":null,"jitter_distribution":null,"seed":null}}"#
        );
    }
}
