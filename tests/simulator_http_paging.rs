//! Pagination over real HTTP: v1 and v2 page boundaries, 10,001 records, System Insights pages
//! and JumpCloud's limit maxima.

mod simulator_support;

use std::collections::HashSet;

use jumpcloud_simulator::{OrgSize, Region};
use reqwest::StatusCode;

use simulator_support::*;

#[tokio::test]
async fn v1_and_v2_pagination_is_exact_at_page_boundaries() {
    for n in [0, 1, 99, 100, 101] {
        let sim = start(OrgSize {
            users: n,
            devices: n,
            applications: n,
            user_groups: n,
            device_groups: n,
            policies: 1,
            ..empty_org()
        })
        .await;
        let api = Api::new(&sim, Region::Us);
        for path in ["api/systemusers", "api/systems", "api/applications"] {
            let (ids, totals) = page_v1(&api, path).await;
            assert_exact(&ids, &totals, n, path);
        }
        for path in ["api/v2/usergroups", "api/v2/systemgroups"] {
            let (ids, totals) = page_v2(&api, path, 100).await;
            assert_exact(&ids, &totals, n, path);
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn pagination_is_exact_at_10001_records() {
    let sim = start(OrgSize {
        users: 10_001,
        user_groups: 10_001,
        ..empty_org()
    })
    .await;
    let api = Api::new(&sim, Region::Us);
    let (ids, totals) = page_v1(&api, "api/systemusers").await;
    assert_exact(&ids, &totals, 10_001, "users");
    let (ids, totals) = page_v2(&api, "api/v2/usergroups", 100).await;
    assert_exact(&ids, &totals, 10_001, "user groups");
    // The last page holds exactly one record, and a skip past the end gives an empty page.
    let (_, _, body) = api.json("api/systemusers?limit=100&skip=10000").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    let (_, _, body) = api.json("api/systemusers?limit=100&skip=20000").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 0);
    assert_eq!(body["totalCount"], 10_001);
}

#[tokio::test]
async fn system_insights_pages_up_to_10000_and_only_covers_enabled_devices() {
    let sim = start(OrgSize {
        devices: 300,
        ..empty_org()
    })
    .await;
    let api = Api::new(&sim, Region::Us);
    let (_, _, systems) = api.json("api/systems?limit=100").await;
    let mut enabled = 0;
    let (mut mac, mut windows) = (HashSet::new(), HashSet::new());
    for skip in [0, 100, 200] {
        let (_, _, page) = api
            .json(&format!("api/systems?limit=100&skip={skip}"))
            .await;
        for s in page["results"].as_array().unwrap() {
            if s["systemInsights"]["state"] == "enabled" {
                enabled += 1;
                match s["osFamily"].as_str().unwrap() {
                    "darwin" => mac.insert(s["_id"].as_str().unwrap().to_string()),
                    "windows" => windows.insert(s["_id"].as_str().unwrap().to_string()),
                    _ => false,
                };
            }
        }
    }
    assert_eq!(systems["totalCount"], 300);
    assert!(enabled < 300, "some devices must have System Insights off");

    let (ids, totals) = page_v2(&api, "api/v2/systeminsights/os_version", 10_000).await;
    assert_eq!(ids.len(), enabled);
    assert_eq!(totals, HashSet::from([enabled as u64]));
    let (ids, _) = page_v2(&api, "api/v2/systeminsights/os_version", 7).await;
    assert_eq!(ids.len(), enabled, "small pages give the same rows");
    let (alf, _) = page_v2(&api, "api/v2/systeminsights/alf", 10_000).await;
    assert_eq!(
        alf.iter().cloned().collect::<HashSet<_>>(),
        mac,
        "alf rows exist for SI-enabled Macs only"
    );
    let (bitlocker, _) = page_v2(&api, "api/v2/systeminsights/bitlocker_info", 10_000).await;
    assert_eq!(bitlocker.iter().cloned().collect::<HashSet<_>>(), windows);
    let (products, _) = page_v2(
        &api,
        "api/v2/systeminsights/windows_security_products",
        10_000,
    )
    .await;
    assert_eq!(
        products.len(),
        2 * windows.len(),
        "an antivirus and a firewall row per Windows device"
    );
    for table in ["disk_encryption", "windows_security_center"] {
        let (status, _, _) = api
            .json(&format!("api/v2/systeminsights/{table}?limit=10000"))
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    let one = mac.iter().next().unwrap();
    let (_, headers, rows) = api
        .json(&format!(
            "api/v2/systeminsights/alf?limit=10&filter=system_id:eq:{one}"
        ))
        .await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(headers["x-total-count"], "1");
    assert_eq!(rows[0]["system_id"], one.as_str());

    let (status, _, body) = api.json("api/v2/systeminsights/alf?limit=10001").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("10000"),
        "{body}"
    );
}

#[tokio::test]
async fn limits_above_the_maximum_are_rejected_like_jumpcloud() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    for path in [
        "api/systemusers",
        "api/systems",
        "api/applications",
        "api/organizations",
        "api/users",
        "api/v2/policies",
        "api/v2/usergroups",
        "api/v2/roles",
        "api/v2/authn/policies",
    ] {
        let (status, _, body) = api.json(&format!("{path}?limit=101")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{path}: {body}"
        );
        let (status, _, _) = api.json(&format!("{path}?limit=100")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, _, _) = api.json("api/systemusers?limit=ten").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = api.json("api/systemusers?skip=-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Default page size is 10, and `-_id` reverses the stable order.
    let (_, _, body) = api.json("api/systemusers").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 10);
    let (_, _, asc) = api.json("api/systemusers?limit=100&sort=_id").await;
    let (_, _, desc) = api.json("api/systemusers?limit=100&sort=-_id").await;
    let mut reversed = desc["results"].as_array().unwrap().clone();
    reversed.reverse();
    assert_eq!(&reversed, asc["results"].as_array().unwrap());
}
