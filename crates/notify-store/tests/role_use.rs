//! Keeps crates/notify-store/README.md's "Role handles" table true: the roles a crate calls
//! (`store.outbox()`, `store.reads()`, …) are exactly the ones the table's "used by" column
//! names it in, and the table lists exactly the role accessors `Store` has. Each crate's
//! `src/` under `crates/` is read, and the root package's harness (`tests/src`, the crate
//! `notify-e2e`) and fault suite (`tests/faults`, the crate `notify-faults`); test targets
//! (`tests/`, `benches/`) and `#[cfg(test)]` modules are not, and neither is notify-store,
//! whose roles may call one another. Modelled on notify-channels' `tests/kind_matches.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crate that defines the roles: not checked.
const DEFINES_THE_ROLES: &str = "notify-store";

/// The crates of the end-to-end package at the root, by the folder (beside `crates/`) that
/// holds each one's source.
const E2E_CRATES: [(&str, &str); 2] = [
    ("notify-e2e", "tests/src"),
    ("notify-faults", "tests/faults"),
];

/// The README's table: each role accessor (`outbox`) and the crates that may call it.
#[derive(Debug, Default)]
struct Table {
    users: BTreeMap<String, BTreeSet<String>>,
}

impl Table {
    /// Parses the rows of the table under `## Role handles`: the accessor is the second
    /// column (`` `store.outbox()` ``), the crates are the backticked names of the last.
    fn parse(readme: &str) -> Table {
        let mut table = Table::default();
        let section = readme
            .split("\n## ")
            .find(|s| s.starts_with("Role handles"))
            .expect("the README has a \"Role handles\" section");
        for line in section.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // `| role | accessor | holds | used by |` splits into 6 cells, the outer two empty.
            assert_eq!(cells.len(), 6, "a table row with 4 columns: {line}");
            let accessor = cells[2]
                .trim_matches('`')
                .strip_prefix("store.")
                .and_then(|a| a.strip_suffix("()"))
                .unwrap_or_else(|| panic!("an accessor like `store.outbox()`: {line}"));
            let crates = cells[4]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            table.users.insert(accessor.to_string(), crates);
        }
        table
    }

    /// The roles the table lets `krate` call.
    fn allowed(&self, krate: &str) -> BTreeSet<&str> {
        self.users
            .iter()
            .filter(|(_, crates)| crates.contains(krate))
            .map(|(role, _)| role.as_str())
            .collect()
    }
}

/// The role accessors `Store` has: each `pub fn name(&self) -> Handle<'_>` in lib.rs.
fn accessors_of_store(lib_rs: &str) -> BTreeSet<String> {
    lib_rs
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("pub fn ") && l.contains("(&self) -> ") && l.ends_with("<'_> {"))
        .filter_map(|l| l.strip_prefix("pub fn ")?.split('(').next())
        .map(str::to_string)
        .collect()
}

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

/// The lines of `text` that are not inside an inline `#[cfg(test)]` module, numbered from 1.
/// rustfmt closes a module with a `}` at the indentation of its `mod` line, which is where the
/// skipping stops.
fn non_test_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "#[cfg(test)]" {
            // Past other attributes and comments to the item the attribute is on.
            let mut j = i + 1;
            while j < lines.len() && {
                let t = lines[j].trim_start();
                t.starts_with("#[") || t.starts_with("//")
            } {
                j += 1;
            }
            let item = lines.get(j).copied().unwrap_or("");
            let t = item.trim_start();
            if (t.starts_with("mod ") || t.starts_with("pub mod ")) && t.ends_with('{') {
                let close = format!("{}}}", &item[..item.len() - t.len()]);
                let end = (j + 1..lines.len())
                    .find(|&k| lines[k] == close)
                    .unwrap_or(lines.len());
                i = end + 1;
                continue;
            }
        }
        out.push((i + 1, lines[i]));
        i += 1;
    }
    out
}

/// Every crate to check, with its source files: each folder under `crates/` but the one that
/// defines the roles (its `src/`), then the end-to-end crates.
fn crates_to_check(root: &Path) -> Vec<(String, Vec<PathBuf>)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("crates/ is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if name == DEFINES_THE_ROLES {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        files.sort();
        out.push((name, files));
    }
    for (name, dir) in E2E_CRATES {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        files.sort();
        out.push((name.to_string(), files));
    }
    out
}

