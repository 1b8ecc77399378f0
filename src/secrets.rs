//! Secret material: the AEAD box for secrets at rest, the root secrets loaded from config, file or
//! the data directory, random tokens and hashes of them.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{Config, check_secret_strength};

/// Encrypts secrets before they reach the database (XChaCha20-Poly1305, random 192-bit nonces).
/// Sealed values look like `v1:<base64 nonce+ciphertext>`.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

const SEALED_PREFIX: &str = "v1:";

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    pub fn seal(&self, plaintext: &str) -> anyhow::Result<String> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD.encode(out)))
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
        let raw = sealed
            .strip_prefix(SEALED_PREFIX)
            .context("not a sealed value")?;
        let bytes = STANDARD.decode(raw).context("sealed value is not base64")?;
        if bytes.len() < 24 + 16 {
            bail!("sealed value is truncated");
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| anyhow::anyhow!("sealed value does not decrypt with this key"))?;
        String::from_utf8(plain).context("sealed value is not UTF-8")
    }
}

/// The JWT root secret: `auth.jwt_secret`, else `auth.jwt_secret_file`, else
/// `<data_dir>/jwt_secret`, generated (64 random bytes, mode 0600) on first start.
pub fn load_jwt_secret(config: &Config) -> anyhow::Result<String> {
    let secret = if !config.auth.jwt_secret.is_empty() {
        config.auth.jwt_secret.clone()
    } else if !config.auth.jwt_secret_file.is_empty() {
        read_secret_file(Path::new(&config.auth.jwt_secret_file))?
    } else {
        load_or_generate(&config.storage.data_dir.join("jwt_secret"), || {
            random_token(64)
        })?
    };
    if secret.is_empty() {
        bail!("the JWT secret is empty");
    }
    if !config.dev_mode {
        check_secret_strength(&secret).context(
            "weak JWT secret (set a strong auth.jwt_secret, or pass --dev for local use)",
        )?;
    }
    Ok(secret)
}

/// The fleet's shared enrollment secret: `fleet.enroll_secret`, else `fleet.enroll_secret_file`,
/// else `<data_dir>/enroll_secret`, generated on first start.
pub fn load_enroll_secret(config: &Config) -> anyhow::Result<String> {
    let secret = if !config.fleet.enroll_secret.is_empty() {
        config.fleet.enroll_secret.clone()
    } else if !config.fleet.enroll_secret_file.is_empty() {
        read_secret_file(Path::new(&config.fleet.enroll_secret_file))?
    } else {
        load_or_generate(&config.storage.data_dir.join("enroll_secret"), || {
            random_token(32)
        })?
    };
    if !config.dev_mode {
        check_secret_strength(&secret).context("weak fleet.enroll_secret")?;
    }
    Ok(secret)
}

/// The encryption key for secrets at rest: `security.encryption_key` (base64 of 32 bytes), else
/// `security.encryption_key_file`, else `<data_dir>/encryption.key`, generated on first start.
pub fn load_encryption_key(config: &Config) -> anyhow::Result<[u8; 32]> {
    let encoded = if !config.security.encryption_key.is_empty() {
        config.security.encryption_key.clone()
    } else if !config.security.encryption_key_file.is_empty() {
        read_secret_file(Path::new(&config.security.encryption_key_file))?
    } else {
        load_or_generate(&config.storage.data_dir.join("encryption.key"), || {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            STANDARD.encode(key)
        })?
    };
    let bytes = STANDARD
        .decode(encoded.trim())
        .context("security.encryption_key must be base64")?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("security.encryption_key must decode to exactly 32 bytes"))?;
    if key.iter().collect::<std::collections::BTreeSet<_>>().len() < 8 && !config.dev_mode {
        bail!("security.encryption_key is not random enough");
    }
    Ok(key)
}

fn read_secret_file(path: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading secret file {}", path.display()))?
        .trim()
        .to_owned())
}

pub(crate) fn load_or_generate(
    path: &Path,
    generate: impl FnOnce() -> String,
) -> anyhow::Result<String> {
    if path.exists() {
        return read_secret_file(path);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    let value = generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating secret file {}", path.display()))?;
    file.write_all(value.as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new secret");
    Ok(value)
}

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Compares in time independent of where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let b = SecretBox::new(&[7u8; 32]);
        let sealed = b.seal("hunter2").unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_eq!(b.open(&sealed).unwrap(), "hunter2");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(b.open(&tampered).is_err());
        assert!(SecretBox::new(&[8u8; 32]).open(&sealed).is_err());
    }

    #[test]
    fn generates_secret_files_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.storage.data_dir = dir.path().to_path_buf();
        let first = load_jwt_secret(&config).unwrap();
        let second = load_jwt_secret(&config).unwrap();
        assert_eq!(first, second);
        assert!(first.len() >= 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("jwt_secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(load_encryption_key(&config).unwrap().len(), 32);
    }

    #[test]
    fn weak_configured_secret_refused_outside_dev_mode() {
        let mut config = Config::default();
        config.auth.jwt_secret = "changeme".into();
        assert!(load_jwt_secret(&config).is_err());
        config.dev_mode = true;
        assert!(load_jwt_secret(&config).is_ok());
    }
}
