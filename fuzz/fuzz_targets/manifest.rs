//! `_SUCCESS` manifests: `partition::read_manifest` on arbitrary bytes, read the way
//! breduce and bjoin read it; and written manifests read back.
//!
//! Input: byte 0 chooses the mode. Mode "raw": the rest is the file. Mode "written": the
//! rest is split on NUL into part values, which become percent-encoded part names of a
//! manifest that `NewManifest` builds, `commit` writes and `read_manifest` reads.
//! Properties: no panic; percent_decode(percent_encode(v)) == v; a written manifest reads
//! back equal to what was written, with its part names and counts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partition::{percent_decode, percent_encode, read_manifest, Cut, NewManifest, PartInfo};
use serde_json::Value;
use std::sync::OnceLock;

fn scratch() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch directory"))
        .path()
}

/// What breduce's read_parts_dir and bjoin's partitioned join take from a manifest.
fn consume(m: &Value) {
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
    };
    let p = &m["partitioning"];
    let _ = (p["method"] == "hash" && p["partition_function"] == partition::PARTITION_FUNCTION)
        .then(|| strings(&p["key"]))
        .flatten();
    let _: Vec<String> = m["parts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let _ = strings(&m["sorted"]["by"]);
    let _ = strings(&m["combine"]);
    let _ = p["n"].as_u64();
    let _ = p["partition_function"].as_str();
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let dir = scratch();
    if mode & 1 == 0 {
        // Part and partition directory names come from disk: any text.
        let _ = percent_decode(&String::from_utf8_lossy(rest));
        if std::fs::write(dir.join("_SUCCESS"), rest).is_err() {
            return;
        }
        if let Ok(m) = read_manifest(dir) {
            consume(&m);
        }
        return;
    }
    let mut parts = Vec::new();
    for (i, v) in rest.split(|&c| c == 0).take(64).enumerate() {
        let name = percent_encode(v);
        assert_eq!(
            percent_decode(&name),
            v,
            "percent round trip of {v:?} via {name:?}"
        );
        assert!(
            !name.contains('/') && name != "." && name != "..",
            "{name:?}"
        );
        let part = format!("{name}-{i}");
        // Readers check each part's size on disk against the manifest: make it so.
        if std::fs::write(dir.join(&part), v).is_err() {
            return; // a name longer than the file system allows: nothing to read back
        }
        parts.push(PartInfo {
            name: part,
            records: v.len() as u64 * 7,
            bytes: v.len() as u64,
        });
    }
    let keys: Vec<String> = parts.iter().take(2).map(|p| p.name.clone()).collect();
    let cut = Cut {
        method: "hash".into(),
        n: parts.len() as u64,
        keys: keys.clone(),
        hashed: mode & 2 != 0,
    };
    let m = NewManifest {
        tool: "bsplit",
        cut: &cut,
        sorted_by: Some(&keys),
        parts: &parts,
        combine: Some(keys.clone()),
        parts_in_key_order: None,
        heavy_hitters: None,
    }
    .to_json();
    let Ok(text) = serde_json::to_vec(&m) else {
        panic!("manifest does not serialize")
    };
    std::fs::write(dir.join("_SUCCESS"), text).expect("write the manifest");
    let back = read_manifest(dir).unwrap_or_else(|e| panic!("written manifest unreadable: {e}"));
    assert_eq!(back, m);
    consume(&back);
    let names: Vec<&str> = back["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(
        names,
        parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(back["partitioning"]["n"].as_u64(), Some(parts.len() as u64));
});
