//! Issue 16 (1, 2): scripts/install.sh puts the binaries, man pages and completions under a
//! prefix (DESTDIR honoured), the installed tools run from there, `--uninstall` removes
//! exactly what was installed, and an unwritable prefix installs nothing.

use crate::util::Dir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh")
}

/// The directory of the binaries this test run built.
fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bsort"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn install(args: &[&str], destdir: Option<&Path>) -> Output {
    let mut c = Command::new("bash");
    c.arg(script())
        .args(args)
        .env("BATCHKIT_BIN_DIR", bin_dir());
    if let Some(d) = destdir {
        c.env("DESTDIR", d);
    }
    c.output().unwrap_or_else(|e| panic!("{e}"))
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn install_run_and_uninstall_in_a_prefix() {
    let dir = Dir::new();
    let prefix = dir.join("prefix");
    let p = prefix.to_str().unwrap_or_default();
    let out = install(&[p], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for tool in ["bsort", "bsplit", "bmap", "bshuffle", "breduce", "bjoin"] {
        let v = Command::new(prefix.join("bin").join(tool))
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(v.status.success(), "{tool} --version");
        assert!(String::from_utf8_lossy(&v.stdout).starts_with(tool));
        for f in [
            format!("share/man/man1/{tool}.1"),
            format!("share/bash-completion/completions/{tool}"),
            format!("share/zsh/site-functions/_{tool}"),
            format!("share/fish/vendor_completions.d/{tool}.fish"),
        ] {
            assert!(prefix.join(&f).is_file(), "{f} not installed");
        }
    }
    // The installed page renders (when man is on this machine).
    let page = prefix.join("share/man/man1/bsort.1");
    if let Ok(m) = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
    {
        assert!(
            m.status.success(),
            "man -l: {}",
            String::from_utf8_lossy(&m.stderr)
        );
        assert!(String::from_utf8_lossy(&m.stdout).contains("bsort"));
    }
    // A file of the user's own under the prefix survives the uninstall.
    std::fs::write(prefix.join("bin/mine"), "keep").unwrap_or_else(|e| panic!("{e}"));
    let out = install(&["--uninstall", p], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files_under(&prefix), vec![prefix.join("bin/mine")]);
}

#[test]
fn destdir_stages_the_install() {
    let dir = Dir::new();
    let stage = dir.join("stage");
    let out = install(&["/usr"], Some(&stage));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stage.join("usr/bin/bjoin").is_file());
    assert!(stage.join("usr/share/man/man1/bjoin.1").is_file());
}

#[test]
fn unwritable_prefix_installs_nothing() {
    let dir = Dir::new();
    // A prefix below a regular file can never be created, root or not.
    dir.write("file", "x");
    let prefix = dir.join("file/prefix");
    let out = install(&[prefix.to_str().unwrap_or_default()], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot create"), "{err}");
    assert_eq!(files_under(dir.path()), vec![dir.join("file")]);
}
