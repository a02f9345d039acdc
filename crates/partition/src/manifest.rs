//! The `_SUCCESS` manifest as its readers see it (`breduce DIR`, `bjoin --partitioned`):
//! typed fields instead of JSON lookups, and the checks two partitionings must pass before
//! their parts can be joined pair by pair.

use crate::{part_name, read_manifest, DirError, PARTITION_FUNCTION};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// How a directory's parts were cut.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partitioning {
    /// `hash`, `range`, `round-robin`, `lines`, `bytes`, `chunks`, `by`.
    pub method: String,
    /// How many parts (absent in a foreign or damaged manifest).
    pub n: Option<u64>,
    /// The `-k` specs as given; empty: the tool's default key (field 1).
    pub key: Vec<String>,
    /// The partition function's name, for hash partitionings.
    pub function: Option<String>,
}

impl Partitioning {
    /// The keys, when the parts were cut by the current partition function: records with
    /// equal keys are then in the same part.
    pub fn hashed_by(&self) -> Option<&[String]> {
        (self.method == "hash" && self.function.as_deref() == Some(PARTITION_FUNCTION))
            .then_some(self.key.as_slice())
    }

    /// The key specs, `1` when the manifest gives none (the tools' default key).
    pub fn key_or_default(&self) -> Vec<String> {
        if self.key.is_empty() {
            vec!["1".into()]
        } else {
            self.key.clone()
        }
    }
}

/// A directory output's manifest, its parts checked against the disk.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub dir: PathBuf,
    pub partitioning: Partitioning,
    /// The keys every part is sorted by (bshuffle's parts).
    pub sorted_by: Option<Vec<String>>,
    /// The parts hold partial states of these aggregates (bshuffle --combine).
    pub combine: Option<Vec<String>>,
    /// The parts' file names, in the manifest's order.
    pub parts: Vec<String>,
    /// The whole manifest, for fields no reader types.
    pub raw: Value,
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    })
}

impl Manifest {
    /// Read `DIR/_SUCCESS` and check every part it lists (see [`read_manifest`]).
    pub fn read(dir: &Path) -> Result<Manifest, DirError> {
        Ok(Manifest::from_value(dir, read_manifest(dir)?))
    }

    /// The typed view of a manifest already read.
    pub fn from_value(dir: &Path, raw: Value) -> Manifest {
        let p = &raw["partitioning"];
        Manifest {
            dir: dir.to_path_buf(),
            partitioning: Partitioning {
                method: p["method"].as_str().unwrap_or_default().to_string(),
                n: p["n"].as_u64(),
                key: strings(&p["key"]).unwrap_or_default(),
                function: p["partition_function"].as_str().map(str::to_string),
            },
            sorted_by: strings(&raw["sorted"]["by"]),
            combine: strings(&raw["combine"]),
            parts: raw["parts"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            raw,
        }
    }

    /// The paths of the parts, in order.
    pub fn part_paths(&self) -> Vec<PathBuf> {
        self.parts.iter().map(|n| self.dir.join(n)).collect()
    }

    /// Part `i` of a hash partitioning, plain or compressed.
    pub fn part_path(&self, i: u64) -> Result<PathBuf, DirError> {
        for ext in ["", ".gz", ".zst"] {
            let p = self.dir.join(part_name(i, ext));
            if p.exists() {
                return Ok(p);
            }
        }
        Err(DirError::Damaged(format!(
            "{}: no {} (the directory is not a complete partitioning)",
            self.dir.display(),
            part_name(i, "")
        )))
    }
}

/// Records and bytes of one part, for the manifest and `--stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartInfo {
    pub name: String,
    pub records: u64,
    pub bytes: u64,
}

/// How the parts were cut, for the manifest.
#[derive(Clone, Debug)]
pub struct Cut {
    /// `hash`, `range`, `round-robin`, `lines`, `bytes`, `chunks`, `by`.
    pub method: String,
    pub n: u64,
    /// The `-k` specs as given (empty: the tool's default key).
    pub keys: Vec<String>,
    /// Whether the partition function above was used.
    pub hashed: bool,
}

/// A directory output's `_SUCCESS` manifest as its writer gives it (the reader's view is
/// [`Manifest`]).
#[derive(Clone, Debug)]
pub struct NewManifest<'a> {
    /// The tool that wrote the directory.
    pub tool: &'a str,
    pub cut: &'a Cut,
    /// The keys every part is sorted by (bshuffle).
    pub sorted_by: Option<&'a [String]>,
    pub parts: &'a [PartInfo],
    /// `bshuffle --combine`: the aggregates whose partial states the parts hold.
    pub combine: Option<Vec<String>>,
    /// bsplit: whether every key of part i sorts before every key of part i+1 (`--range`).
    pub parts_in_key_order: Option<bool>,
    /// The heaviest keys (`--stats` with a hash or by-value cut).
    pub heavy_hitters: Option<Value>,
}

