//! One delivery at a time per record key within a worker.
//!
//! A queue may hand out the same record twice at once: JetStream after a server was killed
//! (its recovered consumer state can deliver a message as new and as due for redelivery within
//! milliseconds), or two copies of one key. Two deliveries of one key in flight would both look
//! it up, both find nothing, and both post it: a duplicate share. So the second waits for the
//! first to be settled, then looks the record up before posting it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as KeyLock, OwnedMutexGuard};

/// The keys with a delivery under way.
#[derive(Debug, Default)]
pub(crate) struct Keys {
    held: Mutex<HashMap<String, Arc<KeyLock<()>>>>,
}

/// A key held: dropping it lets the next delivery of the key go on.
#[derive(Debug)]
pub(crate) struct Held<'k> {
    keys: &'k Keys,
    key: String,
    lock: Option<OwnedMutexGuard<()>>,
}

impl Keys {
    /// Holds `key`, after the delivery of it under way ends when there is one: then `waited`.
    pub(crate) async fn hold(&self, key: &str) -> (Held<'_>, bool) {
        let lock = match self.held.lock() {
            Ok(mut held) => held.entry(key.to_string()).or_default().clone(),
            // A poisoned map (a panic elsewhere): no guard, as before keys were held.
            Err(_) => Arc::new(KeyLock::new(())),
        };
        let (guard, waited) = match lock.clone().try_lock_owned() {
            Ok(guard) => (guard, false),
            Err(_) => (lock.lock_owned().await, true),
        };
        let held = Held {
            keys: self,
            key: key.to_string(),
            lock: Some(guard),
        };
        (held, waited)
    }

    /// How many keys are held or waited for.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.lock().map_or(0, |h| h.len())
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let Some(guard) = self.lock.take() else {
            return;
        };
        let lock = OwnedMutexGuard::mutex(&guard).clone();
        drop(guard);
        if let Ok(mut held) = self.keys.held.lock() {
            // Forgotten when no other delivery holds or waits for it: the map's reference and
            // `lock` are the only ones left.
            if Arc::strong_count(&lock) == 2 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_second_delivery_of_a_key_waits_for_the_first_and_others_do_not() {
        let keys = Arc::new(Keys::default());
        let (first, waited) = keys.hold("lfk-1").await;
        assert!(!waited);
        let (other, waited) = keys.hold("lfk-2").await;
        assert!(!waited, "another key goes on at once");
        drop(other);
        let second = tokio::spawn({
            let keys = keys.clone();
            async move {
                let (held, waited) = keys.hold("lfk-1").await;
                drop(held);
                waited
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !second.is_finished(),
            "the second waits while the first is held"
        );
        drop(first);
        assert!(
            tokio::time::timeout(Duration::from_secs(10), second)
                .await
                .expect("the second goes on once the first ends")
                .unwrap()
        );
        assert_eq!(keys.len(), 0, "keys are forgotten when nobody holds them");
    }
}
