//! The decide layer's scenarios: a `World` (spec, status, Secret, time) that decisions and
//! status writers act on, as the reconcile shell would.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::plan::first_rejection_possible;
use super::*;
use crate::conditions::{KEY_VALID, LEAST_PRIVILEGE, READY, RECONCILING, STALLED, SYNCED};
use crate::crd::{OrganizationStatus, SnapshotStatus};
use crate::region::Region;

const FP: &str = "aaaaaaaaaaaa";
const OTHER_FP: &str = "bbbbbbbbbbbb";

fn spec() -> JumpCloudConnectionSpec {
    serde_json::from_value(serde_json::json!({
        "apiKeySecretRef": {"name": "jc"},
        "interval": "6h",
        "keyCheckInterval": "5m",
    }))
    .unwrap()
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

fn present(fp: &str, version: &str) -> SecretRead {
    SecretRead::Present {
        key: crate::jumpcloud::ApiKey::new("jca_test").unwrap().into(),
        fingerprint: fp.to_owned(),
        version: Some(version.to_owned()),
    }
}

#[derive(Clone)]
struct World {
    spec: JumpCloudConnectionSpec,
    status: JumpCloudConnectionStatus,
    secret: SecretRead,
    request: Option<String>,
    retry_not_before: Option<Timestamp>,
    now: Timestamp,
    generation: i64,
    uid: Option<String>,
}

impl World {
    fn new() -> Self {
        World {
            spec: spec(),
            status: JumpCloudConnectionStatus::default(),
            secret: present(FP, "1"),
            request: None,
            retry_not_before: None,
            now: at(0),
            generation: 1,
            uid: None,
        }
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            namespace: "team",
            name: "prod",
            uid: self.uid.as_deref(),
            generation: Some(self.generation),
            spec: &self.spec,
            status: &self.status,
            sync_requested_at: self.request.as_deref(),
            secret: &self.secret,
            retry_not_before: self.retry_not_before,
            rejected_key_retry: REJECTED_KEY_RETRY,
            now: self.now,
        }
    }

    fn subject(&self) -> Subject<'_> {
        Subject {
            namespace: "team",
            name: "prod",
            uid: self.uid.as_deref(),
            generation: Some(self.generation),
            spec: &self.spec,
            now: self.now,
        }
    }

    fn plan(&self) -> Plan {
        decide(&self.inputs())
    }

    fn check(&mut self, check: KeyCheck) {
        let fp = match &self.secret {
            SecretRead::Present { fingerprint, .. } => fingerprint.clone(),
            _ => panic!("no key"),
        };
        let version = match &self.secret {
            SecretRead::Present { version, .. } => version.clone(),
            _ => None,
        };
        let mut status = self.status.clone();
        apply_key_check(
            &mut status,
            &fp,
            version.as_deref(),
            &check,
            &self.subject(),
        );
        self.status = status;
    }

    fn sync(&mut self, result: SyncResult, trigger: SyncTrigger) {
        let mut status = self.status.clone();
        apply_sync(&mut status, &result, &trigger, &self.subject());
        self.status = status;
    }

    fn finish(&mut self, plan: &Plan) {
        let mut status = self.status.clone();
        finish(&mut status, plan, self.retry_not_before, &self.subject());
        self.status = status;
    }

    fn cond(&self, type_: &str) -> Option<&Condition> {
        conditions::find(&self.status.conditions, type_)
    }

    fn reason(&self, type_: &str) -> Option<Reason> {
        self.cond(type_).and_then(|c| Reason::parse(&c.reason))
    }
}

fn identity(role: &str, expires_at: Option<Timestamp>) -> KeyCheck {
    KeyCheck::Accepted {
        identity: Some(KeyIdentity {
            organization: OrganizationStatus {
                id: "5f0c1b2a3d4e5f6a7b8c9d0e".into(),
                name: "Acme".into(),
            },
            administrator: Some("ro@acme.test".into()),
            role: Some(role.into()),
            expires_at,
            client_id: None,
            name: None,
        }),
    }
}

fn counts() -> BTreeMap<String, u64> {
    BTreeMap::from([
        ("devices".into(), 55),
        ("users".into(), 60),
        ("roles".into(), 4),
    ])
}

fn snapshot() -> SnapshotStatus {
    SnapshotStatus {
        id: "20261129T032605.123456Z-3f9a0c2b71d4e8a5".into(),
        digest: format!("sha256:3f9a0c2b71d4e8a5{}", "0".repeat(48)),
        sequence: 3,
        time: Time(at(0)),
        signed: false,
    }
}

fn success() -> SyncResult {
    SyncResult::Succeeded {
        counts: counts(),
        snapshot: snapshot(),
        controls: Box::new(control_status::ControlsEvaluation::of(&[], at(0))),
        retention_problem: None,
    }
}

/// A connection whose key was accepted and which synced at `at(0)`.
fn healthy() -> World {
    let mut w = World::new();
    w.check(identity(READ_ONLY_ROLE, None));
    w.sync(success(), SyncTrigger::First);
    w.finish(&Plan::Sync {
        trigger: SyncTrigger::First,
    });
    w
}

mod key;
mod secret;
mod summary;
mod sync;
