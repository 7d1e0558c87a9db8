//! The client against a broken or hostile server: repeated rows without ids, a total missing
//! on a later page, the key echoed back, pages far over their limit, huge records, and
//! Directory Insights paging that never ends. Each one fails naming the endpoint, never
//! completes a listing, and never shows the key.

mod client_support;

use client_support::*;
use futures::StreamExt;
use jumpcloud_operator::jumpcloud::{
    EventQuery, JumpCloudClient, JumpCloudError, ListRequest, key_encodings,
};
use jumpcloud_operator::region::Region;
use jumpcloud_simulator::control::{EchoInto, Fault, FaultKind};
use jumpcloud_simulator::{OrgSize, Simulator};
use secrecy::ExposeSecret;

/// Rows in the table made big enough for two System Insights pages of 10,000.
const TWO_PAGES: usize = 10_005;

async fn list(client: &JumpCloudClient, request: ListRequest) -> Result<usize, JumpCloudError> {
    Ok(client.list_all::<serde_json::Value>(request).await?.len())
}

fn window(sim: &Simulator) -> EventQuery {
    let now = jiff::Timestamp::now();
    EventQuery {
        org_id: sim.org_id(Region::Us).unwrap(),
        service: vec!["all".into()],
        start_time: now - jiff::SignedDuration::from_hours(24 * 90),
        end_time: now + jiff::SignedDuration::from_hours(1),
    }
}

async fn drain_events(
    sim: &Simulator,
    client: &JumpCloudClient,
    expected: Option<u64>,
) -> Result<u64, JumpCloudError> {
    let mut pages = client.events("events", window(sim), expected);
    let mut received = 0;
    while let Some(page) = pages.next().await {
        received += page?.len() as u64;
    }
    Ok(received)
}

/// No encoding of `key` in any rendering of `error`.
fn assert_key_absent(error: &JumpCloudError, key: &str) {
    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{error:#?}"),
    ] {
        for form in key_encodings(key) {
            assert!(!text.contains(&form), "{form} in {text}");
        }
    }
}

#[tokio::test]
async fn a_system_insights_row_repeated_across_pages_fails_although_rows_have_no_id() {
    let sim = simulator(OrgSize::small()).await;
    let table = "os_version";
    control(&sim)
        .set_insights_rows(table, TWO_PAGES)
        .await
        .unwrap();
    let request = || ListRequest::system_insights("si", table);
    let client = client(&sim);
    assert_eq!(list(&client, request()).await.unwrap(), TWO_PAGES);

    // The first page takes the first use (a shift of page 0 changes nothing); the second page
    // starts 5 rows early: 5 rows arrive twice, 5 never, and the count still matches.
    control(&sim)
        .inject(
            Fault::new(FaultKind::Shift { by: 5 })
                .times(2)
                .on_path(format!("/api/v2/systeminsights/{table}")),
        )
        .await
        .unwrap();
    let error = list(&client, request()).await.unwrap_err();
    let JumpCloudError::DuplicateRecord { endpoint, id, skip } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(endpoint, "/api/v2/systeminsights/os_version");
    assert_eq!(*skip, 10_000);
    assert!(id.contains("whole-row fingerprint"), "{id}");
}

