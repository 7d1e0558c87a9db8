//! The client asks as JumpCloud documents its API: Directory Insights requests carry the
//! organization id the key was identified with (its security requirement lists `x-api-key` and
//! `x-org-id`), and the lists that document `sort` are paged sorted.

mod client_support;

use client_support::*;
use jumpcloud_operator::region::Region;
use jumpcloud_simulator::OrgSize;
use jumpcloud_simulator::control::RequestRecord;

fn insights_requests(requests: &[RequestRecord]) -> Vec<&RequestRecord> {
    requests
        .iter()
        .filter(|r| r.path.starts_with("/insights/directory/v1/"))
        .collect()
}

#[tokio::test]
async fn every_directory_insights_request_carries_the_identified_org_without_a_configured_one() {
    let sim = simulator(OrgSize::small()).await;
    let org = sim.org_id(Region::Us).unwrap();
    let client = client(&sim);
    assert_eq!(
        client.org_id(),
        None,
        "the connection names no organization"
    );
    let dir = tempfile::tempdir().unwrap();
    collect_into(&client, dir.path()).await;

    let requests = control(&sim).requests().await.unwrap();
    let insights = insights_requests(&requests);
    assert!(
        insights.iter().any(|r| r.path.ends_with("/events/count"))
            && insights.iter().any(|r| r.path.ends_with("/events")),
        "the collection counted and paged events: {insights:?}"
    );
    for request in &insights {
        assert_eq!(request.org_ids, vec![org.clone()], "{request:?}");
        assert_eq!(request.status, 200, "{request:?}");
    }
    // Console routes keep their rule: no organization configured, no header.
    assert!(
        requests
            .iter()
            .filter(|r| r.path.starts_with("/api/"))
            .all(|r| r.org_ids.is_empty())
    );
}

#[tokio::test]
async fn a_multi_tenant_key_sends_the_selected_org_to_directory_insights() {
    let sim = simulator(OrgSize::small()).await;
    let read_only = read_only_admin(&sim);
    let second = control(&sim)
        .add_org(std::slice::from_ref(&read_only.id))
        .await
        .unwrap();
    let mut config = fast_config(&sim, Region::Us);
    config.org_id = Some(second.clone());
    let client = client_with(&sim, config, sim.read_only_key(Region::Us));
    let dir = tempfile::tempdir().unwrap();
    collect_into(&client, dir.path()).await;

    let requests = control(&sim).requests().await.unwrap();
    let insights = insights_requests(&requests);
    assert!(!insights.is_empty());
    for request in insights {
        assert_eq!(request.org_ids, vec![second.clone()], "{request:?}");
    }
}

#[tokio::test]
async fn roles_and_user_memberships_are_paged_sorted_by_id() {
    let sim = simulator(OrgSize::small()).await;
    let dir = tempfile::tempdir().unwrap();
    collect_into(&client(&sim), dir.path()).await;

    let requests = control(&sim).requests().await.unwrap();
    let sorted = |wanted: &dyn Fn(&str) -> bool| {
        let matching: Vec<&RequestRecord> = requests.iter().filter(|r| wanted(&r.path)).collect();
        assert!(!matching.is_empty(), "no request matched");
        for request in matching {
            assert_eq!(request.param("sort").as_deref(), Some("id"), "{request:?}");
            assert_eq!(
                request.param("limit").as_deref(),
                Some("100"),
                "{request:?}"
            );
        }
    };
    sorted(&|path| path == "/api/v2/roles");
    sorted(&|path| path.starts_with("/api/v2/users/") && path.ends_with("/memberof"));
}
