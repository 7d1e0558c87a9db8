//! Pagination against the simulator: exact record counts at the page edges, the fewest
//! requests, and detection of totals that change while paging.

mod client_support;

use std::collections::HashSet;

use client_support::*;
use futures::StreamExt;
use jumpcloud_operator::jumpcloud::paging::min_requests;
use jumpcloud_operator::jumpcloud::{JumpCloudError, ListRequest};
use jumpcloud_simulator::OrgSize;
use jumpcloud_simulator::control::{Fault, FaultKind, GrowRecords};

async fn ids(
    request: ListRequest,
    client: &jumpcloud_operator::jumpcloud::JumpCloudClient,
) -> Result<(u64, Vec<String>), JumpCloudError> {
    let listing = client.open_listing(request).await?;
    let total = listing.total();
    let mut pages = listing.pages();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        for record in page?.records() {
            let value: serde_json::Value = serde_json::from_slice(record).unwrap();
            let id = value
                .get("_id")
                .or(value.get("id"))
                .and_then(|id| id.as_str());
            ids.push(id.unwrap_or_default().to_owned());
        }
    }
    Ok((total, ids))
}

#[tokio::test]
async fn v1_users_are_complete_at_page_edges_with_the_fewest_requests() {
    for size in [0usize, 1, 99, 100, 101, 10_001] {
        let sim = simulator(org_with_users(size)).await;
        let client = client(&sim);
        let (total, ids) = ids(ListRequest::v1("users", "/api/systemusers"), &client)
            .await
            .unwrap_or_else(|error| panic!("size {size}: {error}"));
        assert_eq!(total, size as u64, "size {size}");
        assert_eq!(ids.len(), size, "size {size}");
        assert_eq!(
            ids.iter().collect::<HashSet<_>>().len(),
            size,
            "duplicates at size {size}"
        );
        let counters = control(&sim).counters().await.unwrap();
        assert_eq!(
            counters.for_path_prefix("/api/systemusers"),
            min_requests(size as u64, 100),
            "requests at size {size}"
        );
        assert_eq!(
            client.request_counts().get("users").copied(),
            Some(min_requests(size as u64, 100))
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn v2_arrays_use_the_total_count_header() {
    for size in [0usize, 1, 99, 100, 101] {
        let sim = simulator(OrgSize {
            user_groups: size,
            ..OrgSize::small()
        })
        .await;
        let client = client(&sim);
        let (total, ids) = ids(ListRequest::v2("groups", "/api/v2/usergroups"), &client)
            .await
            .unwrap_or_else(|error| panic!("size {size}: {error}"));
        assert_eq!(total, size as u64);
        assert_eq!(ids.len(), size, "size {size}");
        assert_eq!(
            ids.iter().collect::<HashSet<_>>().len(),
            size,
            "size {size}"
        );
        assert_eq!(
            client.total_requests(),
            min_requests(size as u64, 100),
            "size {size}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn system_insights_use_pages_of_ten_thousand() {
    let sim = simulator(OrgSize {
        // Some devices have System Insights off: 12,000 devices give more than 10,000 rows.
        devices: 12_000,
        ..OrgSize::small()
    })
    .await;
    let client = client(&sim);
    let (total, rows) = ids(ListRequest::system_insights("os", "os_version"), &client)
        .await
        .unwrap();
    assert!(total > 10_000, "more than one page of rows: {total}");
    assert_eq!(rows.len() as u64, total);
    assert_eq!(client.total_requests(), min_requests(total, 10_000));
}

#[tokio::test]
async fn a_total_that_changes_between_pages_fails_naming_the_endpoint() {
    let sim = simulator(org_with_users(250)).await;
    control(&sim)
        .inject(
            Fault::new(FaultKind::Grow {
                records: GrowRecords::Users,
                count: 1,
            })
            .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let error = ids(ListRequest::v1("users", "/api/systemusers"), &client(&sim))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        JumpCloudError::TotalChanged {
            endpoint: "/api/systemusers".into(),
            first: 250,
            now: 251
        }
    );
    assert!(error.to_string().contains("/api/systemusers"));
}

/// The simulator cannot lie about its totals, so a tiny server on 127.0.0.1 does: it reports
/// 250 users but its later pages come back short or empty.
mod lying_server {
    use super::*;
    use axum::extract::Query;
    use std::collections::HashMap;

    async fn serve(short_after: usize) -> url::Url {
        let app = axum::Router::new().route(
            "/api/systemusers",
            axum::routing::get(
                move |Query(query): Query<HashMap<String, String>>| async move {
                    let skip: usize = query.get("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
                    let limit: usize = query
                        .get("limit")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(10);
                    let end = (skip + limit).min(250).min(short_after.max(skip));
                    let results: Vec<_> = (skip..end)
                        .map(|i| serde_json::json!({"_id": format!("u{i}")}))
                        .collect();
                    axum::Json(serde_json::json!({"totalCount": 250, "results": results}))
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    async fn list(short_after: usize) -> JumpCloudError {
        let mut config = jumpcloud_operator::jumpcloud::ClientConfig::new(
            jumpcloud_operator::region::Region::Us,
        );
        config.base_url_override = Some(serve(short_after).await);
        let client = jumpcloud_operator::jumpcloud::JumpCloudClient::new(
            config,
            jumpcloud_operator::jumpcloud::ApiKey::new("jca_test_key_for_lying_server").unwrap(),
        )
        .unwrap();
        ids(ListRequest::v1("users", "/api/systemusers"), &client)
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn short_and_empty_pages_are_truncation_errors() {
        // Page 2 has 40 records instead of 100.
        let error = list(140).await;
        assert_eq!(
            error,
            JumpCloudError::TruncatedCollection {
                endpoint: "/api/systemusers".into(),
                expected: 250,
                received: 140
            }
        );
        // Pages 2 and 3 are empty: never a silent stop.
        let error = list(100).await;
        assert_eq!(error.reason(), "TruncatedCollection");
        assert!(error.to_string().contains("/api/systemusers"));
    }
}

#[tokio::test]
async fn directory_insights_events_page_with_search_after_to_the_end() {
    let sim = simulator(OrgSize {
        events: 20_000,
        ..OrgSize::small()
    })
    .await;
    let client = client(&sim);
    let now = jiff::Timestamp::now();
    let query = jumpcloud_operator::jumpcloud::EventQuery {
        org_id: sim.org_id(jumpcloud_operator::region::Region::Us).unwrap(),
        service: vec!["all".into()],
        start_time: now - jiff::SignedDuration::from_hours(24 * 90),
        end_time: now + jiff::SignedDuration::from_hours(24),
    };
    let mut pages = client.events("events", query, None);
    let mut ids = HashSet::new();
    let mut received = 0;
    while let Some(page) = pages.next().await {
        for record in page.unwrap().records() {
            let value: serde_json::Value = serde_json::from_slice(record).unwrap();
            ids.insert(value["id"].as_str().unwrap().to_owned());
            received += 1;
        }
    }
    assert_eq!(received, 20_000);
    assert_eq!(ids.len(), 20_000, "no event twice");
    // Two full pages, then one more (empty) page proves the second was the last.
    assert_eq!(client.total_requests(), 3);
}

#[tokio::test]
async fn a_page_that_shifted_repeats_a_record_and_fails_although_the_count_matches() {
    let sim = simulator(org_with_users(250)).await;
    // Pages at skip 0, 100 and 200: the first is unchanged, the next two start one record
    // early but keep their length. 100 + 100 + 50 records arrive, as the total says, but user
    // 99 twice and user 249 never.
    control(&sim)
        .inject(
            Fault::new(FaultKind::Shift { by: 1 })
                .times(3)
                .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let error = ids(ListRequest::v1("users", "/api/systemusers"), &client(&sim))
        .await
        .unwrap_err();
    let JumpCloudError::DuplicateRecord { endpoint, skip, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(endpoint, "/api/systemusers");
    assert_eq!(*skip, 100);
    assert!(error.to_string().contains("/api/systemusers"), "{error}");
    assert!(
        !error.is_terminal(),
        "a moving listing may be fine on the next try"
    );

    // The same on a v2 array.
    let sim = simulator(OrgSize {
        user_groups: 150,
        ..OrgSize::small()
    })
    .await;
    control(&sim)
        .inject(
            Fault::new(FaultKind::Shift { by: 3 })
                .times(2)
                .on_path("/api/v2/usergroups"),
        )
        .await
        .unwrap();
    let error = ids(
        ListRequest::v2("groups", "/api/v2/usergroups"),
        &client(&sim),
    )
    .await
    .unwrap_err();
    assert_eq!(error.reason(), "DuplicateRecord", "{error}");
}

#[tokio::test]
async fn a_listing_without_a_total_is_malformed_not_paged_to_a_short_page() {
    let sim = simulator(OrgSize {
        user_groups: 150,
        ..OrgSize::small()
    })
    .await;
    for (request, prefix, detail) in [
        (
            ListRequest::v2("groups", "/api/v2/usergroups"),
            "/api/v2/usergroups",
            "x-total-count",
        ),
        (
            ListRequest::v1("users", "/api/systemusers"),
            "/api/systemusers",
            "totalCount",
        ),
    ] {
        control(&sim).reset().await.unwrap();
        control(&sim)
            .inject(Fault::new(FaultKind::NoTotal).on_path(prefix))
            .await
            .unwrap();
        let error = ids(request, &client(&sim)).await.unwrap_err();
        let JumpCloudError::MalformedResponse {
            endpoint,
            detail: text,
            ..
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(endpoint, prefix);
        assert!(text.contains(detail), "{text}");
        assert_eq!(
            control(&sim)
                .counters()
                .await
                .unwrap()
                .for_path_prefix(prefix),
            1,
            "no further page is requested without a total"
        );
    }
}