impl NewManifest<'_> {
    /// The JSON written as `_SUCCESS` (each part's `file_bytes` is added at the commit).
    pub fn to_json(&self) -> Value {
        let (cut, parts) = (self.cut, self.parts);
        let mut m = json!({
            "tool": self.tool,
            "version": env!("CARGO_PKG_VERSION"),
            "partitioning": {
                "method": cut.method,
                "n": cut.n,
                "key": cut.keys,
                "partition_function": if cut.hashed { Value::from(PARTITION_FUNCTION) } else { Value::Null },
            },
            "sorted": match self.sorted_by {
                Some(k) => json!({ "by": k, "stable": true }),
                None => Value::Null,
            },
            "parts": parts.iter().map(|p| json!({"name": p.name, "records": p.records, "bytes": p.bytes})).collect::<Vec<_>>(),
            "records": parts.iter().map(|p| p.records).sum::<u64>(),
            "bytes": parts.iter().map(|p| p.bytes).sum::<u64>(),
        });
        if let Value::Object(o) = &mut m {
            if let Some(c) = &self.combine {
                o.insert("combine".into(), json!(c));
            }
            if let Some(k) = self.parts_in_key_order {
                o.insert("parts_in_key_order".into(), json!(k));
            }
            if let Some(h) = &self.heavy_hitters {
                o.insert("heavy_hitters".into(), h.clone());
            }
        }
        m
    }
}

/// Whether the parts of `l` and `r` line up (part `i` of one holds exactly the keys of part
/// `i` of the other): both hash partitionings by the current function into the same number
/// of parts. The number of parts, or why not.
pub fn copartitioned(l: &Manifest, r: &Manifest) -> Result<u64, String> {
    let (ls, rs) = (l.dir.display(), r.dir.display());
    let (Some(n), Some(rn)) = (l.partitioning.n, r.partitioning.n) else {
        return Err(format!(
            "{ls} or {rs}: the manifest does not say how many parts there are"
        ));
    };
    if n != rn {
        return Err(format!(
            "{ls} has {n} parts and {rs} has {rn}: partitionings must have the same N"
        ));
    }
    match (&l.partitioning.function, &r.partitioning.function) {
        (Some(a), Some(b)) if a == b && a == PARTITION_FUNCTION => Ok(n),
        (Some(a), Some(b)) if a != b => Err(format!(
            "{ls} and {rs} were cut by different partition functions ('{a}' and '{b}')"
        )),
        _ => Err(format!(
            "{ls} and {rs} must both be hash partitionings (bsplit --hash, bshuffle -o) by the current partition function"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(dir: &str, n: Option<u64>, function: Option<&str>) -> Manifest {
        let raw = json!({
            "partitioning": {"method": "hash", "n": n, "key": ["2"], "partition_function": function},
            "sorted": {"by": ["2"], "stable": true},
            "parts": [{"name": "part-00000"}, {"name": "part-00001.gz"}],
        });
        Manifest::from_value(Path::new(dir), raw)
    }

    #[test]
    fn the_typed_fields_are_the_json_ones() {
        let m = manifest("d", Some(2), Some(PARTITION_FUNCTION));
        assert_eq!(m.partitioning.hashed_by(), Some(&["2".to_string()][..]));
        assert_eq!(m.sorted_by, Some(vec!["2".to_string()]));
        assert_eq!(m.combine, None);
        assert_eq!(
            m.part_paths(),
            vec![Path::new("d/part-00000"), Path::new("d/part-00001.gz")]
        );
        let foreign = Manifest::from_value(Path::new("d"), json!({}));
        assert_eq!(foreign.partitioning.hashed_by(), None);
        assert_eq!(foreign.partitioning.key_or_default(), vec!["1".to_string()]);
    }

    #[test]
    fn what_is_written_is_what_is_read() {
        let cut = Cut {
            method: "hash".into(),
            n: 2,
            keys: vec!["2".into()],
            hashed: true,
        };
        let parts = [
            PartInfo {
                name: "part-00000".into(),
                records: 3,
                bytes: 12,
            },
            PartInfo {
                name: "part-00001".into(),
                records: 1,
                bytes: 4,
            },
        ];
        let keys = ["2".to_string()];
        let written = NewManifest {
            tool: "bshuffle",
            cut: &cut,
            sorted_by: Some(&keys),
            parts: &parts,
            combine: Some(vec!["count".into()]),
            parts_in_key_order: None,
            heavy_hitters: None,
        }
        .to_json();
        assert_eq!(written["records"], 4);
        let m = Manifest::from_value(Path::new("d"), written);
        assert_eq!(m.partitioning.hashed_by(), Some(&keys[..]));
        assert_eq!(m.partitioning.n, Some(2));
        assert_eq!(m.sorted_by, Some(keys.to_vec()));
        assert_eq!(m.combine, Some(vec!["count".to_string()]));
        assert_eq!(m.parts, vec!["part-00000", "part-00001"]);
        assert!(m.raw.get("parts_in_key_order").is_none());
    }

    #[test]
    fn copartitioned_needs_the_same_n_and_the_current_function() {
        let f = Some(PARTITION_FUNCTION);
        let ok = manifest("l", Some(4), f);
        assert_eq!(copartitioned(&ok, &manifest("r", Some(4), f)), Ok(4));
        let e = copartitioned(&ok, &manifest("r", Some(3), f))
            .err()
            .unwrap_or_default();
        assert_eq!(
            e,
            "l has 4 parts and r has 3: partitionings must have the same N"
        );
        let e = copartitioned(&ok, &manifest("r", Some(4), Some("md5")))
            .err()
            .unwrap_or_default();
        assert!(e.contains("different partition functions"), "{e}");
        let e = copartitioned(&ok, &manifest("r", Some(4), None))
            .err()
            .unwrap_or_default();
        assert!(e.contains("must both be hash partitionings"), "{e}");
        let e = copartitioned(&ok, &manifest("r", None, f))
            .err()
            .unwrap_or_default();
        assert!(e.contains("does not say how many parts"), "{e}");
    }
}
