//! Streamed watches: history replay from a resourceVersion, live events, selector transitions,
//! bookmarks, 410 Gone as an ERROR event, timeouts, and forced drops.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::faults::lock;
use crate::select::Selector;
use crate::server::Shared;
use crate::status::ApiError;
use crate::store::{Event, EventType, State, Target};
use crate::table::{View, partial_metadata};

pub(crate) struct WatchParams {
    /// None: start with synthetic ADDED events for the current state ("" or "0").
    pub from: Option<u64>,
    pub timeout: Duration,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub selector: Selector,
    pub view: View,
}

fn line(v: &Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

/// Decides whether (and as what) an event reaches this watch.
fn translate(ev: &Event, t: &Target, sel: &Selector) -> Option<EventType> {
    if ev.gr != t.info.gr() {
        return None;
    }
    if let Some(ns) = &t.namespace
        && ev.object["metadata"]["namespace"].as_str() != Some(ns)
    {
        return None;
    }
    let now = sel.matches(&ev.object);
    match ev.ty {
        EventType::Modified => match (ev.old.as_ref().is_some_and(|o| sel.matches(o)), now) {
            (true, true) => Some(EventType::Modified),
            (false, true) => Some(EventType::Added),
            (true, false) => Some(EventType::Deleted),
            (false, false) => None,
        },
        ty => now.then_some(ty),
    }
}

fn render(t: &Target, view: View, ty: EventType, obj: &Value) -> Bytes {
    let obj = State::present(&t.info, &t.version, obj);
    let obj = match view {
        View::Metadata => partial_metadata(&obj),
        View::Table => {
            let meta = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
            crate::table::table(&t.info, &t.version, &[obj], meta, "Metadata")
        }
        View::Full => obj,
    };
    line(&json!({"type": ty.as_str(), "object": obj}))
}

fn bookmark(t: &Target, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        &json!({"type": "BOOKMARK", "object": {"kind": t.info.kind, "apiVersion": t.info.api_version(&t.version), "metadata": meta}}),
    )
}

/// Starts a watch; the body streams newline-delimited JSON events.
pub(crate) fn start(shared: Arc<Shared>, t: Target, p: WatchParams) -> Body {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let begun = {
        let st = lock(&shared.state);
        let from = if p.send_initial_events { None } else { p.from };
        st.watch_begin(&t, from)
            .map(|(initial, sub)| (initial, sub, st.rv))
    };
    let mut drops = shared.faults.drop_watches.subscribe();
    let interval = shared.bookmark_interval;
    tokio::spawn(async move {
        let (initial, mut sub, start_rv) = match begun {
            Ok(b) => b,
            Err(e) => {
                let _ = tx
                    .send(line(&json!({"type": "ERROR", "object": e.to_status()})))
                    .await;
                return;
            }
        };
        for ev in &initial {
            if let Some(ty) = translate(ev, &t, &p.selector)
                && tx.send(render(&t, p.view, ty, &ev.object)).await.is_err()
            {
                return;
            }
        }
        let mut last_rv = start_rv;
        let mut bookmarked = 0;
        if p.send_initial_events {
            if tx.send(bookmark(&t, last_rv, true)).await.is_err() {
                return;
            }
            bookmarked = last_rv;
        }
        let deadline = tokio::time::Instant::now() + p.timeout;
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = drops.changed() => break,
                _ = tokio::time::sleep_until(deadline) => break,
                _ = tx.closed() => break,
                r = sub.recv() => match r {
                    Ok(ev) => {
                        last_rv = last_rv.max(ev.rv);
                        if let Some(ty) = translate(&ev, &t, &p.selector)
                            && tx.send(render(&t, p.view, ty, &ev.object)).await.is_err()
                        {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let e = ApiError::gone("watch fell behind; resourceVersion too old");
                        let _ = tx.send(line(&json!({"type": "ERROR", "object": e.to_status()}))).await;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick(), if p.bookmarks => {
                    if last_rv > bookmarked {
                        if tx.send(bookmark(&t, last_rv, false)).await.is_err() {
                            break;
                        }
                        bookmarked = last_rv;
                    }
                }
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Body::from_stream(stream)
}
