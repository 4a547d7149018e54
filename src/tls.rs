//! TLS to the cluster (a rustls client configuration built from PEM files, every failure naming
//! the key and the file) and the certificates of the local node (a CA and a node certificate that
//! casstop generates itself, so no keytool or JKS step is needed).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsSettings;

/// A TLS file that cannot be used, by its config key: `` `tls.ca_file` /etc/ca.pem: cannot read:
/// No such file or directory ``.
#[derive(Debug, thiserror::Error)]
#[error("`{key}` {path}: {message}")]
pub struct TlsFileError {
    pub key: &'static str,
    pub path: String,
    pub message: String,
}

fn file_error(key: &'static str, path: &str, message: impl Into<String>) -> TlsFileError {
    TlsFileError {
        key,
        path: path.to_string(),
        message: message.into(),
    }
}

fn read(key: &'static str, path: &str) -> Result<Vec<u8>, TlsFileError> {
    fs::read(path).map_err(|err| file_error(key, path, format!("cannot read: {err}")))
}

fn certificates(
    key: &'static str,
    path: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let pem = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| file_error(key, path, format!("not valid PEM: {err}")))?;
    if certs.is_empty() {
        return Err(file_error(
            key,
            path,
            "no PEM certificate in it (expected a -----BEGIN CERTIFICATE----- block)",
        ));
    }
    Ok(certs)
}

/// The rustls client configuration `tls` describes: the node's certificate must chain to
/// `ca_file` and name the address connected to; `cert_file`/`key_file`, when given, are presented
/// to nodes that ask for a client certificate.
pub fn client_config(tls: &TlsSettings) -> Result<Arc<rustls::ClientConfig>, TlsFileError> {
    // The provider is named rather than taken from the process default, so another crate
    // enabling a second rustls backend cannot make this ambiguous.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = server_verifier(tls, provider.clone())?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| file_error("tls.ca_file", &tls.ca_file, err.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = if tls.cert_file.is_empty() {
        builder.with_no_client_auth()
    } else {
        let chain = certificates("tls.cert_file", &tls.cert_file)?;
        let pem = read("tls.key_file", &tls.key_file)?;
        let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|err| {
            file_error(
                "tls.key_file",
                &tls.key_file,
                format!("no usable PEM private key in it ({err})"),
            )
        })?;
        builder.with_client_auth_cert(chain, key).map_err(|err| {
            file_error(
                "tls.key_file",
                &tls.key_file,
                format!("does not go with `tls.cert_file` {}: {err}", tls.cert_file),
            )
        })?
    };
    Ok(Arc::new(config))
}

