//! Properties of configuration layering, over generated inputs (a fixed
//! seed: every run draws the same cases).

use codex_core::config::ConfigLoader;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 64,
        rng_seed: RngSeed::Fixed(0xC0DE_C0DE),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Command-line overrides apply in order: whatever the order and
    /// repetitions, each key holds the last value given for it.
    #[test]
    fn the_last_override_of_a_key_wins(
        sets in proptest::collection::vec((0usize..3, 1u64..10_000), 1..12)
    ) {
        let keys = ["train.max_steps", "train.batch_size", "train.eval_every"];
        let overrides: Vec<String> = sets
            .iter()
            .map(|(k, v)| format!("{}={v}", keys[*k]))
            .collect();
        let loaded = ConfigLoader::new()
            .overrides(overrides.iter().map(String::as_str).chain(["train.warmup_steps=0"]))
            .load();
        let cfg = loaded.expect("every value is valid").config;
        for (i, key) in keys.iter().enumerate() {
            let last = sets.iter().rev().find(|(k, _)| *k == i).map(|(_, v)| *v);
            let got = match i {
                0 => cfg.train.max_steps,
                1 => u64::from(cfg.train.batch_size),
                _ => cfg.train.eval_every,
            };
            if let Some(want) = last {
                prop_assert_eq!(got, want, "{}", key);
            }
        }
    }

    /// The environment layer sits under the command line: a key set in both
    /// takes the command line's value.
    #[test]
    fn the_command_line_wins_over_the_environment(env in 1u64..5_000, cli in 1u64..5_000) {
        let loaded = ConfigLoader::new()
            .env([("CODEX_TRAIN__MAX_STEPS".to_owned(), env.to_string())])
            .overrides([format!("train.max_steps={cli}"), "train.warmup_steps=0".to_owned()])
            .load()
            .expect("valid");
        prop_assert_eq!(loaded.config.train.max_steps, cli);
    }
}

proptest! {
    #![proptest_config(config())]

    /// An atomic write that fails after any number of chunks leaves the
    /// destination exactly as it was (absent, or the previous content) and no
    /// temporary file beside it; one that succeeds leaves exactly the new bytes.
    #[test]
    fn atomic_writes_are_all_or_nothing_under_injected_failures(
        previous in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..256)),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..512), 0..8),
        fail_at in proptest::option::of(0usize..8),
    ) {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        if let Some(p) = &previous {
            std::fs::write(&dest, p).unwrap();
        }
        let fails = fail_at.is_some_and(|k| k <= chunks.len());
        let result = codex_core::write_atomic(&dest, |f| {
            for (i, c) in chunks.iter().enumerate() {
                if fail_at == Some(i) {
                    return Err(codex_core::Error::io(
                        "cannot write",
                        dir.path(),
                        std::io::Error::other("injected"),
                    ));
                }
                f.write_all(c).map_err(|e| codex_core::Error::io("cannot write", dir.path(), e))?;
            }
            if fail_at == Some(chunks.len()) {
                return Err(codex_core::Error::io(
                    "cannot write",
                    dir.path(),
                    std::io::Error::other("injected at the end"),
                ));
            }
            Ok(())
        });
        prop_assert_eq!(result.is_err(), fails);
        let now = std::fs::read(&dest).ok();
        if fails {
            prop_assert_eq!(now, previous);
        } else {
            prop_assert_eq!(now, Some(chunks.concat()));
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        prop_assert!(names.len() <= 1, "left behind: {names:?}");
    }
}
