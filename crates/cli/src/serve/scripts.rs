//! Threads that run scripts for the bridge, off its async executor: a script may work for as
//! long as its limits allow (fuel, then the wall-clock backstop), which must not hold up the
//! executor's other requests. Each thread keeps its own QuickJS runtime and cached contexts.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs from one queue.
pub(crate) struct ScriptPool {
    jobs: Mutex<Option<Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl ScriptPool {
    /// `threads` threads (at least one).
    pub(crate) fn new(threads: usize) -> std::io::Result<ScriptPool> {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::new();
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("lorafield-js-{i}"))
                    .spawn(move || work(&rx))?,
            );
        }
        Ok(ScriptPool {
            jobs: Mutex::new(Some(tx)),
            threads: Mutex::new(handles),
        })
    }

    /// Runs `f` on one of the threads and waits for it without blocking the executor.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let sent = self
            .jobs
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|s| s.send(job).is_ok()))
            .unwrap_or(false);
        if !sent {
            return Err("the script threads have stopped".into());
        }
        rx.await
            .map_err(|_| "a script thread stopped while decoding".to_string())
    }
}

impl Drop for ScriptPool {
    fn drop(&mut self) {
        // Closing the queue ends each thread's loop.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Ok(mut threads) = self.threads.lock() {
            for t in threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_pool_s_threads() {
        let pool = ScriptPool::new(2).unwrap();
        let here = std::thread::current().id();
        let mut names = Vec::new();
        for i in 0..8 {
            let (id, name) = pool
                .run(move || {
                    let t = std::thread::current();
                    (
                        t.id(),
                        t.name().unwrap_or_default().to_string() + &i.to_string(),
                    )
                })
                .await
                .unwrap();
            assert_ne!(id, here);
            names.push(name);
        }
        assert!(names.iter().all(|n| n.starts_with("lorafield-js-")));
        drop(pool);
    }
}
