//! Scrape bodies shared within one sampler tick: the first scrape of an endpoint (and
//! query) after a tick renders the body once, and every other scrape of it until the next
//! tick streams that body, also while it is still being rendered. N pollers cost one render
//! per tick; what they see is what a render at that moment wrote, byte for byte. RabbitMQ's
//! own figures change once per statistics interval too.
//!
//! A body is dropped once the tick it was rendered in has passed (see
//! [`super::offload::Offload::stream_cached`]), so a large scrape is held for one tick at
//! most. At most [`MAX_ENTRIES`] bodies are kept; beyond that, scrapes render uncached.

use super::offload::Work;
use super::shared_body::SharedBody;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bodies kept at once (distinct `/metrics/detailed` queries each have one).
pub const MAX_ENTRIES: usize = 8;

/// One cached body.
#[derive(Debug)]
struct Entry {
    kind: Work,
    key: String,
    tick: u64,
    body: Arc<SharedBody>,
}

/// What a scrape does.
#[derive(Debug)]
pub enum Lookup {
    /// Streams this body, rendered (or being rendered) in the same tick.
    Hit(Arc<SharedBody>),
    /// Renders into this new body, now cached, and streams it.
    Miss(Arc<SharedBody>),
    /// Renders on its own: the cache is full.
    Full,
}

/// The bodies of the current tick.
#[derive(Debug, Default)]
pub struct RenderCache {
    entries: Mutex<Vec<Entry>>,
    renders: AtomicU64,
}

impl RenderCache {
    /// The body of `kind` for `key` in `tick`: cached, or a new one to render. Bodies of
    /// other ticks and failed renders are dropped.
    pub fn lookup(&self, kind: Work, key: &str, tick: u64) -> Lookup {
        let mut entries = self.entries.lock();
        entries.retain(|e| e.tick == tick && !e.body.failed());
        if let Some(e) = entries.iter().find(|e| e.kind == kind && e.key == key) {
            return Lookup::Hit(Arc::clone(&e.body));
        }
        if entries.len() >= MAX_ENTRIES {
            return Lookup::Full;
        }
        let body = SharedBody::new();
        entries.push(Entry {
            kind,
            key: key.to_string(),
            tick,
            body: Arc::clone(&body),
        });
        self.renders.fetch_add(1, Ordering::Relaxed);
        Lookup::Miss(body)
    }

    /// Drops `body` from the cache (its tick has passed).
    pub fn evict(&self, body: &Arc<SharedBody>) {
        self.entries.lock().retain(|e| !Arc::ptr_eq(&e.body, body));
    }

    /// Bodies kept now.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether no body is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Renders started through the cache since it was made.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(l: Lookup) -> Arc<SharedBody> {
        match l {
            Lookup::Hit(b) => b,
            other => panic!("expected a hit, got {other:?}"),
        }
    }

    fn miss(l: Lookup) -> Arc<SharedBody> {
        match l {
            Lookup::Miss(b) => b,
            other => panic!("expected a miss, got {other:?}"),
        }
    }

    #[test]
    fn one_render_per_endpoint_query_and_tick() {
        let cache = RenderCache::default();
        let first = miss(cache.lookup(Work::PerObject, "", 7));
        assert!(Arc::ptr_eq(
            &first,
            &hit(cache.lookup(Work::PerObject, "", 7))
        ));
        assert_eq!(cache.renders(), 1);
        miss(cache.lookup(Work::Aggregated, "", 7));
        miss(cache.lookup(Work::Detailed, "family=a", 7));
        miss(cache.lookup(Work::Detailed, "family=b", 7));
        hit(cache.lookup(Work::Detailed, "family=a", 7));
        assert_eq!(cache.renders(), 4);
        let next = miss(cache.lookup(Work::PerObject, "", 8));
        assert!(!Arc::ptr_eq(&first, &next));
        assert_eq!(cache.len(), 1, "bodies of the last tick are dropped");
        assert_eq!(cache.renders(), 5);
    }

    #[test]
    fn failed_renders_are_not_served_again() {
        let cache = RenderCache::default();
        miss(cache.lookup(Work::PerObject, "", 1)).finish(false);
        miss(cache.lookup(Work::PerObject, "", 1));
        assert_eq!(cache.renders(), 2);
    }

    #[test]
    fn a_full_cache_renders_uncached_and_eviction_frees_room() {
        let cache = RenderCache::default();
        let bodies: Vec<_> = (0..MAX_ENTRIES)
            .map(|i| miss(cache.lookup(Work::Detailed, &i.to_string(), 3)))
            .collect();
        assert!(matches!(
            cache.lookup(Work::Detailed, "another", 3),
            Lookup::Full
        ));
        hit(cache.lookup(Work::Detailed, "0", 3));
        cache.evict(&bodies[0]);
        assert_eq!(cache.len(), MAX_ENTRIES - 1);
        miss(cache.lookup(Work::Detailed, "another", 3));
    }
}