/// The rustls server configuration of the control API: the chain of `control.cert_file` and the
/// key of `control.key_file`. Plain HTTP/1.1 inside (what the API serves); no client
/// certificates (the bearer token is the API's credential).
pub fn server_config(
    cert_file: &str,
    key_file: &str,
) -> Result<Arc<rustls::ServerConfig>, TlsFileError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = certificates("control.cert_file", cert_file)?;
    let pem = read("control.key_file", key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|err| {
        file_error(
            "control.key_file",
            key_file,
            format!("no usable PEM private key in it ({err})"),
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| file_error("control.cert_file", cert_file, err.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|err| {
            file_error(
                "control.key_file",
                key_file,
                format!("does not go with `control.cert_file` {cert_file}: {err}"),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The rustls client configuration `casstop attach` checks loaders with: their certificate
/// must chain to `control.ca_file` and name the address attached to.
pub fn ca_client_config(ca_file: &str) -> Result<Arc<rustls::ClientConfig>, TlsFileError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = root_store("control.ca_file", ca_file)?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| file_error("control.ca_file", ca_file, err.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn root_store(key: &'static str, ca_file: &str) -> Result<rustls::RootCertStore, TlsFileError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(key, ca_file)? {
        roots.add(cert).map_err(|err| {
            file_error(key, ca_file, format!("not a usable CA certificate: {err}"))
        })?;
    }
    Ok(roots)
}

/// What the node's certificate is checked against: the CA of `tls.ca_file` (webpki, as rustls
/// does by default), and the address connected to unless `tls.verify_hostname` is false.
fn server_verifier(
    tls: &TlsSettings,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::client::danger::ServerCertVerifier>, TlsFileError> {
    let roots = root_store("tls.ca_file", &tls.ca_file)?;
    let chain =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|err| file_error("tls.ca_file", &tls.ca_file, err.to_string()))?;
    Ok(if tls.verify_hostname {
        chain
    } else {
        Arc::new(ChainOnly(chain))
    })
}

/// Checks that the node's certificate chains to the CA, but not which name it was issued to
/// (`tls.verify_hostname = false`): for clusters whose certificates do not list the addresses
/// clients connect to. The chain is checked first, so a name mismatch is all this forgives.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The local node's TLS files in `<data_dir>/tls` (owner-only): the CA clients trust, the node's
/// key and certificate in one PEM (Cassandra's `PEMBasedSslContextFactory` keystore), and a
/// client certificate signed by the same CA.
#[derive(Debug, Clone)]
pub struct LocalCertificates {
    pub dir: PathBuf,
}

impl LocalCertificates {
    pub fn new(data_dir: &Path) -> Self {
        LocalCertificates {
            dir: data_dir.join("tls"),
        }
    }

    /// The CA certificate: what `tls.ca_file` points at.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The node's private key followed by its certificate.
    pub fn node_keystore(&self) -> PathBuf {
        self.dir.join("node.pem")
    }

    pub fn client_cert_file(&self) -> PathBuf {
        self.dir.join("client.pem")
    }

    pub fn client_key_file(&self) -> PathBuf {
        self.dir.join("client-key.pem")
    }

    fn all(&self) -> [PathBuf; 4] {
        [
            self.ca_file(),
            self.node_keystore(),
            self.client_cert_file(),
            self.client_key_file(),
        ]
    }

    /// Generates the CA, node and client certificates unless all are there already (so a
    /// `tls.ca_file` pointing here stays valid across restarts). True when it generated them.
    pub fn ensure(&self) -> Result<bool> {
        if self.all().iter().all(|path| path.exists()) {
            return Ok(false);
        }
        crate::files::create_private_dir(&self.dir, true)?;
        let generated = generate().context("generating the local node's TLS certificates")?;
        write_private(&self.ca_file(), &generated.ca_pem)?;
        write_private(
            &self.node_keystore(),
            &format!("{}{}", generated.node_key_pem, generated.node_cert_pem),
        )?;
        write_private(&self.client_cert_file(), &generated.client_cert_pem)?;
        write_private(&self.client_key_file(), &generated.client_key_pem)?;
        Ok(true)
    }
}

struct Generated {
    ca_pem: String,
    node_cert_pem: String,
    node_key_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

fn generate() -> Result<Generated, rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "casstop local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    // The CA's key signs the two certificates below and is then dropped, never written.
    let issuer = Issuer::new(ca_params, ca_key);

    let node_key = KeyPair::generate()?;
    let mut node_params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])?;
    node_params
        .distinguished_name
        .push(DnType::CommonName, "casstop local node");
    node_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let node_cert = node_params.signed_by(&node_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut client_params = CertificateParams::new(Vec::<String>::new())?;
    client_params
        .distinguished_name
        .push(DnType::CommonName, "casstop client");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &issuer)?;

    Ok(Generated {
        ca_pem: ca_cert.pem(),
        node_cert_pem: node_cert.pem(),
        node_key_pem: node_key.serialize_pem(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    })
}

/// Writes `text` to a file only its owner can read (0600), replacing what was there.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_certificates_are_private_and_make_a_client_config() {
        let dir = tempfile::tempdir().unwrap();
        let certs = LocalCertificates::new(dir.path());
        assert!(certs.ensure().unwrap(), "first call generates");
        assert!(!certs.ensure().unwrap(), "second call reuses");
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&certs.dir), 0o700);
        for path in certs.all() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        let keystore = fs::read_to_string(certs.node_keystore()).unwrap();
        assert!(
            keystore.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{keystore}"
        );
        assert!(keystore.contains("-----BEGIN CERTIFICATE-----"));

        let tls = TlsSettings {
            enabled: true,
            ca_file: certs.ca_file().display().to_string(),
            cert_file: certs.client_cert_file().display().to_string(),
            key_file: certs.client_key_file().display().to_string(),
            verify_hostname: true,
        };
        let config = client_config(&tls).unwrap();
        assert!(config.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn verify_hostname_off_forgives_the_name_but_not_the_chain() {
        use rustls::pki_types::{ServerName, UnixTime};
        let dir = tempfile::tempdir().unwrap();
        let certs = LocalCertificates::new(dir.path());
        certs.ensure().unwrap();
        let keystore = fs::read(certs.node_keystore()).unwrap();
        let node_cert = CertificateDer::pem_slice_iter(&keystore)
            .next()
            .unwrap()
            .unwrap();
        let client_pem = fs::read(certs.client_cert_file()).unwrap();
        let stranger = CertificateDer::from_pem_slice(&client_pem).unwrap();
        let verify = |verify_hostname: bool, cert: &CertificateDer<'_>, name: &str| {
            let tls = TlsSettings {
                enabled: true,
                ca_file: certs.ca_file().display().to_string(),
                verify_hostname,
                ..TlsSettings::default()
            };
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let verifier = server_verifier(&tls, provider).unwrap();
            let name = ServerName::try_from(name.to_string()).unwrap();
            verifier
                .verify_server_cert(cert, &[], &name, &[], UnixTime::now())
                .map(|_| ())
                .map_err(|err| err.to_string())
        };
        assert_eq!(verify(true, &node_cert, "127.0.0.1"), Ok(()));
        assert_eq!(verify(true, &node_cert, "localhost"), Ok(()));
        let mismatch = verify(true, &node_cert, "db1.example").unwrap_err();
        assert!(mismatch.contains("not valid for name"), "{mismatch}");
        assert_eq!(verify(false, &node_cert, "db1.example"), Ok(()));
        // A client certificate is not a server certificate, whatever the name check says.
        assert!(verify(false, &stranger, "127.0.0.1").is_err());
    }

    #[test]
    fn errors_name_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let certs = LocalCertificates::new(dir.path());
        certs.ensure().unwrap();
        let ca = certs.ca_file().display().to_string();
        let mismatched = TlsSettings {
            enabled: true,
            ca_file: ca.clone(),
            cert_file: certs.client_cert_file().display().to_string(),
            // The CA certificate where the client's key belongs.
            key_file: ca.clone(),
            verify_hostname: true,
        };
        let err = client_config(&mismatched).unwrap_err();
        assert_eq!(err.key, "tls.key_file");
        assert!(
            err.to_string()
                .starts_with(&format!("`tls.key_file` {ca}: no usable PEM private key")),
            "{err}"
        );

        let missing = TlsSettings {
            enabled: true,
            ca_file: dir.path().join("nope.pem").display().to_string(),
            ..TlsSettings::default()
        };
        let err = client_config(&missing).unwrap_err();
        assert_eq!(err.key, "tls.ca_file");
        assert!(err.to_string().contains("nope.pem: cannot read"), "{err}");
    }
}
