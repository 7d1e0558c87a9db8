//! The gate to JumpCloud: at most `--concurrency` reconciles call JumpCloud at once, and a
//! free place goes to the longest-waiting reconcile of the highest [`Priority`] (see
//! [`crate::decide::priority`]). Reconciles that make no request never wait here, so the
//! controller runs them all at once and only JumpCloud work queues.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

use super::context::lock;
use crate::decide::Priority;

/// Places to JumpCloud and who waits for one.
pub(super) struct Gate {
    state: Mutex<State>,
}

struct State {
    free: usize,
    waited: VecDeque<oneshot::Sender<()>>,
    periodic: VecDeque<oneshot::Sender<()>>,
}

/// A place at the gate, given back when dropped.
pub(super) struct Place<'a> {
    gate: &'a Gate,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.gate.give_back();
    }
}

/// A reconcile waiting for a place: if it is dropped (shutdown) after the place was handed
/// to it, the place goes on to the next.
struct Waiting<'a> {
    gate: &'a Gate,
    receiver: oneshot::Receiver<()>,
    received: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.received {
            return;
        }
        self.receiver.close();
        if self.receiver.try_recv().is_ok() {
            self.gate.give_back();
        }
    }
}

impl Gate {
    pub(super) fn new(places: u16) -> Self {
        Gate {
            state: Mutex::new(State {
                free: usize::from(places.max(1)),
                waited: VecDeque::new(),
                periodic: VecDeque::new(),
            }),
        }
    }

    /// Waits for a place in the queue of `priority`.
    pub(super) async fn enter(&self, priority: Priority) -> Place<'_> {
        let receiver = {
            let mut state = lock(&self.state);
            let ahead = match priority {
                Priority::Waited => state.waited.len(),
                Priority::Periodic => state.waited.len() + state.periodic.len(),
            };
            if state.free > 0 && ahead == 0 {
                state.free -= 1;
                return Place { gate: self };
            }
            let (sender, receiver) = oneshot::channel();
            match priority {
                Priority::Waited => state.waited.push_back(sender),
                Priority::Periodic => state.periodic.push_back(sender),
            }
            receiver
        };
        let mut waiting = Waiting {
            gate: self,
            receiver,
            received: false,
        };
        // An error means the sender was dropped unsent, which `give_back` never does: the
        // place is taken either way.
        let _ = (&mut waiting.receiver).await;
        // Received: the place is this reconcile's now, not the waiter's to give back.
        waiting.received = true;
        Place { gate: self }
    }

    /// Hands a place to the first waiter of the highest queue, or frees it.
    fn give_back(&self) {
        let mut state = lock(&self.state);
        loop {
            let next = match state.waited.pop_front() {
                Some(next) => Some(next),
                None => state.periodic.pop_front(),
            };
            match next {
                // A waiter that went away takes nothing: on to the next.
                Some(sender) => {
                    if sender.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    state.free += 1;
                    return;
                }
            }
        }
    }

    /// Reconciles waiting for a place.
    #[cfg(test)]
    fn queued(&self) -> usize {
        let state = lock(&self.state);
        state.waited.len() + state.periodic.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    async fn until_queued(gate: &Gate, n: usize) {
        while gate.queued() < n {
            tokio::task::yield_now().await;
        }
    }

    /// With the one place taken, a periodic reconcile and then a waited-for one queue: the
    /// waited-for one gets the place first.
    #[tokio::test]
    async fn a_waited_for_reconcile_passes_the_periodic_ones() {
        let gate = Arc::new(Gate::new(1));
        let held = gate.enter(Priority::Periodic).await;
        let (order_tx, mut order_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for (name, priority) in [
            ("periodic-1", Priority::Periodic),
            ("periodic-2", Priority::Periodic),
            ("waited", Priority::Waited),
        ] {
            let queued_before = gate.queued();
            let entering = gate.clone();
            let order = order_tx.clone();
            tasks.push(tokio::spawn(async move {
                let _place = entering.enter(priority).await;
                let _ = order.send(name);
            }));
            until_queued(&gate, queued_before + 1).await;
        }
        drop(held);
        let mut order = Vec::new();
        for _ in 0..3 {
            order.push(order_rx.recv().await.unwrap());
        }
        assert_eq!(order, ["waited", "periodic-1", "periodic-2"]);
        for task in tasks {
            task.await.unwrap();
        }
        // Every place came back.
        assert_eq!(lock(&gate.state).free, 1);
    }

    /// A waiter that goes away (its reconcile dropped at shutdown) does not keep a place.
    #[tokio::test]
    async fn a_waiter_that_goes_away_keeps_no_place() {
        let gate = Arc::new(Gate::new(1));
        let held = gate.enter(Priority::Periodic).await;
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _place = gate.enter(Priority::Waited).await;
            })
        };
        until_queued(&gate, 1).await;
        waiter.abort();
        let _ = waiter.await;
        drop(held);
        assert_eq!(lock(&gate.state).free, 1);
        let _again = gate.enter(Priority::Waited).await;
    }
}
