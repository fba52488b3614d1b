//! Per-thread stripes of counters: what every request writes, each core writes its own.
//!
//! A count that every request adds to, kept in one atomic, is one cache line that all
//! cores serving requests write: each add waits for the line to come over from the core
//! that wrote it last. [`Striped`] keeps one copy of a set of counters per stripe, each
//! on cache lines of its own; a thread writes the stripe picked for it on its first
//! write, and readers (the `/metrics` render, the scaler's window snapshot) sum the
//! stripes. Writers stay relaxed atomic adds, since threads may outnumber stripes.

use std::cell::Cell;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// At most this many stripes, whatever the core count.
const MAX_STRIPES: usize = 32;

/// Stripes per [`Striped`]: twice the cores this process may use, as a power of two so
/// a thread's stripe is a mask away. Twice, because stripes go round-robin to every
/// thread that writes (the runtime's workers, but also a blocking-pool or test thread
/// now and then), so that two workers rarely land on one stripe.
static STRIPES: LazyLock<usize> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    (2 * cores).next_power_of_two().min(MAX_STRIPES)
});

/// The next thread's index, handed out on a thread's first write.
static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's index: the same for the thread's life, taken round-robin on first use.
#[inline]
fn thread_index() -> usize {
    INDEX.with(|i| {
        let v = i.get();
        if v != usize::MAX {
            return v;
        }
        let v = NEXT.fetch_add(1, Relaxed) % MAX_STRIPES;
        i.set(v);
        v
    })
}

/// One stripe, alone on its cache lines (128 bytes: two 64-byte lines, since x86 cores
/// fetch lines in adjacent pairs, and the line size of Apple's arm64 cores).
#[repr(align(128))]
#[derive(Default)]
struct Padded<T>(T);

/// One `T` per stripe: writers add to [`Self::local`], readers sum over [`Self::iter`].
pub struct Striped<T> {
    stripes: Box<[Padded<T>]>,
    /// Stripe count minus one (the count is a power of two).
    mask: usize,
}

impl<T> std::fmt::Debug for Striped<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Striped")
            .field("stripes", &self.stripes.len())
            .finish_non_exhaustive()
    }
}

impl<T: Default> Default for Striped<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Default> Striped<T> {
    /// As many stripes as suit this machine (see [`STRIPES`]).
    pub fn new() -> Self {
        Self::with_stripes(*STRIPES)
    }

    /// `n` stripes, rounded up to a power of two (at least one).
    pub fn with_stripes(n: usize) -> Self {
        let n = n.max(1).next_power_of_two();
        Self {
            stripes: (0..n).map(|_| Padded::default()).collect(),
            mask: n - 1,
        }
    }
}

impl<T> Striped<T> {
    /// The calling thread's stripe, to write to.
    #[inline]
    pub fn local(&self) -> &T {
        &self.stripes[thread_index() & self.mask].0
    }

    /// Every stripe, to sum.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.stripes.iter().map(|p| &p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn adds_from_many_threads_sum_and_spread_over_stripes() {
        let s: Striped<AtomicU64> = Striped::with_stripes(4);
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        s.local().fetch_add(1, Relaxed);
                    }
                });
            }
        });
        let per: Vec<u64> = s.iter().map(|c| c.load(Relaxed)).collect();
        assert_eq!(per.iter().sum::<u64>(), 16_000, "{per:?}");
        // Sixteen threads take sixteen consecutive indices (others' threads may take
        // some between): they cannot all fall on one of four stripes.
        assert!(per.iter().filter(|&&n| n > 0).count() > 1, "{per:?}");
    }

    #[test]
    fn a_thread_keeps_its_stripe_and_stripes_do_not_share_lines() {
        let s: Striped<AtomicU64> = Striped::with_stripes(3);
        assert_eq!(s.iter().count(), 4, "rounded up to a power of two");
        assert!(std::ptr::eq(s.local(), s.local()));
        let addrs: Vec<usize> = s.iter().map(|c| std::ptr::from_ref(c) as usize).collect();
        for w in addrs.windows(2) {
            assert!(w[1] - w[0] >= 128, "{addrs:?}");
        }
        assert!(*STRIPES >= 2 && STRIPES.is_power_of_two() && *STRIPES <= MAX_STRIPES);
    }
}
