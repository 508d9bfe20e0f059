//! Replays every file of `fuzz/corpus/<target>/` (the seeds, and every input a fuzzing run
//! found worth keeping) through its target on stable: a crash found once stays fixed.

use std::path::PathBuf;

use maxstorage_fuzz_targets::TARGETS;

#[test]
fn every_target_replays_its_corpus() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (name, target) in TARGETS {
        let dir = root.join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (every target needs a corpus)", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{name}: the corpus is empty");
        for file in &files {
            let data = std::fs::read(file).unwrap();
            target(&data);
            // Every prefix of a seed is a truncated input too.
            if data.len() <= 4096 {
                for cut in (0..data.len()).step_by(data.len() / 16 + 1) {
                    target(&data[..cut]);
                }
            }
        }
        println!("{name}: {} corpus inputs replayed", files.len());
    }
}

#[test]
fn every_target_has_a_libfuzzer_entry_point() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
    for (name, _) in TARGETS {
        let file = root.join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            text.contains(&format!("maxstorage_fuzz_targets::{name}(")),
            "{} must call maxstorage_fuzz_targets::{name}",
            file.display()
        );
    }
}
