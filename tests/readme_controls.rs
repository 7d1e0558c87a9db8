//! The README's control table is documentation users and auditors read: it must list every
//! control in the catalog with its current title and suggested mapping.

use jumpcloud_operator::controls::CATALOG;

#[test]
fn readme_control_table_matches_the_catalog() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    let rows: Vec<String> = readme
        .lines()
        .filter(|line| line.starts_with("| JC-"))
        .map(str::to_owned)
        .collect();
    let expected: Vec<String> = CATALOG
        .iter()
        .map(|control| {
            format!(
                "| {} | {} | {}; {} | {} |",
                control.id,
                control.title,
                control.soc2.join(", "),
                control.iso27001.join(", "),
                control.verdicts
            )
        })
        .collect();
    for row in &expected {
        assert!(
            rows.contains(row),
            "README.md lacks or misstates this control row (update the table in \
             'Compliance controls and the auditor report'):\n{row}"
        );
    }
    assert_eq!(
        rows.len(),
        expected.len(),
        "README.md lists controls that are not in the catalog"
    );
}
