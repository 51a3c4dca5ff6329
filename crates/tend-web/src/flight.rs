//! A small cache with single-flight (issue 8): concurrent requests for a key that is missing
//! or stale wait for ONE computation and share its value, instead of each computing it.
//! Used by the public service page (`crate::service`) and the operations dashboard's
//! snapshot (`crate::ui::ops`).
//!
//! Per key there is an async lock around the slot: the first caller that finds the slot
//! stale computes while holding it; the others wait on the lock and then find the fresh
//! value. A failed computation stores nothing (the next waiter tries itself). `clear`
//! forgets every slot: a computation still running then fills a slot nobody can reach, so
//! its (older) value is never served after the clear.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

type Slot<V> = Arc<tokio::sync::Mutex<Option<V>>>;

/// Values by key, each computed by one caller at a time.
pub struct Flight<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
    /// At most this many keys; beyond, the map is emptied (values are recomputed).
    max_keys: usize,
}

impl<K, V> Default for Flight<K, V> {
    fn default() -> Self {
        Flight {
            slots: Mutex::new(HashMap::new()),
            max_keys: 1024,
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Flight<K, V> {
    fn slot(&self, key: &K) -> Slot<V> {
        let mut m = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if !m.contains_key(key) && m.len() >= self.max_keys {
            m.clear();
        }
        m.entry(key.clone()).or_default().clone()
    }

    /// The value under `key` if `fresh` accepts it; else computes it once for every caller
    /// waiting on this key.
    pub async fn get_or_try<E, F, Fut>(
        &self,
        key: &K,
        fresh: impl Fn(&V) -> bool,
        compute: F,
    ) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        if let Some(v) = guard.as_ref().filter(|v| fresh(v)) {
            return Ok(v.clone());
        }
        let v = compute().await?;
        *guard = Some(v.clone());
        Ok(v)
    }

    /// Forgets every value.
    pub fn clear(&self) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_misses_compute_once() {
        let f: Arc<Flight<u8, u32>> = Arc::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (f, runs, gate) = (f.clone(), runs.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                f.get_or_try(
                    &1,
                    |_| true,
                    || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        // Hold the computation open until every caller is waiting.
                        gate.notified().await;
                        Ok::<_, ()>(42)
                    },
                )
                .await
            }));
        }
        // Let every task reach the slot's lock (one is computing, fifteen wait).
        while runs.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..64 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(42));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stale_values_and_errors_are_recomputed_and_clear_forgets() {
        let f: Flight<&str, (u32, &str)> = Flight::default();
        let v = f.get_or_try(&"k", |_| true, || async { Ok::<_, ()>((1, "a")) });
        assert_eq!(v.await, Ok((1, "a")));
        // Fresh: served from the slot.
        let v = f.get_or_try(&"k", |v| v.0 >= 1, || async { Ok::<_, ()>((2, "b")) });
        assert_eq!(v.await, Ok((1, "a")));
        // Stale: recomputed.
        let v = f.get_or_try(&"k", |v| v.0 >= 2, || async { Ok::<_, ()>((2, "b")) });
        assert_eq!(v.await, Ok((2, "b")));
        // An error stores nothing.
        let v = f.get_or_try(
            &"k",
            |v| v.0 >= 3,
            || async { Err::<(u32, &str), _>("down") },
        );
        assert_eq!(v.await, Err("down"));
        let v = f.get_or_try(&"k", |_| true, || async { Ok::<_, ()>((9, "z")) });
        assert_eq!(v.await, Ok((2, "b")));
        f.clear();
        let v = f.get_or_try(&"k", |_| true, || async { Ok::<_, ()>((3, "c")) });
        assert_eq!(v.await, Ok((3, "c")));
    }
}
