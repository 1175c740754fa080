//! deploy/k8s/ holds what `--shard` relies on: an Indexed Job whose parallelism, completions and
//! shard count agree, the completion index wired into `--shard`, the same image, scenario and
//! report volume for shards and merge, arguments this binary accepts, and a scenario that
//! loads. (Schema validation against Kubernetes' own schemas: deploy/k8s/validate.sh.)

use clap::Parser;
use loginstorm::cli::{Cli, Command};
use serde_json::Value;
use std::path::Path;

fn manifest(name: &str) -> Value {
    let path = Path::new("deploy/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn container(job: &Value) -> &Value {
    let c = job["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(c.len(), 1);
    &c[0]
}

fn env<'a>(c: &'a Value, name: &str) -> &'a Value {
    c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no env {name}"))
}

/// The container's environment (literal values, with Kubernetes' `$(VAR)` expanded) and its
/// arguments expanded from it; `stand_ins` give the values the downward API and ConfigMaps
/// would.
fn expand(c: &Value, stand_ins: &[(&str, &str)]) -> (Vec<(String, String)>, Vec<String>) {
    let mut vars: Vec<(String, String)> = stand_ins
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for e in c["env"].as_array().unwrap() {
        if let Some(v) = e["value"].as_str() {
            let mut v = v.to_string();
            for (k, x) in &vars {
                v = v.replace(&format!("$({k})"), x);
            }
            vars.push((e["name"].as_str().unwrap().to_string(), v));
        }
    }
    let args = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let mut a = a.as_str().unwrap().to_string();
            for (k, v) in &vars {
                a = a.replace(&format!("$({k})"), v);
            }
            assert!(!a.contains("$("), "unexpanded variable in {a}");
            a
        })
        .collect();
    (vars, args)
}

fn args(c: &Value, stand_ins: &[(&str, &str)]) -> Vec<String> {
    expand(c, stand_ins).1
}

#[test]
fn the_indexed_job_wires_the_completion_index_into_shard() {
    let job = manifest("shards-job.yaml");
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(
        spec["parallelism"].as_u64(),
        Some(n),
        "parallelism = completions"
    );
    assert_eq!(spec["backoffLimit"], 0, "a failed shard is not rerun");
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
    let c = container(&job);
    assert_eq!(
        env(c, "SHARD_INDEX")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    assert_eq!(
        env(c, "LOGINSTORM_SHARD")["value"],
        format!("$(SHARD_INDEX)/{n}")
    );
    // Every pod's arguments, as the binary parses them, with LOGINSTORM_SHARD's value.
    for i in 0..n {
        let (vars, argv) = expand(c, &[("SHARD_INDEX", &i.to_string()), ("RUN_ID", "r1")]);
        let shard = &vars
            .iter()
            .find(|(k, _)| k == "LOGINSTORM_SHARD")
            .unwrap()
            .1;
        assert_eq!(shard, &format!("{i}/{n}"));
        let mut full = vec!["loginstorm".to_string()];
        full.extend(argv.iter().cloned());
        full.extend(["--shard".to_string(), shard.clone()]);
        let cli = Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{full:?}: {e}"));
        let Command::Run(run) = cli.command else {
            panic!("not a run: {full:?}")
        };
        assert_eq!(&run.shard.unwrap().to_string(), shard);
        assert_eq!(
            run.report_dir.unwrap(),
            Path::new(&format!("/reports/r1/shards/shard-{i}"))
        );
        assert_eq!(run.scenario, Path::new("/scenario/scenario.toml"));
    }
}

#[test]
fn shards_and_merge_share_image_scenario_and_reports() {
    let (shards, merge) = (manifest("shards-job.yaml"), manifest("merge-job.yaml"));
    let (cs, cm) = (container(&shards), container(&merge));
    assert_eq!(cs["image"], cm["image"], "one image for shards and merge");
    let claim = |job: &Value| {
        job["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|v| {
                v["persistentVolumeClaim"]["claimName"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap()
    };
    let pvc = manifest("reports-pvc.yaml");
    assert_eq!(claim(&shards), pvc["metadata"]["name"].as_str().unwrap());
    assert_eq!(claim(&merge), claim(&shards));
    assert_eq!(pvc["spec"]["accessModes"][0], "ReadWriteMany");
    // The merge reads the directory the shards write into, and its arguments parse.
    let argv = args(cm, &[("RUN_ID", "r1")]);
    let mut full = vec!["loginstorm".to_string()];
    full.extend(argv);
    let Command::Merge(m) = Cli::try_parse_from(&full).unwrap().command else {
        panic!("not a merge: {full:?}")
    };
    assert_eq!(m.dirs, vec![Path::new("/reports/r1/shards").to_path_buf()]);
    assert_eq!(m.out, Path::new("/reports/r1/merged"));
    // Both read the same run id.
    assert_eq!(env(cs, "RUN_ID"), env(cm, "RUN_ID"));
}

#[test]
fn the_configmap_scenario_loads_and_has_an_account_for_every_shard() {
    let cm = manifest("scenario-configmap.yaml");
    let shards = manifest("shards-job.yaml");
    let volume = shards["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "scenario")
        .unwrap()
        .clone();
    assert_eq!(volume["configMap"]["name"], cm["metadata"]["name"]);
    let text = cm["data"]["scenario.toml"].as_str().unwrap();
    let r = loginstorm::scenario::load_text(text, Path::new("."), &Default::default())
        .unwrap_or_else(|e| panic!("the ConfigMap's scenario: {e}"));
    let n = shards["spec"]["completions"].as_u64().unwrap() as u32;
    assert!(r.scenario.accounts.count >= n);
    for i in 0..n {
        let mut s = r.clone();
        s.shard = loginstorm::shard::Shard { index: i, count: n };
        s.check_process_size().unwrap();
    }
}