/// What disagrees with the table under `root` (a folder holding `crates/` and `tests/`): each
/// call of a role accessor outside comments and test modules by a crate the table does not
/// name for that role (`file:line: text`), and each role the table names a crate for that the
/// crate never calls.
fn disagreements(root: &Path, table: &Table) -> Vec<String> {
    let mut found = Vec::new();
    for (krate, files) in crates_to_check(root) {
        let allowed = table.allowed(&krate);
        let mut called = BTreeSet::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in non_test_lines(&text) {
                let code = line.split("//").next().unwrap_or("");
                for role in table.users.keys() {
                    if !code.contains(&format!(".{role}()")) {
                        continue;
                    }
                    called.insert(role.as_str());
                    if !allowed.contains(role.as_str()) {
                        found.push(format!(
                            "{}:{n}: {krate} calls `.{role}()`, which the table does not give \
                             it: {}",
                            f.strip_prefix(root).unwrap().display(),
                            line.trim()
                        ));
                    }
                }
            }
        }
        for role in allowed.difference(&called) {
            found.push(format!(
                "{krate} is named for `store.{role}()` in the table but never calls it: take it \
                 out of that row"
            ));
        }
    }
    found
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readme_table() -> Table {
    Table::parse(&std::fs::read_to_string(manifest_dir().join("README.md")).unwrap())
}

#[test]
fn each_crate_calls_the_roles_the_readme_gives_it() {
    let root = manifest_dir().parent().unwrap().parent().unwrap();
    let found = disagreements(root, &readme_table());
    assert!(
        found.is_empty(),
        "crates/notify-store/README.md's \"Role handles\" table says which crate may use which \
         role; these disagree with it (add the crate to the role's row if it really needs the \
         role, in the same change):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_readme_lists_every_role_of_the_store() {
    let lib = std::fs::read_to_string(manifest_dir().join("src/lib.rs")).unwrap();
    let accessors = accessors_of_store(&lib);
    let listed: BTreeSet<String> = readme_table().users.into_keys().collect();
    assert!(accessors.len() >= 10, "{accessors:?}");
    assert_eq!(
        listed, accessors,
        "the README's table (left) and Store's role accessors (right) differ"
    );
}

#[test]
fn the_readme_names_only_crates_that_exist() {
    let crates = manifest_dir().parent().unwrap();
    let e2e: BTreeSet<&str> = E2E_CRATES.iter().map(|(name, _)| *name).collect();
    for (role, users) in readme_table().users {
        assert!(!users.is_empty(), "no crate uses `store.{role}()`");
        for krate in users {
            assert!(
                crates.join(&krate).is_dir() || e2e.contains(krate.as_str()),
                "the row of `store.{role}()` names {krate:?}, which is no crate"
            );
        }
    }
}

#[test]
fn the_check_finds_a_call_outside_the_table_and_an_unused_allowance() {
    let dir = std::env::temp_dir().join(format!("role-use-{}", std::process::id()));
    let src = dir.join("crates/notify-x/src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "// store.lanes() in a comment is fine\n\
         fn f(s: &Store) { s.reads(); }\n\
         fn g(s: &Store) { s.outbox(); }\n\
         #[cfg(test)]\n\
         // a comment between\n\
         mod tests {\n\
         \x20   fn h(s: &Store) { s.lanes(); }\n\
         }\n\
         fn k(s: &Store) { s.outbox(); }\n",
    )
    .unwrap();
    for (_, sub) in E2E_CRATES {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(
            dir.join(sub).join("x.rs"),
            "fn f(s: &Store) { s.tokens(); }\n",
        )
        .unwrap();
    }
    let table = Table::parse(
        "# x\n\n## Role handles\n\n\
         | role | accessor | holds | used by |\n| --- | --- | --- | --- |\n\
         | `Reads` | `store.reads()` | reads | `notify-x` |\n\
         | `Outbox` | `store.outbox()` | writes | `notify-y` |\n\
         | `Lanes` | `store.lanes()` | lanes | `notify-x` |\n\
         | `Tokens` | `store.tokens()` | tokens | `notify-faults` |\n\n## Next\n",
    );
    let found = disagreements(&dir, &table);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found[0].starts_with("crates/notify-x/src/lib.rs:3: notify-x calls `.outbox()`"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("crates/notify-x/src/lib.rs:9: notify-x calls `.outbox()`"),
        "{found:#?}"
    );
    assert!(
        found[2].starts_with("notify-x is named for `store.lanes()`"),
        "{found:#?}"
    );
    assert!(
        found[3].starts_with("tests/src/x.rs:1: notify-e2e calls `.tokens()`"),
        "{found:#?}"
    );
}

#[test]
fn the_accessors_are_read_from_lib_rs() {
    let lib = "impl Store {\n\
               \x20   pub fn outbox(&self) -> Outbox<'_> {\n\
               \x20       Outbox { store: self }\n\
               \x20   }\n\
               \x20   pub fn url(&self) -> &str {\n\
               \x20   pub fn clock(&self) -> &Arc<dyn Clock> {\n\
               }\n";
    assert_eq!(
        accessors_of_store(lib),
        BTreeSet::from(["outbox".to_string()])
    );
}
