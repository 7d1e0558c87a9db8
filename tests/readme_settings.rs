//! The README's settings table names exactly the fields of the settings schema: the README once
//! documented `minPasswordLength`, which the parser silently ignored.

use jumpcloud_operator::controls::ControlSettings;

/// The first column of the table that follows the README's "Settings (`--settings FILE`" text.
fn readme_settings() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("Settings (`--settings FILE`")
        .expect("the README's settings section");
    readme[start..]
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|row| {
            let first = row.split('|').nth(1).unwrap().trim();
            first.trim_matches('`').to_owned()
        })
        .collect()
}

#[test]
fn every_setting_in_the_readme_is_in_the_schema_and_back() {
    let schema = serde_json::to_value(schemars::schema_for!(ControlSettings)).unwrap();
    let mut fields: Vec<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut documented = readme_settings();
    for name in &documented {
        assert!(
            fields.contains(name),
            "README names `{name}`, which is not a setting (fields: {fields:?})"
        );
    }
    documented.sort();
    fields.sort();
    assert_eq!(
        documented, fields,
        "the README's settings table is incomplete"
    );
}
