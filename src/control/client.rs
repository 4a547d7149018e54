//! The other end of the control API: what `casstop attach` asks a loader, over HTTP/1.1 (hyper's
//! client, the stack the server runs on), inside TLS when `control.ca_file` is set. One
//! connection per request: a loader is asked a few times a second, and a connection that broke
//! never lingers.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use crate::metrics::IntervalStats;

/// One loader's API.
#[derive(Clone, Debug)]
pub struct Client {
    /// `host:port`, as the user gave it.
    pub addr: String,
    token: Option<String>,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// An answer: its status and body.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The body's `error` line for a refusal, else the body.
    pub fn refusal(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(String::from))
            .unwrap_or_else(|| self.body.trim().to_string())
    }
}

/// `GET /status`, the parts attach uses.
#[derive(Clone, Debug, Deserialize)]
pub struct Status {
    pub state: String,
    #[serde(default)]
    pub elapsed_s: f64,
    #[serde(default)]
    pub paced: bool,
    pub knobs: Option<crate::knobs::Knobs>,
}

/// One interval of `GET /intervals`, its histograms still encoded: the server's
/// `EncodedInterval` read back (`remote`'s test sends one through JSON into this).
#[derive(Clone, Debug, Deserialize)]
pub struct Interval {
    pub seq: u64,
    pub stats: IntervalStats,
    pub service_hdr: String,
    pub response_hdr: Option<String>,
    /// The mix's reads (an older casstop sends none).
    #[serde(default)]
    pub read_hdrs: Vec<crate::metrics::EncodedRead>,
}

#[derive(Deserialize)]
struct Intervals {
    intervals: Vec<Interval>,
}

impl Client {
    pub fn new(addr: &str, token: Option<String>) -> Client {
        Client {
            addr: addr.to_string(),
            token,
            timeout: Duration::from_secs(2),
            tls: None,
        }
    }

    /// The same client over TLS: the loader's certificate must chain to `config`'s roots and
    /// name the host of `addr`.
    pub fn with_tls(self, config: Arc<rustls::ClientConfig>) -> Client {
        Client {
            tls: Some(config),
            ..self
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Answer> {
        tokio::time::timeout(self.timeout, self.exchange(method, path, body))
            .await
            .map_err(|_| anyhow!("no answer within {:?}", self.timeout))?
    }

    async fn exchange(&self, method: Method, path: &str, body: Option<String>) -> Result<Answer> {
        let stream = tokio::net::TcpStream::connect(&self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        let Some(config) = &self.tls else {
            return self.send(stream, method, path, body).await;
        };
        let host = host_of(&self.addr);
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .with_context(|| format!("`{host}` is not a name a certificate can be checked for"))?;
        let stream = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, stream)
            .await
            .with_context(|| format!("TLS to {}", self.addr))?;
        self.send(stream, method, path, body).await
    }

    async fn send<IO>(
        &self,
        io: IO,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Answer>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.addr);
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// An answer that must be 200, read as `T`.
    async fn json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T> {
        let answer = self.request(Method::GET, path, None).await?;
        if answer.status != 200 {
            bail!("GET {path}: {} {}", answer.status, answer.refusal());
        }
        serde_json::from_str(&answer.body).with_context(|| format!("reading GET {path}"))
    }

    pub async fn status(&self) -> Result<Status> {
        self.json("/status").await
    }

    /// The closed intervals after `since`.
    pub async fn intervals(&self, since: u64) -> Result<Vec<Interval>> {
        Ok(self
            .json::<Intervals>(&format!("/intervals?since={since}"))
            .await?
            .intervals)
    }
}

/// The host of `host:port` (`[::1]:9180` → `::1`).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn the_host_is_what_the_certificate_must_name() {
        assert_eq!(host_of("127.0.0.1:9180"), "127.0.0.1");
        assert_eq!(host_of("loader-2.example:9180"), "loader-2.example");
        assert_eq!(host_of("[::1]:9180"), "::1");
    }
}
