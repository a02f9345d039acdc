//! Large groups of records whose 16-byte summaries tie (keys longer than the summary, shared
//! by hundreds of records, as a Zipf key is): bsort sorts those groups by deeper summaries
//! of their normalized keys, level by level. Checked against GNU `LC_ALL=C sort` at several
//! thread counts and budgets, stable, unique and reversed.

use crate::util::{self, bsort, Case, Compare, Dir, Failures, Rng};

/// Records `key<TAB>number`: keys from a few long stems (20 to 50 bytes) that differ late,
/// some of them prefixes of others, numbers with long shared digits; duplicates abound.
fn records(rng: &mut Rng, n: usize) -> Vec<u8> {
    let stems = [
        "tglwmmhh2vaaa8tglwmmhh2vaaa8",
        "tglwmmhh2vaaa8tglwmmhh2vaaa8xyzxyzxyzxyzxyz",
        "tglwmmhh2vaaa8tglwmmhh2vaaa8xyzxyzxyzxyzxyzq",
        "tglwmmhh2vaaa8tglwmmhh2vaaa7",
        "tglwmmhh2vaaa8",
        "tglwmmhh2vaaa8 with blanks  inside and  more",
    ];
    let mut out = Vec::new();
    for _ in 0..n {
        let stem = stems[rng.below(stems.len())];
        out.extend_from_slice(stem.as_bytes());
        if rng.chance(1, 3) {
            out.extend_from_slice(format!("{}", rng.below(4)).as_bytes());
        }
        out.push(b'\t');
        if rng.chance(1, 2) {
            out.extend_from_slice(b"-");
        }
        out.extend_from_slice(b"12345678901234567");
        out.extend_from_slice(format!("{}", rng.below(30)).as_bytes());
        if rng.chance(1, 4) {
            out.extend_from_slice(format!(".{}", rng.below(100)).as_bytes());
        }
        out.push(b'\n');
    }
    out
}

#[test]
fn deep_ties_match_gnu() {
    if !util::have_gnu_sort() {
        eprintln!("skipping: {} not found", util::GNU_SORT);
        return;
    }
    let dir = Dir::new();
    let mut fails = Failures::new("deep_ties_match_gnu");
    let mut rng = Rng::new(Rng::seed_from_env(0xdee9_7135));
    let input = records(&mut rng, 3000);
    let keys: [&[&str]; 9] = [
        &["-t", "\t", "-k1,1"],
        &["-t", "\t", "-k1,1", "-s"],
        &["-t", "\t", "-k1,1", "-u"],
        &["-t", "\t", "-k1,1r"],
        &["-t", "\t", "-k1,1", "-r"],
        &["-t", "\t", "-k2,2n"],
        &["-t", "\t", "-k2,2n", "-s"],
        &[],
        &["-k2,2"],
    ];
    for key in keys {
        for (threads, budget) in [("1", "64M"), ("2", "64M"), ("3", "16K"), ("2", "2K")] {
            let mut args: Vec<&str> = key.to_vec();
            let gnu = args.clone();
            args.extend(["-j", threads, "-S", budget]);
            let case = Case::new(&args, input.clone())
                .oracle_args(&gnu)
                .label(format!("-j {threads} -S {budget}"));
            let want = dir.gnu_sort_case(&case);
            let got = dir.run_case(bsort(), &case);
            fails.check(util::check_outputs(&case, &want, &got, Compare::ALL));
        }
    }
    fails.finish();
}
