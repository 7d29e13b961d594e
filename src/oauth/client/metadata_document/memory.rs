//! What one instance keeps in memory of metadata documents: the outcome of
//! recent fetches (a validated document until its cache time is over, a
//! refusal for `cimd.failure_cache_secs`), and the fetches running now, so
//! that concurrent requests for one URL share one fetch (single flight).
//!
//! A document no member has authorized lives only here, never in the
//! database: anyone can name any URL, so storing every one would let them
//! fill the `clients` table. The map is bounded ([`MAX_ENTRIES`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OnceCell;

use crate::oauth::client::model::ClientMetadata;
use crate::oauth::error::OAuthError;

/// Bound on remembered outcomes; beyond it expired entries are dropped,
/// then those closest to expiry.
pub const MAX_ENTRIES: usize = 10_000;

/// A fetched and validated document.
#[derive(Debug)]
pub struct Document {
    pub meta: ClientMetadata,
    /// The JSON as fetched, stored with the client for audit.
    pub body: String,
    pub fetched_at: i64,
    /// Until when it may be used without fetching again (Unix seconds).
    pub expires_at: i64,
}

/// What a fetch came to: the document, or why it cannot be used (or that
/// the fetch was refused, e.g. over a rate limit).
pub type Outcome = Result<Arc<Document>, OAuthError>;

/// One fetch of one URL, awaited by every request that wants it meanwhile.
pub type Flight = Arc<OnceCell<Outcome>>;

struct Entry {
    outcome: Outcome,
    until: i64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    flights: HashMap<String, Flight>,
}

/// See the module documentation.
#[derive(Default)]
pub struct Documents {
    inner: Mutex<Inner>,
}

/// Where a request for a URL stands.
pub enum Lookup {
    /// Known and still valid at the time asked.
    Known(Outcome),
    /// To be fetched: await this flight (joined, or just started).
    Fetch(Flight),
}

impl Documents {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The remembered outcome for `url` at `now`, or the flight to await.
    /// Refusals are always answered; a validated document only when
    /// `use_document` (a stored client follows its database entry instead).
    /// Both maps are read under one lock, so a request never misses a fetch
    /// that just ended.
    pub fn lookup(&self, url: &str, now: i64, use_document: bool) -> Lookup {
        let mut inner = self.lock();
        if let Some(e) = inner.entries.get(url)
            && e.until > now
            && (use_document || e.outcome.is_err())
        {
            return Lookup::Known(e.outcome.clone());
        }
        Lookup::Fetch(inner.flights.entry(url.to_string()).or_default().clone())
    }

    /// The validated document of `url`, if one is remembered, even past its
    /// cache time: for a page whose request was validated moments ago (a
    /// document valid then may have expired since).
    pub fn document(&self, url: &str) -> Option<Arc<Document>> {
        match &self.lock().entries.get(url)?.outcome {
            Ok(doc) => Some(doc.clone()),
            Err(_) => None,
        }
    }

    /// `flight` of `url` is over: remember `outcome` until `until` (if
    /// given), and let the next request start a new flight.
    pub fn land(
        &self,
        url: &str,
        flight: &Flight,
        outcome: &Outcome,
        until: Option<i64>,
        now: i64,
    ) {
        let mut inner = self.lock();
        if let Some(until) = until {
            if !inner.entries.contains_key(url) && inner.entries.len() >= MAX_ENTRIES {
                make_room(&mut inner.entries, now);
            }
            inner.entries.insert(
                url.to_string(),
                Entry {
                    outcome: outcome.clone(),
                    until,
                },
            );
        }
        if inner
            .flights
            .get(url)
            .is_some_and(|f| Arc::ptr_eq(f, flight))
        {
            inner.flights.remove(url);
        }
    }

    /// Forget `url` (its client is now stored: the database entry rules).
    pub fn forget(&self, url: &str) {
        self.lock().entries.remove(url);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

/// Drop expired entries; if none was, the one closest to expiry.
fn make_room(entries: &mut HashMap<String, Entry>, now: i64) {
    let before = entries.len();
    entries.retain(|_, e| e.until > now);
    if entries.len() == before
        && let Some(first) = entries
            .iter()
            .min_by_key(|(_, e)| e.until)
            .map(|(k, _)| k.clone())
    {
        entries.remove(&first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(why: &str) -> Outcome {
        Err(OAuthError::invalid_client(why, false))
    }

    fn flight(d: &Documents, url: &str, now: i64) -> Flight {
        match d.lookup(url, now, true) {
            Lookup::Fetch(f) => f,
            Lookup::Known(_) => panic!("known"),
        }
    }

    #[test]
    fn one_flight_per_url_until_it_lands() {
        let d = Documents::default();
        let a = flight(&d, "u", 0);
        let b = flight(&d, "u", 0);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &flight(&d, "v", 0)));
        d.land("u", &a, &refused("x"), Some(30), 0);
        assert!(matches!(d.lookup("u", 29, false), Lookup::Known(Err(_))));
        // Expired: a new flight.
        let c = flight(&d, "u", 30);
        assert!(!Arc::ptr_eq(&a, &c));
        // A late landing of an old flight does not end the new one.
        d.land("u", &a, &refused("x"), None, 30);
        assert!(Arc::ptr_eq(&c, &flight(&d, "u", 30)));
    }

    #[test]
    fn documents_only_when_asked_for() {
        let d = Documents::default();
        let f = flight(&d, "u", 0);
        let doc = Arc::new(Document {
            meta: crate::oauth::client::metadata::validate(
                serde_json::json!({"redirect_uris": ["http://127.0.0.1/cb"]})
                    .as_object()
                    .unwrap(),
            )
            .unwrap(),
            body: "{}".into(),
            fetched_at: 0,
            expires_at: 300,
        });
        d.land("u", &f, &Ok(doc), Some(300), 0);
        assert!(matches!(d.lookup("u", 1, true), Lookup::Known(Ok(_))));
        assert!(matches!(d.lookup("u", 1, false), Lookup::Fetch(_)));
        assert!(d.document("u").is_some());
        d.forget("u");
        assert!(d.document("u").is_none());
    }

    #[test]
    fn bounded() {
        let d = Documents::default();
        for i in 0..MAX_ENTRIES + 5 {
            let url = format!("u{i}");
            let f = flight(&d, &url, 0);
            d.land(&url, &f, &refused("x"), Some(100 + i as i64), 0);
        }
        assert_eq!(d.len(), MAX_ENTRIES);
        // The ones closest to expiry went first.
        assert!(matches!(d.lookup("u0", 1, true), Lookup::Fetch(_)));
        assert!(matches!(
            d.lookup(&format!("u{}", MAX_ENTRIES + 4), 1, true),
            Lookup::Known(_)
        ));
    }
}
