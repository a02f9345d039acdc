//! Issue 16 (3): progress on a terminal. Each tool runs under a pseudo-terminal (util-linux
//! `script`), and what it drew is replayed through a small terminal model: the bar or spinner
//! must have been drawn, and the screen it leaves must hold only the tool's last words (an
//! error message, the `--stats` line), never a bar or a message glued to one.

use crate::util::{bin_path, Dir};
use std::process::Command;

/// Run `cmd` (a bash line, with the built binaries first on PATH) with a terminal as its
/// stdin/stdout/stderr; the raw bytes it wrote to the terminal, or None without `script`.
fn on_tty(dir: &Dir, cmd: &str) -> Option<(String, i32)> {
    let bins = bin_path("bsort")
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let line = format!(
        "export PATH={bins}:$PATH LC_ALL=C COLUMNS=120; stty cols 120 rows 40 2>/dev/null; {cmd}"
    );
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(dir.path())
        .env("TERM", "xterm")
        // `script` runs `$SHELL -c`; CI's shell may be sh, which has no $'\t'.
        .env("SHELL", "/bin/bash")
        .output()
        .ok()?;
    let status = out.status.code().unwrap_or(-1);
    Some((String::from_utf8_lossy(&out.stdout).into_owned(), status))
}

/// The screen after replaying `raw`: carriage return, newline, erase-line and cursor-up
/// are what indicatif draws with; other escape sequences (colours, cursor hiding) are
/// skipped. Trailing blanks and empty lines are dropped.
fn screen(raw: &str) -> Vec<String> {
    let mut rows: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
                if rows.len() <= row {
                    rows.push(Vec::new());
                }
            }
            '\x1b' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut params = String::new();
                let mut fin = ' ';
                for p in chars.by_ref() {
                    if p.is_ascii_alphabetic() || p == '~' {
                        fin = p;
                        break;
                    }
                    params.push(p);
                }
                let n: usize = params.trim_start_matches('?').parse().unwrap_or(0);
                match fin {
                    'K' if n == 2 => rows[row].clear(),
                    'K' => rows[row].truncate(col),
                    'A' => row = row.saturating_sub(n.max(1)),
                    'B' => {
                        row += n.max(1);
                        while rows.len() <= row {
                            rows.push(Vec::new());
                        }
                    }
                    'G' => col = n.saturating_sub(1),
                    'J' => {
                        rows[row].truncate(col);
                        rows.truncate(row + 1);
                    }
                    _ => {}
                }
            }
            c if c.is_control() => {}
            c => {
                let r = &mut rows[row];
                while r.len() < col {
                    r.push(' ');
                }
                if col < r.len() {
                    r[col] = c;
                } else {
                    r.push(c);
                }
                col += 1;
            }
        }
    }
    rows.into_iter()
        .map(|r| r.into_iter().collect::<String>().trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn drew_bar(raw: &str) -> bool {
    raw.contains("ETA")
}

fn drew_spinner(raw: &str) -> bool {
    raw.contains("B/s") && !raw.contains("ETA")
}

/// Lines that take long enough to sort in a debug build for the bar to be drawn.
fn big_input(dir: &Dir) {
    let mut s = String::new();
    for i in 0..400_000u64 {
        s.push_str(&format!("{}\t{}\n", (i * 7919) % 100_003, i));
    }
    dir.write("big.tsv", s);
}

#[test]
fn a_file_input_draws_a_bar_that_is_cleared_at_the_end() {
    let d = Dir::new();
    big_input(&d);
    let Some((raw, status)) = on_tty(&d, "bsort -t $'\\t' -k1,1n -o out.tsv big.tsv") else {
        eprintln!("progress: `script` (util-linux) not installed: skipped");
        return;
    };
    assert_eq!(status, 0, "{raw}");
    assert!(drew_bar(&raw), "no bar was drawn: {raw:?}");
    assert_eq!(screen(&raw), Vec::<String>::new(), "raw: {raw:?}");
    assert!(d.read("out.tsv").len() > 1_000_000);
}

#[test]
fn a_pipe_draws_a_spinner() {
    let d = Dir::new();
    let cmd = "(printf 'b\\n'; sleep 0.6; printf 'a\\n') | bsort > out.txt";
    let Some((raw, status)) = on_tty(&d, cmd) else {
        return;
    };
    assert_eq!(status, 0, "{raw}");
    assert!(drew_spinner(&raw), "no spinner was drawn: {raw:?}");
    assert_eq!(screen(&raw), Vec::<String>::new(), "raw: {raw:?}");
    assert_eq!(d.read("out.txt"), b"a\nb\n");
}

#[test]
fn the_bar_is_cleared_before_an_error_message() {
    let d = Dir::new();
    for (tool, cmd) in [
        (
            "breduce",
            "(printf 'k\\t1\\n'; sleep 0.6; printf 'k\\tx\\n') | breduce sum:2 > out.txt",
        ),
        (
            "bsort",
            "(printf 'b\\n'; sleep 0.6; printf 'a\\n') | bsort -o /nonexistent/dir/out.txt",
        ),
    ] {
        let Some((raw, status)) = on_tty(&d, cmd) else {
            return;
        };
        assert_ne!(status, 0, "{tool}: {raw}");
        assert!(drew_spinner(&raw), "{tool}: no spinner was drawn: {raw:?}");
        let lines = screen(&raw);
        assert_eq!(lines.len(), 1, "{tool}: {lines:?} (raw {raw:?})");
        assert!(
            lines[0].starts_with(&format!("{tool}: ")),
            "{tool}: the message does not start its line: {lines:?}"
        );
    }
}

#[test]
fn stats_on_stderr_never_mix_with_the_bar() {
    let d = Dir::new();
    big_input(&d);
    for (cmd, records) in [
        ("bsort -t $'\\t' -k1,1n --stats -o out.tsv big.tsv", 400_000),
        ("breduce --hash count --stats -o out.tsv big.tsv", 400_000),
        ("bshuffle -n 3 -o parts/ --stats big.tsv", 400_000),
        ("bjoin --stats -o out.tsv big.tsv big.tsv", 800_000), // both sides
        ("bmap --stats -o out.tsv big.tsv -- cat", 400_000),
        ("bsplit -l 1000 --stats -o parts/ big.tsv", 400_000),
    ] {
        let Some((raw, status)) = on_tty(&d, &format!("rm -rf parts; {cmd}")) else {
            return;
        };
        assert_eq!(status, 0, "{cmd}: {raw}");
        assert!(drew_bar(&raw), "{cmd}: no bar was drawn: {raw:?}");
        let lines = screen(&raw);
        assert_eq!(lines.len(), 1, "{cmd}: {lines:?}");
        let v: serde_json::Value = serde_json::from_str(&lines[0])
            .unwrap_or_else(|e| panic!("{cmd}: the stats line does not parse ({e}): {lines:?}"));
        assert_eq!(v["records_in"], records, "{cmd}");
    }
}

#[test]
fn nothing_is_drawn_when_stderr_is_not_a_terminal() {
    let d = Dir::new();
    big_input(&d);
    let out = Command::new(bin_path("bsort"))
        .args(["-t", "\t", "-k1,1n", "-o", "out.tsv", "big.tsv"])
        .current_dir(d.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_terminal_model_replays_what_indicatif_draws() {
    assert_eq!(screen("abc\r\x1b[2Kxy\r\n"), vec!["xy"]);
    assert_eq!(screen("bar 1\r\x1b[2K\x1b[?25h\rmsg\r\n"), vec!["msg"]);
    assert_eq!(screen("a\r\nb\r\n\x1b[1A\x1b[2K"), vec!["a"]);
}

#[test]
fn bjoin_names_its_phases() {
    let d = Dir::new();
    big_input(&d);
    for (cmd, phases) in [
        (
            "bjoin --strategy hash -o out.tsv big.tsv big.tsv",
            ["build", "probe"],
        ),
        (
            "bjoin --strategy merge -o out.tsv big.tsv big.tsv",
            ["sort", "merge"],
        ),
    ] {
        let Some((raw, status)) = on_tty(&d, cmd) else {
            return;
        };
        assert_eq!(status, 0, "{cmd}: {raw}");
        for p in phases {
            assert!(
                raw.contains(&format!("{p:>6} ")),
                "{cmd}: phase {p} never drawn: {raw:?}"
            );
        }
        assert_eq!(screen(&raw), Vec::<String>::new(), "{cmd}: raw {raw:?}");
    }
}

#[test]
fn bsort_names_its_steps() {
    let d = Dir::new();
    big_input(&d);
    let Some((raw, status)) = on_tty(&d, "bsort -t $'\\t' -k1,1n -o out.tsv big.tsv") else {
        return;
    };
    assert_eq!(status, 0, "{raw}");
    for p in ["read", "sort"] {
        assert!(
            raw.contains(&format!("{p:>6} ")),
            "step {p} never drawn: {raw:?}"
        );
    }
    assert_eq!(screen(&raw), Vec::<String>::new(), "raw {raw:?}");
}
