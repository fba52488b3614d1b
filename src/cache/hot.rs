//! The hot set: which entries were requested most lately, measured on the hit path at
//! the cost of two relaxed loads and one relaxed store, and ranked only when someone
//! asks (a peer warming its cache, `GET /admin/v1/cache/hot`).
//!
//! Each entry carries a [`Heat`]: a hit count and the *epoch* it was last counted in,
//! packed into one `AtomicU64`. An epoch is [`HALF_LIFE`] long; a count carried into a
//! later epoch is halved once per epoch passed, so an entry that was hot an hour ago
//! and idle since ranks below one hit a few times this minute. Nothing sweeps the
//! entries: the decay is applied when an entry is counted or ranked, against the epoch
//! [`HotClock`] holds (advanced by the cache's upkeep).
//!
//! Invariants: the hit path takes no lock, allocates nothing and does no
//! read-modify-write (a load and a store: two hits racing on one key may count once,
//! which a ranking does not notice); ranking is O(entries · log limit) and runs off the
//! hit path.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How long one epoch lasts: a count loses half its weight per epoch it is not renewed.
pub const HALF_LIFE: Duration = Duration::from_secs(30);

/// An entry's recent popularity; see the module docs.
#[derive(Debug, Default)]
pub struct Heat(AtomicU64);