#[tokio::test]
async fn a_total_missing_on_a_later_page_is_a_malformed_response() {
    let sim = simulator(org_with_users(250)).await;
    for (path, request) in [
        (
            "/api/systemusers",
            ListRequest::v1("users", "/api/systemusers"),
        ),
        (
            "/api/v2/systeminsights/alf",
            ListRequest::system_insights("si", "alf"),
        ),
    ] {
        if path.contains("systeminsights") {
            control(&sim)
                .set_insights_rows("alf", TWO_PAGES)
                .await
                .unwrap();
        }
        control(&sim)
            .inject(Fault::new(FaultKind::NoTotalLater).on_path(path))
            .await
            .unwrap();
        let error = list(&client(&sim), request).await.unwrap_err();
        let JumpCloudError::MalformedResponse {
            endpoint, detail, ..
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(endpoint, path);
        assert!(detail.contains("came without"), "{detail}");
        assert!(control(&sim).faults().await.unwrap().is_empty(), "{path}");
    }
}

#[tokio::test]
async fn an_echoed_key_is_refused_and_never_shown() {
    let sim = simulator(OrgSize::small()).await;
    let key = sim.read_only_key(Region::Us);
    let key = key.expose_secret();
    for (into, path, request) in [
        (
            EchoInto::Total,
            "/api/systemusers",
            ListRequest::v1("users", "/api/systemusers"),
        ),
        (
            EchoInto::Record,
            "/api/systemusers",
            ListRequest::v1("users", "/api/systemusers"),
        ),
        (
            EchoInto::Total,
            "/api/v2/usergroups",
            ListRequest::v2("groups", "/api/v2/usergroups"),
        ),
        (
            EchoInto::Record,
            "/api/v2/systeminsights/alf",
            ListRequest::system_insights("si", "alf"),
        ),
    ] {
        control(&sim)
            .inject(Fault::new(FaultKind::EchoKey { into }).on_path(path))
            .await
            .unwrap();
        let error = list(&client(&sim), request).await.unwrap_err();
        assert_eq!(
            error,
            JumpCloudError::KeyEchoed {
                endpoint: path.into()
            },
            "{into:?}"
        );
        assert_key_absent(&error, key);
    }
    // A single object and the events count: refused the same way.
    let org = control(&sim)
        .orgs()
        .await
        .unwrap()
        .into_keys()
        .next()
        .unwrap();
    control(&sim)
        .inject(
            Fault::new(FaultKind::EchoKey {
                into: EchoInto::Record,
            })
            .on_path("/api/organizations/"),
        )
        .await
        .unwrap();
    let error = client(&sim)
        .get_raw("org", &format!("/api/organizations/{org}"))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "KeyEchoed");
    assert_key_absent(&error, key);
    control(&sim)
        .inject(
            Fault::new(FaultKind::EchoKey {
                into: EchoInto::Total,
            })
            .on_path("/insights/directory/v1/events/count"),
        )
        .await
        .unwrap();
    let error = client(&sim)
        .count_events("events", &window(&sim))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "KeyEchoed");
    assert_key_absent(&error, key);
}

#[tokio::test]
async fn a_page_far_over_its_limit_is_rejected_at_the_first_record_too_many() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim)
        .inject(Fault::new(FaultKind::Oversized { records: 5_000 }).on_path("/api/systemusers"))
        .await
        .unwrap();
    let error = list(&client(&sim), ListRequest::v1("users", "/api/systemusers"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        JumpCloudError::TooManyRecords {
            endpoint: "/api/systemusers".into(),
            limit: 100,
            skip: 0
        }
    );
    assert!(
        error.to_string().contains("more than the 100 records"),
        "{error}"
    );
}

