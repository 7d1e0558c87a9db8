//! The layers' dependencies point one way (issue #12): the collection drives any snapshot sink
//! and names no store (the store implements the collection's sink traits), and the controls
//! are pure, naming neither the store nor the collection. Read from the sources, so a new `use`
//! that closes a circle fails here.

use std::path::Path;

/// Code lines (comments left out) of every `.rs` file under `src/<dir>`, with their path.
fn code_lines(dir: &str) -> Vec<(String, String)> {
    fn walk(path: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(path).expect("source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).expect("source file");
                for line in text.lines() {
                    if !line.trim_start().starts_with("//") {
                        out.push((path.display().to_string(), line.to_owned()));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir),
        &mut out,
    );
    assert!(!out.is_empty(), "no sources under src/{dir}");
    out
}

fn assert_names_none(dir: &str, forbidden: &[&str]) {
    for (path, line) in code_lines(dir) {
        for name in forbidden {
            assert!(!line.contains(name), "{path} names {name}: {line}");
        }
    }
}

#[test]
fn the_collection_names_no_store() {
    assert_names_none("collect", &["crate::store"]);
}

#[test]
fn the_controls_name_neither_the_store_nor_the_collection() {
    assert_names_none("controls", &["crate::store", "crate::collect"]);
}
