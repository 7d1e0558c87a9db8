//! The kinds reduced while they are read, because they grow with time and with devices times
//! policies rather than with the org: their controls read a summary, never the records.

use super::kinds::{DI_EVENTS, POLICY_RESULTS_HISTORY, POLICY_STATUSES};
use super::policy_days::{PolicyDays, PolicyDaysBuilder};
use super::policy_results::{PolicyResults, PolicyResultsBuilder};
use super::record::Record;
use super::sign_ins::SignIns;

/// A kind's records reduced to what the controls read.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    PolicyResults(PolicyResults),
    SignIns(SignIns),
    PolicyDays(PolicyDays),
}

/// Reduces one kind's records, line by line.
#[derive(Debug)]
pub enum Aggregator {
    PolicyResults(Box<PolicyResultsBuilder>),
    SignIns(SignIns),
    PolicyDays(Box<PolicyDaysBuilder>),
}

impl Aggregator {
    /// The reduction of `kind`, if it is one of the reduced kinds.
    pub fn for_kind(kind: &str) -> Option<Aggregator> {
        match kind {
            POLICY_STATUSES => Some(Aggregator::PolicyResults(Default::default())),
            DI_EVENTS => Some(Aggregator::SignIns(Default::default())),
            POLICY_RESULTS_HISTORY => Some(Aggregator::PolicyDays(Default::default())),
            _ => None,
        }
    }

    /// One record, with the id of its parent object for kinds read per parent (else empty).
    pub fn add(&mut self, parent: &str, record: &Record) {
        match self {
            Aggregator::PolicyResults(builder) => builder.add(parent, record),
            Aggregator::SignIns(sign_ins) => sign_ins.add(record),
            Aggregator::PolicyDays(builder) => builder.add(record),
        }
    }

    pub fn finish(self) -> Aggregate {
        match self {
            Aggregator::PolicyResults(builder) => Aggregate::PolicyResults(builder.finish()),
            Aggregator::SignIns(sign_ins) => Aggregate::SignIns(sign_ins),
            Aggregator::PolicyDays(builder) => Aggregate::PolicyDays(builder.finish()),
        }
    }
}
