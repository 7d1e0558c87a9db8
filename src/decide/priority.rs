//! Which reconciles go first to JumpCloud: work a person is waiting for (a new connection, a
//! new key, a changed spec, a requested sync) before the periodic re-checks and syncs, so a
//! fleet with many connections due never starves a new one.

use super::plan::{Plan, SyncTrigger};

/// The queue a reconcile's JumpCloud work waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Someone is waiting: identification, a first or requested sync.
    Waited,
    /// Periodic: key checks, interval syncs, retries.
    Periodic,
}

/// The queue for `plan`; `None` when it makes no JumpCloud request.
pub fn priority(plan: &Plan) -> Option<Priority> {
    match plan {
        Plan::Identify { .. }
        | Plan::Sync {
            trigger: SyncTrigger::First | SyncTrigger::Requested(_),
        } => Some(Priority::Waited),
        Plan::CheckKey
        | Plan::Recheck(_)
        | Plan::Sync {
            trigger: SyncTrigger::Interval | SyncTrigger::Retry,
        } => Some(Priority::Periodic),
        Plan::Suspended
        | Plan::InvalidSpec(_)
        | Plan::SecretProblem
        | Plan::SecretUnreadable(_)
        | Plan::Blocked { .. }
        | Plan::Wait { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::KeyRequest;

    #[test]
    fn what_someone_waits_for_goes_before_the_periodic_work() {
        let identify = Plan::Identify {
            then_sync: Some(SyncTrigger::First),
            probe_regions: true,
        };
        assert_eq!(priority(&identify), Some(Priority::Waited));
        let first = Plan::Sync {
            trigger: SyncTrigger::First,
        };
        assert_eq!(priority(&first), Some(Priority::Waited));
        let requested = Plan::Sync {
            trigger: SyncTrigger::Requested("now".into()),
        };
        assert_eq!(priority(&requested), Some(Priority::Waited));
        for periodic in [
            Plan::CheckKey,
            Plan::Recheck(KeyRequest::Cheap),
            Plan::Sync {
                trigger: SyncTrigger::Interval,
            },
            Plan::Sync {
                trigger: SyncTrigger::Retry,
            },
        ] {
            assert_eq!(
                priority(&periodic),
                Some(Priority::Periodic),
                "{periodic:?}"
            );
        }
        assert_eq!(priority(&Plan::SecretProblem), None);
        assert_eq!(
            priority(&Plan::Wait {
                until: jiff::Timestamp::UNIX_EPOCH
            }),
            None
        );
    }
}
