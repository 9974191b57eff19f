//! Keeps crates/notify-channels/README.md's "Adding a kind" list true: what an upstream kind is
//! (its config, limits, lanes, answers, recall, sidebar context, JS-SDK ticket) lives in
//! notify-channels, so no other crate's source names a `ChannelKind::` or `KindConfig::`
//! variant or matches on the kind. notify-core defines the enum; the simulator does not use it.
//! The end-to-end package at the root (`tests/`) counts as a crate: its harness (`src/`) and
//! fault suite (`faults/`) are checked too; its test targets, like every crate's, are not.

use std::path::{Path, PathBuf};

/// The crates that may name a kind's variant.
const ALLOWED: [&str; 2] = ["notify-core", "notify-channels"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source folders of the end-to-end package `tests/` beside `crates/` (the harness and
/// the fault suite).
const E2E_SOURCES: [&str; 2] = ["tests/src", "tests/faults"];

/// `file:line: text` of every line naming a `ChannelKind::` or `KindConfig::` path (a kind's
/// variant, or its config type's) outside a comment.
fn offending_lines(crates: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut sources = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(crates)
        .expect("crates/ is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for krate in dirs {
        let name = krate.file_name().unwrap().to_string_lossy().to_string();
        if ALLOWED.contains(&name.as_str()) {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&krate.join("src"), &mut files);
        files.sort();
        sources.extend(files);
    }
    let root = crates.parent().unwrap();
    for dir in E2E_SOURCES {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        files.sort();
        sources.extend(files);
    }
    for f in sources {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("ChannelKind::") || code.contains("KindConfig::") {
                found.push(format!(
                    "{}:{}: {}",
                    f.strip_prefix(root).unwrap().display(),
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    found
}

#[test]
fn no_crate_but_core_and_channels_names_a_kind() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let found = offending_lines(crates);
    assert!(
        found.is_empty(),
        "these lines decide by the channel kind outside notify-core and notify-channels; \
         ask the channel instead (a ChannelHandle or Channel method), see \
         crates/notify-channels/README.md, \"Adding a kind\":\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_a_kind_match() {
    let dir = std::env::temp_dir().join(format!("kind-matches-{}", std::process::id()));
    let src = dir.join("crates/notify-x/src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "// ChannelKind::Juzi in a comment is fine\nfn f(k: K) -> bool { match k { ChannelKind::Juzi => true, _ => false } }\n",
    )
    .unwrap();
    let found = offending_lines(&dir.join("crates"));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("crates/notify-x/src/lib.rs:2:"),
        "{found:?}"
    );
}

#[test]
fn the_check_reads_the_end_to_end_package() {
    let dir = std::env::temp_dir().join(format!("kind-matches-e2e-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("crates")).unwrap();
    for sub in E2E_SOURCES {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(
            dir.join(sub).join("x.rs"),
            "fn f() -> K { ChannelKind::Juzi }\n",
        )
        .unwrap();
    }
    let found = offending_lines(&dir.join("crates"));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("tests/src/x.rs:1:"), "{found:?}");
    assert!(found[1].starts_with("tests/faults/x.rs:1:"), "{found:?}");
}
