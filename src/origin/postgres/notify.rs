//! Purge fan-out over LISTEN/NOTIFY (DESIGN.md §4–5): every instance of a fleet listens
//! on [`CHANNEL`]; a purge on one instance, or an import into the store, notifies them all.
//!
//! A payload is the JSON of an [`Invalidation`]. PostgreSQL refuses payloads of 8000 bytes
//! or more, so [`payloads`] splits long key lists over several notifications, and falls
//! back to `{"all":true}` when one key alone is too long or the list needs too many.
//!
//! The listener ([`run`]) holds one connection of its own (not from the pool: a pooled
//! connection would lose its LISTEN on recycling). What it cannot know it assumes the
//! worst of: after reconnecting, after a malformed payload, after the receiver fell
//! behind, it sends [`Invalidation::all`].

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio_postgres::AsyncMessage;

use super::describe;
use super::target::Target;
use crate::origin::Invalidation;

/// The notification channel every instance listens on.
pub const CHANNEL: &str = "synedge_invalidate";
/// Largest payload sent, in bytes: PostgreSQL's limit is 8000, minus some headroom.
pub const MAX_PAYLOAD: usize = 7900;
/// More notifications than this for one invalidation, and `all` is sent instead: a
/// purge that large empties most of the cache anyway.
pub const MAX_NOTIFICATIONS: usize = 64;
/// Invalidations waiting for the cache to apply them.
pub const QUEUE: usize = 1024;
/// Reconnect backoff: first wait, doubling up to the last.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Longest wait for a listener connection to be up and LISTENing.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// `application_name` of the listening connection, so operators (and tests) can tell it
/// from the pool's.
pub const LISTENER_NAME: &str = "synedge-listen";

const ALL: &str = r#"{"keys":[],"surrogate_keys":[],"all":true}"#;

/// The NOTIFY payloads that together carry `inv`, each under [`MAX_PAYLOAD`] bytes.
/// Empty for an empty invalidation.
pub fn payloads(inv: &Invalidation) -> Vec<String> {
    if inv.all {
        return vec![ALL.to_owned()];
    }
    // The first part carries `unidentified`; its length bounds every part's overhead.
    let mut part = Invalidation {
        unidentified: inv.unidentified,
        ..Invalidation::default()
    };
    let empty = json(&Invalidation {
        unidentified: true,
        ..Invalidation::default()
    })
    .len();
    let mut out = Vec::new();
    let mut len = empty;
    let keys = inv.keys.iter().map(|k| (false, k));
    let surrogates = inv.surrogate_keys.iter().map(|k| (true, k));
    for (surrogate, key) in keys.chain(surrogates) {
        // The key as a JSON string, plus a separating comma.
        let add = json(key).len() + 1;
        if empty + add > MAX_PAYLOAD {
            return vec![ALL.to_owned()];
        }
        if len + add > MAX_PAYLOAD {
            out.push(json(&std::mem::take(&mut part)));
            len = empty;
        }
        if surrogate {
            part.surrogate_keys.push(key.clone());
        } else {
            part.keys.push(key.clone());
        }
        len += add;
    }
    if !part.is_empty() {
        out.push(json(&part));
    }
    if out.len() > MAX_NOTIFICATIONS || out.iter().any(|p| p.len() > MAX_PAYLOAD) {
        return vec![ALL.to_owned()];
    }
    out
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("invariant: strings and invalidations serialize")
}

/// What a payload asks for; a payload that is not an invalidation (someone typed a NOTIFY
/// by hand, or a newer build sent something else) is treated as "everything changed".
pub fn parse(payload: &str) -> Invalidation {
    serde_json::from_str(payload).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "unreadable invalidation payload on {CHANNEL}; dropping the whole cache");
        Invalidation::all()
    })
}

/// Why one listening session ended.
enum Ended {
    /// The receiver was dropped: stop.
    ReceiverGone,
    /// The connection failed or closed; `listened` says whether it got as far as LISTEN.
    Lost { error: String, listened: bool },
}