#[tokio::test]
async fn page_and_record_sizes_are_bounded_while_reading() {
    let sim = simulator(OrgSize::small()).await;
    // A record over the record limit, within the page limit.
    control(&sim)
        .inject(Fault::new(FaultKind::HugeRecord { bytes: 300_000 }).on_path("/api/systemusers"))
        .await
        .unwrap();
    let mut config = fast_config(&sim, Region::Us);
    config.max_record_bytes = 100_000;
    let small_records = client_with(&sim, config, sim.read_only_key(Region::Us));
    let error = list(&small_records, ListRequest::v1("users", "/api/systemusers"))
        .await
        .unwrap_err();
    let JumpCloudError::ResponseTooLarge {
        endpoint,
        what,
        limit_bytes,
        option,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(
        (endpoint.as_str(), *what, *limit_bytes, *option),
        (
            "/api/systemusers",
            "one record",
            100_000,
            "--max-record-bytes"
        )
    );
    // The same record within the defaults is accepted: the bound is the setting.
    control(&sim)
        .inject(Fault::new(FaultKind::HugeRecord { bytes: 300_000 }).on_path("/api/systemusers"))
        .await
        .unwrap();
    assert_eq!(
        list(&client(&sim), ListRequest::v1("users", "/api/systemusers"))
            .await
            .unwrap(),
        60
    );
    // A body over the page limit fails while it is read.
    control(&sim)
        .inject(Fault::new(FaultKind::HugeRecord { bytes: 2_000_000 }).on_path("/api/systemusers"))
        .await
        .unwrap();
    let mut config = fast_config(&sim, Region::Us);
    config.max_page_bytes = 1_000_000;
    let small_pages = client_with(&sim, config, sim.read_only_key(Region::Us));
    let error = list(&small_pages, ListRequest::v1("users", "/api/systemusers"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        JumpCloudError::ResponseTooLarge {
            endpoint: "/api/systemusers".into(),
            what: "a page",
            limit_bytes: 1_000_000,
            option: "--max-page-bytes",
        }
    );
    assert!(error.to_string().contains("--max-page-bytes"), "{error}");
}

#[tokio::test]
async fn directory_insights_paging_in_a_circle_ends_with_an_error() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim)
        .inject(
            Fault::new(FaultKind::RepeatCursor)
                .times(1_000)
                .on_path("/insights/directory/v1/events"),
        )
        .await
        .unwrap();
    // Without a count: the second page repeats the first one's cursor.
    let client = client(&sim);
    let error = drain_events(&sim, &client, None).await.unwrap_err();
    let JumpCloudError::MalformedResponse {
        endpoint, detail, ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(endpoint, "/events");
    assert!(detail.contains("repeats an earlier page"), "{detail}");
    assert_eq!(client.total_requests(), 2);

    // With a count: stopped as soon as more events arrive than were counted.
    let client = self::client(&sim);
    let error = drain_events(&sim, &client, Some(1_500)).await.unwrap_err();
    assert_eq!(
        error,
        JumpCloudError::TruncatedCollection {
            endpoint: "/events".into(),
            expected: 1_500,
            received: 10_000
        }
    );
    assert_eq!(client.total_requests(), 1);
}

#[tokio::test]
async fn directory_insights_pages_are_bounded_by_the_count() {
    let sim = simulator(OrgSize::small()).await;
    // One event per page, each claimed full and with a fresh cursor: neither a repeated cursor
    // nor too many events would ever stop it.
    control(&sim)
        .inject(
            Fault::new(FaultKind::EndlessPages)
                .times(1_000)
                .on_path("/insights/directory/v1/events"),
        )
        .await
        .unwrap();
    let client = client(&sim);
    let error = drain_events(&sim, &client, Some(1_500)).await.unwrap_err();
    let JumpCloudError::MalformedResponse {
        endpoint, detail, ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(endpoint, "/events");
    assert!(
        detail
            .contains("did not end after 2 pages (2 events), although /events/count reported 1500"),
        "{detail}"
    );
    assert_eq!(client.total_requests(), 2, "1,500 events fit in 2 pages");
}

#[tokio::test]
async fn a_directory_insights_page_overlapping_the_previous_one_fails() {
    let sim = simulator(OrgSize {
        events: 20_500,
        ..OrgSize::small()
    })
    .await;
    // Every page starts 3 events before its cursor: 3 events arrive twice, and with the total
    // padded by the overlap the count alone could not tell.
    control(&sim)
        .inject(
            Fault::new(FaultKind::Shift { by: 3 })
                .times(3)
                .on_path("/insights/directory/v1/events"),
        )
        .await
        .unwrap();
    let error = drain_events(&sim, &client(&sim), None).await.unwrap_err();
    let JumpCloudError::DuplicateRecord { endpoint, skip, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!((endpoint.as_str(), *skip), ("/events", 10_000));
}
