//! Argon2's working memory, and the bound on concurrent password hashes.
//!
//! Each hash needs `m_cost` KiB (19 MiB at the OWASP parameters). Left to
//! argon2, every hash allocates it afresh and glibc keeps the freed blocks in
//! its per-thread arenas: a burst of 200 sign-ins left the server at 261 MiB
//! (issue 19). Here there is at most one buffer per permit of the semaphore
//! that bounds concurrent hashes; a burst reuses them, and the last caller to
//! leave releases them and asks the allocator to give the pages back to the OS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use argon2::Block;
use tokio::sync::Semaphore;

struct Pool {
    /// Bounds concurrent hashes to the number of cores, so a burst of
    /// sign-ins queues instead of starving every other request.
    permits: Arc<Semaphore>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Callers inside [`run`], waiting for a permit or hashing.
    callers: usize,
    /// Buffers not in use; each was used by a permit holder.
    free: Vec<Box<[Block]>>,
}

static POOL: LazyLock<Pool> = LazyLock::new(|| {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    Pool {
        permits: Arc::new(Semaphore::new(n)),
        state: Mutex::default(),
    }
});

fn state() -> MutexGuard<'static, State> {
    // The state stays consistent even if a holder panicked (a push or a count).
    POOL.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Run `f` on the blocking pool, once a permit is free, with `blocks` blocks
/// of argon2 memory (contents unspecified: argon2 overwrites them).
pub async fn run<T: Send + 'static>(
    blocks: usize,
    f: impl FnOnce(&mut [Block]) -> T + Send + 'static,
) -> anyhow::Result<T> {
    let caller = Caller::enter();
    let permit = POOL.permits.clone().acquire_owned().await?;
    // The permit, the buffer and the caller's count are given back by the
    // blocking task itself: a request cancelled mid-hash cannot free its
    // permit while its hash still runs (more hashes or buffers than permits).
    let out = tokio::task::spawn_blocking(move || {
        let mut buf = take(blocks);
        let out = f(&mut buf[..blocks]);
        state().free.push(buf);
        drop(permit);
        drop(caller);
        out
    })
    .await?;
    Ok(out)
}

/// A free buffer of at least `blocks` blocks, or a new one. Only a permit
/// holder calls this, so there are never more buffers than permits.
fn take(blocks: usize) -> Box<[Block]> {
    let reused = state().free.pop();
    match reused {
        Some(buf) if buf.len() >= blocks => buf,
        // Too small (a stored hash with a higher cost): replaced, not kept.
        _ => {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            vec![Block::default(); blocks].into_boxed_slice()
        }
    }
}

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// Counts a caller of [`run`] in and out; the last one out releases the
/// buffers.
struct Caller;

impl Caller {
    fn enter() -> Caller {
        state().callers += 1;
        Caller
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        let freed = {
            let mut s = state();
            s.callers -= 1;
            if s.callers == 0 {
                std::mem::take(&mut s.free)
            } else {
                Vec::new()
            }
        };
        if !freed.is_empty() {
            release(freed);
        }
    }
}

/// Free the buffers and trim the heap (which walks the allocator's arenas):
/// on the blocking pool when there is a runtime.
fn release(freed: Vec<Box<[Block]>>) {
    let work = move || {
        drop(freed);
        trim();
    };
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(work)),
        Err(_) => work(),
    }
}

/// Give freed heap pages back to the OS. glibc raises its mmap threshold
/// after the first large free, so later 19 MiB buffers live in an arena that
/// it would otherwise keep at its high-water mark.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim takes no pointers; it only returns free pages of
    // glibc's own heaps to the OS and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test only: the pool is process-wide and tests run in parallel
    /// (the password tests hash into their own memory).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn buffers_are_bounded_reused_and_released() {
        let permits = POOL.permits.available_permits();
        // A burst: some caller is always inside until the end.
        let burst = Caller::enter();
        static LIVE: AtomicUsize = AtomicUsize::new(0);
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                tokio::spawn(run(64, move |blocks| {
                    let live = LIVE.fetch_add(1, Ordering::SeqCst) + 1;
                    PEAK.fetch_max(live, Ordering::SeqCst);
                    blocks[0] = Block::default();
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    LIVE.fetch_sub(1, Ordering::SeqCst);
                    blocks.len() + i
                }))
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap().unwrap(), 64 + i);
        }
        assert!(!state().free.is_empty());
        drop(burst);
        assert!(PEAK.load(Ordering::SeqCst) <= permits);
        // A buffer per permit at most, reused across the 32 calls.
        assert!(ALLOCATIONS.load(Ordering::Relaxed) <= permits);
        // Every caller has left: nothing is kept.
        assert_eq!(state().free.len(), 0);
    }
}
