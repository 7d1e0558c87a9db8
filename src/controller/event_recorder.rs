//! Publishes `events.k8s.io/v1` Events so that each says what is true now. kube's `Recorder`
//! keys its series by type, reason and action and keeps the first note: after a key rotation
//! `kubectl get events` then showed `Accepted ... (fingerprint <the revoked key's>)`. Here the
//! note is part of the key: the same note again within [`SERIES_TTL`] counts up the series of
//! its Event, a new note is a new Event.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

/// How long a repeat joins the series of the Event before it (as kube's recorder).
const SERIES_TTL: SignedDuration = SignedDuration::from_mins(6);

/// What makes two Events one series.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SeriesKey {
    type_: &'static str,
    reason: String,
    action: String,
    note: String,
    regarding: (Option<String>, Option<String>, Option<String>),
}

/// One Event to publish.
pub(super) struct Publish<'a> {
    pub warning: bool,
    pub reason: &'a str,
    pub note: &'a str,
    pub action: &'a str,
}

pub(super) struct EventRecorder {
    client: Client,
    controller: String,
    instance: String,
    series: tokio::sync::Mutex<HashMap<SeriesKey, Event>>,
}

impl EventRecorder {
    pub(super) fn new(client: Client, controller: String, instance: Option<String>) -> Self {
        EventRecorder {
            client,
            instance: instance.unwrap_or_else(|| controller.clone()),
            controller,
            series: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Creates the Event, or counts up the series of the same Event published last.
    pub(super) async fn publish(
        &self,
        event: &Publish<'_>,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let type_ = if event.warning { "Warning" } else { "Normal" };
        let key = SeriesKey {
            type_,
            reason: event.reason.to_owned(),
            action: event.action.to_owned(),
            note: event.note.to_owned(),
            regarding: (
                regarding.namespace.clone(),
                regarding.name.clone(),
                regarding.uid.clone(),
            ),
        };
        let mut series = self.series.lock().await;
        series.retain(|_, e| last_seen(e).is_some_and(|at| at + SERIES_TTL > now));
        let events: Api<Event> = Api::namespaced(
            self.client.clone(),
            regarding.namespace.as_deref().unwrap_or("default"),
        );
        let published = match series.get(&key) {
            Some(previous) => {
                let mut next = previous.clone();
                next.series = Some(EventSeries {
                    count: previous.series.as_ref().map_or(2, |s| s.count + 1),
                    last_observed_time: MicroTime(now),
                });
                events
                    .patch(
                        &next.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&next),
                    )
                    .await?;
                next
            }
            None => {
                let fresh = self.event(event, type_, regarding, now);
                events.create(&PostParams::default(), &fresh).await?
            }
        };
        series.insert(key, published);
        Ok(())
    }

    fn event(
        &self,
        event: &Publish<'_>,
        type_: &str,
        regarding: &ObjectReference,
        now: Timestamp,
    ) -> Event {
        Event {
            action: Some(event.action.to_owned()),
            reason: Some(event.reason.to_owned()),
            note: Some(event.note.to_owned()),
            type_: Some(type_.to_owned()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(format!(
                    "{}.{:x}",
                    regarding.name.as_deref().unwrap_or(&self.controller),
                    now.as_nanosecond()
                )),
                ..ObjectMeta::default()
            },
            ..Event::default()
        }
    }
}

fn last_seen(event: &Event) -> Option<Timestamp> {
    event
        .series
        .as_ref()
        .map(|s| s.last_observed_time.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
}
