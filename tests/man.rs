//! man/*.1 and completions/* (bash, zsh, fish) are generated from each tool's clap
//! definition; these fail when one is stale. Regenerate with scripts/gen-man.sh (which runs
//! them with BATCHKIT_UPDATE_MAN=1).

use std::path::PathBuf;

/// Every tool's clap command, by name (also used by tests/examples.rs).
pub(crate) fn pages() -> Vec<(&'static str, clap::Command)> {
    vec![
        ("bsort", cmd::bsort::command()),
        ("bmap", cmd::bmap::command()),
        ("breduce", cmd::breduce::command()),
        ("bshuffle", cmd::bshuffle::command()),
        ("bsplit", cmd::bsplit::command()),
        ("bjoin", cmd::bjoin::command()),
    ]
}

fn render(cmd: clap::Command) -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .date("")
        .manual("batchkit")
        .render(&mut out)
        .unwrap_or_else(|e| panic!("rendering a man page: {e}"));
    out
}

#[test]
fn man_pages_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("BATCHKIT_UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for (name, cmd) in pages() {
        let path = dir.join(format!("{name}.1"));
        let want = render(cmd);
        if update {
            std::fs::write(&path, &want).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else if std::fs::read(&path).ok().as_deref() != Some(&want[..]) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages {stale:?}: run scripts/gen-man.sh and commit the result"
    );
}

/// The completion scripts of one tool: (file name, contents) for bash, zsh and fish.
fn completions(name: &str, mut cmd: clap::Command) -> Vec<(String, Vec<u8>)> {
    use clap_complete::{Generator, Shell};
    [Shell::Bash, Shell::Zsh, Shell::Fish]
        .into_iter()
        .map(|shell| {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, name, &mut out);
            (shell.file_name(name), out)
        })
        .collect()
}

#[test]
fn completions_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("BATCHKIT_UPDATE_MAN").is_some();
    if update {
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let mut stale = Vec::new();
    for (name, cmd) in pages() {
        for (file, want) in completions(name, cmd) {
            let path = dir.join(file);
            assert!(
                want.windows(name.len()).any(|w| w == name.as_bytes()),
                "{}: the script does not name {name}",
                path.display()
            );
            if update {
                std::fs::write(&path, &want).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            } else if std::fs::read(&path).ok().as_deref() != Some(&want[..]) {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale completions {stale:?}: run scripts/gen-man.sh and commit the result"
    );
}

#[test]
fn help_has_examples() {
    for (name, mut cmd) in pages() {
        let help = cmd.render_long_help().to_string();
        assert!(help.contains("Examples:"), "{name} --help has no examples");
    }
}
