//! argon2id password hashing, on a bounded pool of dedicated threads.
//!
//! One argon2id hash with the default parameters fills 19 MiB of memory. Run on the blocking
//! pool, ten logins at once meant ten threads with ten 19 MiB buffers, and glibc kept the freed
//! buffers in its per-thread arenas: the master went from 44 MB to 279 MB of RSS and never gave it
//! back. [`PasswordPool`] bounds and returns that memory:
//! - about one hashing thread per core, with a bounded queue in front (a full queue is refused, so
//!   a login flood waits or is told to retry instead of piling up work);
//! - each thread keeps one memory block while work is queued and frees it as soon as the queue
//!   is empty;
//! - the block is reserved with at least [`MMAP_ALWAYS_BYTES`] of capacity (only the part argon2
//!   needs is ever touched, so the rest costs address space, not memory). glibc serves requests
//!   above 32 MiB with `mmap` whatever its dynamic threshold says and never raises that threshold
//!   for them, so freeing the block is a `munmap` and the pages go back to the system at once.
//!   (Smaller blocks would raise the threshold on their first free and be recycled from arenas
//!   that glibc does not trim.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, TryLockError};

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use tokio::sync::oneshot;

/// Longest password accepted, to bound hashing work.
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Largest argon2 memory cost (KiB) a stored hash may ask for: 64 MiB, a bit over three times the
/// default. An imported hash asking for more could make every login for that user allocate
/// gigabytes.
pub const MAX_M_COST_KIB: u32 = 64 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;

/// Capacity reserved for a memory block, above glibc's largest dynamic mmap threshold (32 MiB
/// on 64-bit), so that the block is always its own mapping and freeing it unmaps it.
pub const MMAP_ALWAYS_BYTES: usize = 33 * 1024 * 1024;

/// The parameters new hashes are made with (argon2id, OWASP's 19 MiB / t=2 / p=1).
fn default_params() -> Params {
    Params::default()
}

/// Hashes `password` with fresh memory (used outside the pool: the admin commands, start-up).
pub fn hash(password: &str) -> anyhow::Result<String> {
    hash_with(password, &mut Memory::default())
}

/// True when `password` matches `hash`. A malformed hash never matches. Fresh memory.
pub fn verify(password: &str, hash: &str) -> bool {
    verify_with(password, hash, &mut Memory::default())
}

/// Checks a new password; the error says what to change.
pub fn check_policy(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "password must be at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Ok(())
}

/// A stored-hash format check for imports: only argon2id PHC strings whose cost stays within
/// what a login may spend (at most [`MAX_M_COST_KIB`] of memory) are accepted.
pub fn is_valid_hash(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        h.algorithm.as_str() == "argon2id"
            && h.salt.is_some()
            && h.hash.is_some()
            && Params::try_from(&h).is_ok_and(|p| within_bounds(&p))
    })
}

fn within_bounds(p: &Params) -> bool {
    p.m_cost() <= MAX_M_COST_KIB && p.t_cost() <= MAX_T_COST && p.p_cost() <= MAX_P_COST
}

/// One thread's argon2 working memory, kept between jobs while work is queued.
#[derive(Default)]
struct Memory {
    blocks: Vec<Block>,
    /// The pool's count of threads holding a block (`None` outside the pool).
    held: Option<Arc<AtomicUsize>>,
}

impl Memory {
    fn counted(held: Arc<AtomicUsize>) -> Self {
        Self {
            blocks: Vec::new(),
            held: Some(held),
        }
    }

    /// `count` zeroed-or-reused blocks, reserved as one mapping of at least [`MMAP_ALWAYS_BYTES`].
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            if self.blocks.is_empty()
                && let Some(held) = &self.held
            {
                held.fetch_add(1, Ordering::Relaxed);
            }
            let capacity = count.max(MMAP_ALWAYS_BYTES / Block::SIZE);
            let mut blocks = Vec::with_capacity(capacity);
            blocks.resize(count, Block::default());
            self.blocks = blocks;
        }
        &mut self.blocks[..count]
    }

    /// Gives the memory back to the system.
    fn release(&mut self) {
        if !self.blocks.is_empty()
            && let Some(held) = &self.held
        {
            held.fetch_sub(1, Ordering::Relaxed);
        }
        self.blocks = Vec::new();
    }
}

fn hash_with(password: &str, memory: &mut Memory) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let params = default_params();
    let output = compute(
        password.as_bytes(),
        salt.as_salt(),
        Version::V0x13,
        params.clone(),
        memory,
    )
    .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("hashing: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

fn verify_with(password: &str, hash: &str, memory: &mut Memory) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if !within_bounds(&params) {
        tracing::warn!(
            m_cost = params.m_cost(),
            "stored password hash asks for more work than allowed; refusing the login"
        );
        return false;
    }
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .ok()
        .flatten()
        .unwrap_or_default();
    // `Output`'s equality is constant-time.
    compute(password.as_bytes(), salt, version, params, memory).is_ok_and(|out| out == expected)
}

fn compute(
    password: &[u8],
    salt: Salt<'_>,
    version: Version,
    params: Params,
    memory: &mut Memory,
) -> Result<Output, argon2::password_hash::Error> {
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let count = params.block_count();
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
    Output::init_with(len, |out| {
        argon2
            .hash_password_into_with_memory(password, salt, out, memory.blocks(count))
            .map_err(argon2::password_hash::Error::from)
    })
}

