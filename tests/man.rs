//! man/*.1 are generated from each tool's clap definition; this fails when one is stale.
//! Regenerate with scripts/gen-man.sh (which runs this test with BATCHKIT_UPDATE_MAN=1).

use std::path::PathBuf;

fn pages() -> Vec<(&'static str, clap::Command)> {
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

#[test]
fn help_has_examples() {
    for (name, mut cmd) in pages() {
        let help = cmd.render_long_help().to_string();
        assert!(help.contains("Examples:"), "{name} --help has no examples");
    }
}