/// Listens until `tx`'s receiver is dropped, reconnecting with backoff whenever the
/// connection is lost, and sending [`Invalidation::all`] after each reconnect.
/// `listening` turns true once the first LISTEN is done (and stays so: after that, what
/// a lost connection misses is covered by the `all`).
pub async fn run(
    target: Target,
    tx: mpsc::Sender<Invalidation>,
    listening: Arc<watch::Sender<bool>>,
) {
    let mut pg = target.pg.clone();
    pg.application_name(LISTENER_NAME);
    // Notice a silently dead peer (a failed-over server, a cut network) within about a
    // minute instead of TCP's default two hours.
    pg.keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .keepalives_interval(Duration::from_secs(10))
        .keepalives_retries(3);
    let mut backoff = FIRST_BACKOFF;
    // Nothing can have been missed before the first connection: the cache is empty.
    let mut missed = false;
    loop {
        match session(&pg, &target, &tx, missed, &listening).await {
            Ended::ReceiverGone => return,
            Ended::Lost { error, listened } => {
                if listened {
                    backoff = FIRST_BACKOFF;
                }
                tracing::warn!(origin = %target.shown, %error, retry_in = ?backoff, "lost the invalidation listener connection");
            }
        }
        missed = true;
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = tx.closed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection: connect, LISTEN, announce `all` when something may have been missed,
/// then forward notifications until the connection or the receiver goes away.
async fn session(
    pg: &tokio_postgres::Config,
    target: &Target,
    tx: &mpsc::Sender<Invalidation>,
    missed: bool,
    listening: &watch::Sender<bool>,
) -> Ended {
    let lost = |error: String, listened| Ended::Lost { error, listened };
    // Connecting and LISTEN must finish in time: a server that accepts connections but
    // never answers would otherwise hold this session forever.
    let deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    let connect = pg.connect(target.tls.clone());
    let (client, mut conn) = tokio::select! {
        r = connect => match r {
            Ok(pair) => pair,
            Err(e) => return lost(describe(&e), false),
        },
        () = tokio::time::sleep_until(deadline) => return lost(format!("no connection within {SETUP_TIMEOUT:?}"), false),
        () = tx.closed() => return Ended::ReceiverGone,
    };
    // The connection only makes progress while polled, so LISTEN runs alongside it.
    let sql = format!("LISTEN {CHANNEL}");
    let listen = client.batch_execute(&sql);
    let mut listen = std::pin::pin!(listen);
    let mut early = Vec::new();
    loop {
        tokio::select! {
            r = &mut listen => match r {
                Ok(()) => break,
                Err(e) => return lost(describe(&e), false),
            },
            m = poll_fn(|cx| conn.poll_message(cx)) => match m {
                Some(Ok(AsyncMessage::Notification(n))) => early.push(n),
                Some(Ok(_)) => {}
                Some(Err(e)) => return lost(describe(&e), false),
                None => return lost("connection closed".to_owned(), false),
            },
            () = tokio::time::sleep_until(deadline) => return lost(format!("LISTEN not done within {SETUP_TIMEOUT:?}"), false),
        }
    }
    tracing::debug!(origin = %target.shown, "listening for invalidations on {CHANNEL}");
    listening.send_replace(true);
    let mut forward = Forward {
        tx,
        overflowed: false,
    };
    if missed && forward.send(Invalidation::all()).is_err() {
        return Ended::ReceiverGone;
    }
    for n in early {
        if n.channel() == CHANNEL && forward.send(parse(n.payload())).is_err() {
            return Ended::ReceiverGone;
        }
    }
    loop {
        tokio::select! {
            m = poll_fn(|cx| conn.poll_message(cx)) => match m {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if n.channel() == CHANNEL && forward.send(parse(n.payload())).is_err() {
                        return Ended::ReceiverGone;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return lost(describe(&e), true),
                None => return lost("connection closed".to_owned(), true),
            },
            permit = tx.reserve(), if forward.overflowed => match permit {
                Ok(permit) => {
                    permit.send(Invalidation::all());
                    forward.overflowed = false;
                }
                Err(_) => return Ended::ReceiverGone,
            },
            () = tx.closed() => return Ended::ReceiverGone,
        }
    }
}

/// Hands invalidations to the receiver without ever waiting for it: when its queue is
/// full, what does not fit is summed up as one `all`, sent as soon as there is room.
struct Forward<'a> {
    tx: &'a mpsc::Sender<Invalidation>,
    /// Something was dropped; an `all` is owed.
    overflowed: bool,
}

/// The receiver is gone.
struct Closed;

impl Forward<'_> {
    fn send(&mut self, inv: Invalidation) -> Result<(), Closed> {
        if self.overflowed || inv.is_empty() {
            // The `all` still owed covers this one.
            return Ok(());
        }
        match self.tx.try_send(inv) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                tracing::warn!("invalidation queue full; the whole cache will be dropped");
                self.overflowed = true;
                Ok(())
            }
            Err(TrySendError::Closed(_)) => Err(Closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(payloads: &[String]) -> Invalidation {
        let mut all = Invalidation::default();
        for p in payloads {
            let inv: Invalidation = serde_json::from_str(p).unwrap();
            all.keys.extend(inv.keys);
            all.surrogate_keys.extend(inv.surrogate_keys);
            all.all |= inv.all;
        }
        all
    }

    #[test]
    fn small_invalidations_fit_one_notification() {
        let inv = Invalidation {
            keys: vec!["shop-one|en-gb|ean:04006381333931".into()],
            surrogate_keys: vec!["brand:acme".into(), "product:acme/x100b".into()],
            ..Invalidation::default()
        };
        let p = payloads(&inv);
        assert_eq!(p.len(), 1);
        assert_eq!(collect(&p), inv);
        assert!(payloads(&Invalidation::default()).is_empty());
        assert_eq!(
            collect(&payloads(&Invalidation::all())),
            Invalidation::all()
        );
    }

    #[test]
    fn long_lists_are_split_under_the_limit_in_order() {
        let inv = Invalidation {
            keys: (0..300)
                .map(|i| format!("retailer-{i}|de-de|sku:\"q\"{i}"))
                .collect(),
            surrogate_keys: (0..900)
                .map(|i| format!("product:brand{i}/mpn{i}"))
                .collect(),
            ..Invalidation::default()
        };
        let p = payloads(&inv);
        assert!(p.len() > 3, "{}", p.len());
        for one in &p {
            assert!(one.len() <= MAX_PAYLOAD, "{}", one.len());
        }
        assert_eq!(collect(&p), inv);
    }

    #[test]
    fn a_key_too_long_or_too_many_keys_mean_all() {
        let huge = Invalidation {
            keys: vec!["k".repeat(MAX_PAYLOAD)],
            ..Invalidation::default()
        };
        assert_eq!(payloads(&huge), vec![ALL.to_owned()]);
        let many = Invalidation {
            surrogate_keys: (0..100_000).map(|i| format!("product:b/{i:08}")).collect(),
            ..Invalidation::default()
        };
        assert_eq!(payloads(&many), vec![ALL.to_owned()]);
    }

    #[test]
    fn unreadable_payloads_mean_all() {
        assert_eq!(parse("hello"), Invalidation::all());
        assert_eq!(parse(r#"{"keys":["a"]}"#).keys, vec!["a".to_owned()]);
    }

    #[tokio::test]
    async fn a_full_queue_owes_one_all() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut f = Forward {
            tx: &tx,
            overflowed: false,
        };
        let one = Invalidation {
            keys: vec!["a".into()],
            ..Invalidation::default()
        };
        assert!(f.send(one.clone()).is_ok());
        assert!(f.send(one.clone()).is_ok());
        assert!(f.overflowed);
        assert_eq!(rx.recv().await, Some(one));
        drop(rx);
        f.overflowed = false;
        assert!(f.send(Invalidation::all()).is_err());
    }
}