/// Why the pool did not take a job.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Every thread is busy and the queue is full: retry shortly.
    #[error("the server is busy checking passwords; retry in a moment")]
    Busy,
    #[error("the password pool has stopped")]
    Stopped,
    #[error(transparent)]
    Hash(#[from] anyhow::Error),
}

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<anyhow::Result<String>>,
    },
    Verify {
        password: String,
        hash: String,
        reply: oneshot::Sender<bool>,
    },
}

/// The password hashing pool: `threads` dedicated threads behind a queue of `queue` jobs.
/// Owns the hashing memory (at most one block per thread, freed when the queue runs empty).
/// Cheap to clone; the threads end when the last clone is dropped.
#[derive(Clone)]
pub struct PasswordPool {
    jobs: SyncSender<Job>,
    threads: usize,
    /// Threads holding a memory block right now (0 when the pool is idle).
    held: Arc<AtomicUsize>,
}

impl PasswordPool {
    /// Starts the threads. `threads == 0` means one per available core.
    pub fn start(threads: usize, queue: usize) -> std::io::Result<Self> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            threads
        };
        let (jobs, rx) = sync_channel(queue.max(1));
        // The threads take turns at the one receiver; this lock never leaves this module.
        let rx = Arc::new(Mutex::new(rx));
        let held = Arc::new(AtomicUsize::new(0));
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let memory = Memory::counted(Arc::clone(&held));
            std::thread::Builder::new()
                .name(format!("cb-argon2-{i}"))
                .spawn(move || work(&rx, memory))?;
        }
        Ok(Self {
            jobs,
            threads,
            held,
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Threads holding a hashing memory block right now (about 19 MiB each).
    pub fn blocks_held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// A new argon2id PHC string for `password`.
    pub async fn hash(&self, password: String) -> Result<String, PoolError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        Ok(rx.await.map_err(|_| PoolError::Stopped)??)
    }

    /// True when `password` matches `hash`; a malformed or over-costly hash never matches.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, PoolError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            hash,
            reply,
        })?;
        rx.await.map_err(|_| PoolError::Stopped)
    }

    fn submit(&self, job: Job) -> Result<(), PoolError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => PoolError::Busy,
            TrySendError::Disconnected(_) => PoolError::Stopped,
        })
    }
}

fn work(rx: &Mutex<Receiver<Job>>, mut memory: Memory) {
    loop {
        let job = {
            // The lock is held by a thread that takes a job (a moment) or that waits for one
            // (the queue is empty): either way this thread may wait long, so it gives its block
            // back first. Before, a thread that blocked here kept its block for as long as the
            // master stayed idle.
            let rx = match rx.try_lock() {
                Ok(rx) => rx,
                Err(TryLockError::WouldBlock) => {
                    memory.release();
                    let Ok(rx) = rx.lock() else {
                        return;
                    };
                    rx
                }
                Err(TryLockError::Poisoned(_)) => return,
            };
            match rx.try_recv() {
                Ok(job) => job,
                Err(TryRecvError::Empty) => {
                    // Nothing queued: give the block back before waiting.
                    memory.release();
                    match rx.recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    }
                }
                Err(TryRecvError::Disconnected) => return,
            }
        };
        // A receiver that went away (the client hung up) just drops the answer.
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_with(&password, &mut memory));
            }
            Job::Verify {
                password,
                hash,
                reply,
            } => {
                let _ = reply.send(verify_with(&password, &hash, &mut memory));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_argon2id_and_verifies() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(is_valid_hash(&h));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("x", "not a hash"));
        assert!(check_policy("short").is_err());
        assert!(check_policy("long enough pw").is_ok());
    }

    #[test]
    fn reads_hashes_made_by_the_argon2_crate() {
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify("correct horse battery", &theirs));
        assert!(!verify("correct horse batterz", &theirs));
        // Small costs (as in fast test fixtures) verify too.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &salt)
        .unwrap()
        .to_string();
        assert!(verify("pw", &small));
    }

    #[test]
    fn refuses_hashes_that_ask_for_too_much_memory() {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let huge = format!(
            "$argon2id$v=19$m={},t=2,p=1${}$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            MAX_M_COST_KIB + 1,
            salt.as_str()
        );
        assert!(PasswordHash::new(&huge).is_ok());
        assert!(!is_valid_hash(&huge));
        assert!(!verify("anything", &huge));
    }

    #[actix_rt::test]
    async fn the_pool_hashes_and_verifies() {
        let pool = PasswordPool::start(2, 4).unwrap();
        let h = pool.hash("correct horse battery".into()).await.unwrap();
        assert!(
            pool.verify("correct horse battery".into(), h.clone())
                .await
                .unwrap()
        );
        assert!(!pool.verify("wrong password".into(), h).await.unwrap());
    }

    /// Every thread gives its block back once the queue is empty, also the one that ends up
    /// waiting for the lock rather than for a job.
    #[actix_rt::test]
    async fn an_idle_pool_holds_no_memory() {
        let pool = PasswordPool::start(2, 8).unwrap();
        for _ in 0..3 {
            let hashes = futures_util::future::join_all(
                (0..4).map(|_| pool.hash("correct horse battery".into())),
            )
            .await;
            assert!(hashes.iter().all(Result::is_ok));
            let mut waited = 0;
            while pool.blocks_held() > 0 {
                assert!(
                    waited < 500,
                    "{} threads still hold their block 10 s after the last job",
                    pool.blocks_held()
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                waited += 1;
            }
        }
    }
}
