//! The README's severity and category table of the policy reports must match the catalog.

use jumpcloud_operator::controls::CATALOG;

#[test]
fn readme_severity_table_matches_the_catalog() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    let rows: Vec<&str> = readme
        .lines()
        .filter(|line| line.starts_with("| `JC-"))
        .collect();
    let expected: Vec<String> = CATALOG
        .iter()
        .map(|c| format!("| `{}` | {} | {} |", c.id, c.severity.as_str(), c.category))
        .collect();
    assert_eq!(
        rows, expected,
        "README.md's table in 'Policy reports (PolicyReport and OpenReports)' differs from the catalog"
    );
}
