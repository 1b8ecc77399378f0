//! Optional TLS for the gRPC port (`fleet.grpc_tls`). The certificate is the configured one, or
//! a self-signed one generated into the data directory on first start. Workers pin its SHA-256
//! (`--master-fingerprint`, printed in every install snippet) instead of trusting a CA.

use std::path::PathBuf;

use anyhow::Context;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::Config;
use crate::secrets::load_or_generate;

/// The master's gRPC certificate and key (PEM) and the certificate's pin.
#[derive(Clone)]
pub struct GrpcTls {
    pub cert_pem: String,
    pub key_pem: String,
    /// `sha256:<hex>` of the certificate (DER).
    pub fingerprint: String,
}

impl std::fmt::Debug for GrpcTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcTls")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// `None` unless `fleet.grpc_tls` is on.
pub fn load(config: &Config) -> anyhow::Result<Option<GrpcTls>> {
    let fleet = &config.fleet;
    if !fleet.grpc_tls {
        return Ok(None);
    }
    let (cert_pem, key_pem) = if fleet.grpc_tls_cert.is_empty() {
        generated(config)?
    } else {
        let read = |p: &str| {
            std::fs::read_to_string(p).with_context(|| format!("reading gRPC TLS file {p}"))
        };
        (read(&fleet.grpc_tls_cert)?, read(&fleet.grpc_tls_key)?)
    };
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .context("the gRPC TLS certificate is not a PEM certificate")?;
    Ok(Some(GrpcTls {
        fingerprint: crate::worker::pinned_tls::fingerprint(der.as_ref()),
        cert_pem,
        key_pem,
    }))
}

/// A self-signed certificate kept in `<data_dir>/grpc-tls/` (key mode 0600), made once.
fn generated(config: &Config) -> anyhow::Result<(String, String)> {
    let dir = PathBuf::from(&config.storage.data_dir).join("grpc-tls");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert_path.exists() && key_path.exists() {
        let cert = std::fs::read_to_string(&cert_path)
            .with_context(|| format!("reading {}", cert_path.display()))?;
        let key = std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        return Ok((cert, key));
    }
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if !config.server.bind.is_empty() && config.server.bind != "0.0.0.0" {
        names.push(config.server.bind.clone());
    }
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(names).context("generating the gRPC TLS certificate")?;
    let (cert_pem, key_pem) = (cert.pem(), key_pair.serialize_pem());
    // Key first: a certificate without its key is never left behind as if complete.
    let _ = std::fs::remove_file(&key_path);
    let _ = std::fs::remove_file(&cert_path);
    load_or_generate(&key_path, || key_pem.clone())?;
    load_or_generate(&cert_path, || cert_pem.clone())?;
    tracing::info!(path = %dir.display(), "generated a self-signed gRPC TLS certificate");
    Ok((cert_pem, key_pem))
}
