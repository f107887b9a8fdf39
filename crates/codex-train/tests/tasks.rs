//! Benchmark tasks against lm-evaluation-harness itself: the shipped tasks
//! (`tasks/`) on a tiny exported model, compared with the harness's `hf`
//! model on the same files (goldens by `scripts/goldens/tasks_model.sh`).

use std::path::{Path, PathBuf};

use codex_eval::tasks::{self, Response, RunOptions};
use codex_model::DeviceSpec;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tasks")
}

fn sha(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn shipped_tasks_match_lm_evaluation_harness() {
    let device = DeviceSpec::Cpu.device().unwrap();
    let loaded = codex_train::load::load_for_inference(&data().join("model"), &device).unwrap();
    let set = tasks::load_tasks(&[root().join("tasks")]).unwrap();
    let mut lm = codex_train::tasks::TaskModel::of(&loaded, 16).unwrap();
    let report = tasks::run(&set, &mut lm, &RunOptions::default(), &mut |_, _| {}).unwrap();
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(data().join("golden/golden.json")).unwrap())
            .unwrap();
    let (mut requests, mut worst) = (0usize, 0.0f64);
    for (task, rows) in golden["tasks"].as_object().unwrap() {
        let ours = report
            .tasks
            .iter()
            .find(|t| &t.name == task)
            .unwrap_or_else(|| panic!("task {task} not run"));
        assert_eq!(
            ours.records.len(),
            rows.as_array().unwrap().len(),
            "{task}: documents × filters"
        );
        for row in rows.as_array().unwrap() {
            let id = row["doc_id"].as_u64().unwrap() as usize;
            let filter = row["filter"].as_str().unwrap();
            let rec = ours
                .records
                .iter()
                .find(|r| r.doc_id == id && r.filter == filter)
                .unwrap_or_else(|| panic!("{task} doc {id} filter {filter}: no record"));
            let at = format!("{task} doc {id} filter {filter}");
            // The same prompts, to the byte.
            for (args, theirs) in rec
                .arguments
                .iter()
                .zip(row["arguments"].as_array().unwrap())
            {
                let texts: Vec<String> = args
                    .as_object()
                    .unwrap()
                    .values()
                    .filter_map(Value::as_str)
                    .map(sha)
                    .collect();
                let theirs: Vec<String> = theirs
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h.as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(texts, theirs, "{at}: request text differs");
            }
            if filter == rows[0]["filter"] {
                requests += rec.resps.len();
            }
            for (resp, theirs) in rec.resps.iter().zip(row["resps"].as_array().unwrap()) {
                match resp {
                    Response::Loglikelihood { logprob, greedy } => {
                        let d = (logprob - theirs[0].as_f64().unwrap()).abs();
                        worst = worst.max(d);
                        assert!(d <= 1e-4, "{at}: log-likelihood {logprob} vs {theirs}");
                        assert_eq!(*greedy, theirs[1].as_bool().unwrap(), "{at}: is-greedy");
                    }
                    Response::Rolling(ll) => {
                        let d = (ll - theirs.as_f64().unwrap()).abs();
                        worst = worst.max(d);
                        assert!(d <= 1e-4, "{at}: rolling log-likelihood {ll} vs {theirs}");
                    }
                    Response::Generated(text) => {
                        assert_eq!(text, theirs.as_str().unwrap(), "{at}: generated text")
                    }
                }
            }
            for (metric, theirs) in row["metrics"].as_object().unwrap() {
                let mine = &rec.metrics[metric];
                match theirs {
                    Value::Array(pair) => {
                        assert!(
                            (mine[0].as_f64().unwrap() - pair[0].as_f64().unwrap()).abs() <= 1e-4,
                            "{at}: {metric}"
                        );
                        assert_eq!(mine[1].as_f64(), pair[1].as_f64(), "{at}: {metric} weight");
                    }
                    v => assert_eq!(mine.as_f64(), v.as_f64(), "{at}: {metric}"),
                }
            }
        }
    }
    assert_eq!(requests, golden["requests"].as_u64().unwrap() as usize);
    // Aggregates: accuracies identical, perplexities and standard errors to 1e-6 relative.
    let theirs: Value =
        serde_json::from_str(&std::fs::read_to_string(data().join("golden/results.json")).unwrap())
            .unwrap();
    let ours = report.results_json();
    let mut compared = 0;
    for (name, entry) in theirs["results"].as_object().unwrap() {
        for (key, v) in entry.as_object().unwrap() {
            if !key.contains(',') {
                continue;
            }
            let mine = &ours["results"][name][key];
            match v {
                Value::Number(n) => {
                    let (a, b) = (
                        n.as_f64().unwrap(),
                        mine.as_f64()
                            .unwrap_or_else(|| panic!("{name} {key}: missing")),
                    );
                    let rel = (a - b).abs() / a.abs().max(1e-12);
                    if key.starts_with("acc") && !key.contains("stderr")
                        || key.starts_with("exact_match,")
                    {
                        assert_eq!(a, b, "{name} {key}");
                    } else {
                        assert!(rel <= 1e-6, "{name} {key}: {b} vs the harness's {a}");
                    }
                }
                other => assert_eq!(mine, other, "{name} {key}"),
            }
            compared += 1;
        }
        assert_eq!(
            ours["results"][name]["sample_len"], entry["sample_len"],
            "{name} sample_len"
        );
    }
    assert!(compared >= 20, "compared {compared} values");
    assert_eq!(ours["n-shot"], theirs["n-shot"]);
    assert_eq!(ours["n-samples"], theirs["n-samples"]);
    assert_eq!(ours["group_subtasks"], theirs["group_subtasks"]);
    assert!(
        worst <= 1e-4,
        "largest log-likelihood difference {worst:.2e} over {requests} requests"
    );
}