impl Clone for Heat {
    fn clone(&self) -> Self {
        Self(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl Heat {
    /// An entry that arrives with `score` (a peer's measure of it) in `epoch`.
    pub fn new(epoch: u32, score: u32) -> Self {
        Self(AtomicU64::new(pack(epoch, score)))
    }

    /// Counts one request in `epoch`.
    #[inline]
    pub fn bump(&self, epoch: u32) {
        let (e, count) = unpack(self.0.load(Ordering::Relaxed));
        let count = decayed(count, e, epoch).saturating_add(1);
        self.0.store(pack(epoch, count), Ordering::Relaxed);
    }

    /// The decayed count as of `epoch`.
    pub fn score(&self, epoch: u32) -> u32 {
        let (e, count) = unpack(self.0.load(Ordering::Relaxed));
        decayed(count, e, epoch)
    }
}

fn pack(epoch: u32, count: u32) -> u64 {
    (u64::from(epoch) << 32) | u64::from(count)
}

fn unpack(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}

fn decayed(count: u32, then: u32, now: u32) -> u32 {
    match now.saturating_sub(then) {
        0 => count,
        n if n >= 32 => 0,
        n => count >> n,
    }
}

/// What [`super::FragmentCache::warm`] did with one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A key this cache did not hold.
    Added,
    /// A newer copy of an entry already held (another peer's, or one fetched meanwhile).
    Replaced,
    /// Kept out: as old as what is held, too old to serve, or older than a purge.
    Skipped,
}

/// The cache-wide clock the heats are measured against, this instance's identity (so
/// it never warms from itself), and when it last applied a purge (so content a peer
/// exported before that purge is not imported after it).
#[derive(Debug)]
pub struct HotClock {
    started: Instant,
    epoch: AtomicU32,
    /// Random per cache: sent by the warm-up client, refused by the export if it is ours.
    id: u64,
    /// Milliseconds after `started` of the last purge applied here, plus one; 0: none.
    last_purge_ms: AtomicU64,
}

impl Default for HotClock {
    fn default() -> Self {
        use std::hash::{BuildHasher as _, Hasher as _};
        // std's `RandomState` is seeded from the OS per process and then per instance:
        // enough for an identity that only has to differ between caches.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(std::process::id().into());
        Self {
            started: Instant::now(),
            epoch: AtomicU32::new(0),
            id: h.finish(),
            last_purge_ms: AtomicU64::new(0),
        }
    }
}

impl HotClock {
    /// The current epoch, as last advanced by [`Self::tick`].
    #[inline]
    pub fn epoch(&self) -> u32 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Advances the epoch to match the time (called from the cache's upkeep).
    pub fn tick(&self) {
        let e = self.started.elapsed().as_secs() / HALF_LIFE.as_secs();
        self.epoch
            .store(u32::try_from(e).unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Notes that a purge is being applied now.
    pub fn note_purge(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_purge_ms
            .store(ms.saturating_add(1), Ordering::Release);
    }

    /// Whether an entry stored at `stored_at` may predate a purge applied here (and so
    /// hold content that purge removed).
    pub fn predates_purge(&self, stored_at: Instant) -> bool {
        match self.last_purge_ms.load(Ordering::Acquire) {
            0 => false,
            ms => stored_at <= self.started + Duration::from_millis(ms),
        }
    }
}

/// The `limit` items with the highest scores, highest first (ties in no set order).
pub fn top<T>(items: impl Iterator<Item = (u32, T)>, limit: usize) -> Vec<(u32, T)> {
    if limit == 0 {
        return Vec::new();
    }
    // A min-heap of the best `limit` so far: each item costs at most one log(limit) push.
    struct Ranked<T>(u32, u64, T);
    impl<T> PartialEq for Ranked<T> {
        fn eq(&self, o: &Self) -> bool {
            (self.0, self.1) == (o.0, o.1)
        }
    }
    impl<T> Eq for Ranked<T> {}
    impl<T> PartialOrd for Ranked<T> {
        fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(o))
        }
    }
    impl<T> Ord for Ranked<T> {
        fn cmp(&self, o: &Self) -> std::cmp::Ordering {
            (self.0, self.1).cmp(&(o.0, o.1))
        }
    }
    let mut heap: BinaryHeap<Reverse<Ranked<T>>> = BinaryHeap::with_capacity(limit.min(4096));
    for (seq, (score, item)) in (0u64..).zip(items) {
        // Earlier items win ties.
        let seq = u64::MAX - seq;
        if heap.len() < limit {
            heap.push(Reverse(Ranked(score, seq, item)));
        } else if heap
            .peek()
            .is_some_and(|Reverse(min)| (score, seq) > (min.0, min.1))
        {
            heap.pop();
            heap.push(Reverse(Ranked(score, seq, item)));
        }
    }
    let mut out: Vec<(u32, T)> = heap
        .into_sorted_vec()
        .into_iter()
        .map(|Reverse(Ranked(s, _, t))| (s, t))
        .collect();
    // `into_sorted_vec` of `Reverse` is highest first already.
    debug_assert!(out.windows(2).all(|w| w[0].0 >= w[1].0));
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_counts_and_halves_per_epoch() {
        let h = Heat::default();
        for _ in 0..8 {
            h.bump(0);
        }
        assert_eq!(h.score(0), 8);
        assert_eq!(h.score(1), 4);
        assert_eq!(h.score(3), 1);
        assert_eq!(h.score(40), 0);
        h.bump(2);
        assert_eq!(h.score(2), 3);
        assert_eq!(Heat::new(5, 100).score(6), 50);
    }

    #[test]
    fn top_keeps_the_highest_highest_first() {
        let items = [(3, "c"), (9, "a"), (1, "x"), (7, "b"), (0, "y")];
        assert_eq!(
            top(items.into_iter(), 3),
            vec![(9, "a"), (7, "b"), (3, "c")]
        );
        assert_eq!(top(items.into_iter(), 0), vec![]);
        assert_eq!(top(items.into_iter(), 10).len(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_advances_and_remembers_purges() {
        let c = HotClock::default();
        assert_ne!(c.id(), HotClock::default().id());
        let before = Instant::now();
        assert!(!c.predates_purge(before));
        tokio::time::advance(HALF_LIFE * 2).await;
        c.tick();
        assert_eq!(c.epoch(), 2);
        c.note_purge();
        assert!(c.predates_purge(before));
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(!c.predates_purge(Instant::now()));
    }
}
