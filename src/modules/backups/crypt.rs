//! Encryption of stored archives with age (its hybrid post-quantum recipients, ML-KEM-768 +
//! X25519, which the crate recommends over plain X25519): each job that turns encryption on gets its
//! own key pair, generated on the master and kept sealed in the job's definition. Archives are
//! encrypted to the job's public key as they stream (`tar → zstd → age → SHA-256 → storage`) and
//! decrypted as they stream back (verify, restore). The key never leaves the master.

use age::secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::compat::{
    FuturesAsyncReadCompatExt, FuturesAsyncWriteCompatExt, TokioAsyncReadCompatExt,
    TokioAsyncWriteCompatExt,
};

use super::BackupError;
use crate::state::AppState;

/// The extension added to the key of an encrypted object (`….tar.zst.age`): how verify, restore
/// and download know that a record's object is encrypted.
pub const EXTENSION: &str = "age";

/// Whether the object under `key` is encrypted.
pub fn is_encrypted(key: &str) -> bool {
    key.ends_with(".age")
}

/// A new identity (`AGE-SECRET-KEY-PQ-1…`), to be sealed at once.
pub fn new_identity() -> String {
    age::pq::Identity::generate()
        .to_string()
        .expose_secret()
        .to_owned()
}

/// The job's identity, unsealed.
pub fn identity_of(
    state: &AppState,
    sealed: Option<&str>,
) -> Result<age::pq::Identity, BackupError> {
    let sealed = sealed.ok_or_else(|| {
        BackupError::Corrupt("the archive is encrypted but the job has no age key".into())
    })?;
    let text = state
        .secret_box
        .open(sealed)
        .map_err(|e| BackupError::Storage(format!("unsealing the job's age key: {e}")))?;
    text.parse::<age::pq::Identity>()
        .map_err(|e| BackupError::Storage(format!("the job's age key is not valid: {e}")))
}

/// A writer that encrypts to `identity`'s public key into `inner`; shutting it down writes the
/// last chunk (and shuts `inner` down).
pub async fn encrypt<W: AsyncWrite + Unpin + Send>(
    identity: &age::pq::Identity,
    inner: W,
) -> Result<impl AsyncWrite + Unpin + Send + use<W>, BackupError> {
    let recipient = identity.to_public();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| BackupError::Storage(format!("starting the encryption: {e}")))?;
    let writer = encryptor
        .wrap_async_output(inner.compat_write())
        .await
        .map_err(|e| BackupError::Storage(format!("writing the archive: {e}")))?;
    Ok(writer.compat_write())
}

/// A reader of what `inner` holds, decrypted with `identity`; a stream that is not age, or not
/// for this key, fails here, a damaged chunk fails the read.
pub async fn decrypt<R: AsyncRead + Unpin + Send>(
    identity: &age::pq::Identity,
    inner: R,
) -> Result<impl AsyncRead + Unpin + Send + use<R>, BackupError> {
    let decryptor = age::Decryptor::new_async(inner.compat())
        .await
        .map_err(|e| BackupError::Corrupt(format!("the archive is not an age file: {e}")))?;
    let reader = decryptor
        .decrypt_async(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| {
            BackupError::Corrupt(format!(
                "the archive does not decrypt with the job's key: {e}"
            ))
        })?;
    Ok(reader.compat())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn round_trips_and_refuses_damage() {
        let id: age::pq::Identity = new_identity().parse().unwrap();
        let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut sealed = Vec::new();
        {
            let mut w = encrypt(&id, &mut sealed).await.unwrap();
            w.write_all(&plain).await.unwrap();
            w.shutdown().await.unwrap();
        }
        assert!(sealed.starts_with(b"age-encryption.org/v1"));
        assert!(!sealed.windows(64).any(|w| w == &plain[..64]));
        let mut back = Vec::new();
        decrypt(&id, &sealed[..])
            .await
            .unwrap()
            .read_to_end(&mut back)
            .await
            .unwrap();
        assert_eq!(back, plain);
        let mut damaged = sealed.clone();
        let n = damaged.len();
        damaged[n - 100] ^= 1;
        let mut out = Vec::new();
        let read = match decrypt(&id, &damaged[..]).await {
            Ok(mut r) => r.read_to_end(&mut out).await.map(|_| ()),
            Err(e) => Err(std::io::Error::other(e.to_string())),
        };
        assert!(read.is_err());
        let other: age::pq::Identity = new_identity().parse().unwrap();
        assert!(decrypt(&other, &sealed[..]).await.is_err());
    }
}
