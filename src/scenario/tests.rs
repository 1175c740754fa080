use super::*;
use crate::policy::Platform;

const MIN: &str = "[accounts]\ncount = 2\n";

#[test]
fn minimal_scenario_gets_defaults() {
    let s = parse(MIN, &[]).unwrap();
    assert_eq!(s.accounts.count, 2);
    assert_eq!(s.cycle.cycles, 1);
    let r = resolve(s, Path::new(".")).unwrap();
    assert_eq!(r.platforms, vec![Platform::Web]);
}

#[test]
fn unknown_keys_are_named() {
    let e = parse("[accounts]\ncount = 2\ncolor = 1\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("color"), "{e}");
    let e = parse("bogus = 1\n[accounts]\ncount = 2\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("bogus"), "{e}");
}

#[test]
fn bad_values_name_their_key() {
    let bad = |extra: &str| {
        let s = parse(&format!("{MIN}{extra}"), &[]).unwrap();
        resolve(s, Path::new(".")).unwrap_err().to_string()
    };
    assert!(bad("[policy]\nlimits = \"Web=11\"\n").contains("policy.limits"));
    assert!(bad("[cycle]\nmessage_rate = -1.0\n").contains("cycle.message_rate"));
    assert!(bad("[load]\nmodel = \"open\"\n").contains("load.stages"));
    let e = parse(&format!("{MIN}[cycle]\nthink = \"sometimes\"\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("think"), "{e}");
}

#[test]
fn overrides_edit_the_tree() {
    let s = parse(
        MIN,
        &[
            "accounts.count=7".into(),
            "cycle.alignment=barrier".into(),
            "policy.limits=Web=3".into(),
        ],
    )
    .unwrap();
    assert_eq!(s.accounts.count, 7);
    assert_eq!(s.cycle.alignment, Alignment::Barrier);
    assert_eq!(s.policy.limits, "Web=3");
    assert!(parse(MIN, &["nokey".into()]).is_err());
}

#[test]
fn an_override_reaches_into_a_list_of_tables_by_index() {
    let text = format!(
        "{MIN}\n[[chaos]]\nat = \"10s\"\naction = \"restart\"\n[[chaos]]\nat = \"20s\"\naction = \"restart\"\n"
    );
    let s = parse(&text, &["chaos.1.at=25s".into(), "chaos.0.pause=2s".into()]).unwrap();
    assert_eq!(s.chaos[1].at.0, std::time::Duration::from_secs(25));
    assert_eq!(s.chaos[0].pause.0, std::time::Duration::from_secs(2));
    for bad in ["chaos.2.at=1s", "chaos.x.at=1s", "chaos.0=1"] {
        let e = parse(&text, &[bad.into()]).unwrap_err().to_string();
        assert!(e.contains("a list of 2 entries"), "{bad}: {e}");
    }
}

#[test]
fn instances_and_stages_parse() {
    assert_eq!(
        parse_instances("Web*2, Android").unwrap(),
        vec![Platform::Web, Platform::Web, Platform::Android]
    );
    assert!(parse_instances("Web*x").is_err());
    let st = parse_stages("10,10s;10,5s").unwrap();
    assert!((rate_at(&st, Duration::from_secs(5)) - 5.0).abs() < 1e-9);
    assert!((rate_at(&st, Duration::from_secs(12)) - 10.0).abs() < 1e-9);
    assert_eq!(rate_at(&st, Duration::from_secs(16)), 0.0);
}

#[test]
fn think_times_sample_in_range() {
    let t: Think = "uniform:10ms..20ms".parse().unwrap();
    assert_eq!(t.sample(0.5), Duration::from_millis(15));
    let e: Think = "exp:100ms".parse().unwrap();
    assert!(e.sample(0.0).is_zero());
    assert!(e.sample(0.999) > Duration::from_millis(500));
    assert_eq!("fixed:1s".parse::<Think>().unwrap().to_string(), "fixed:1s");
}

#[test]
fn id_patterns_make_valid_user_ids() {
    let bad = |extra: &str| {
        let s = parse(&format!("{MIN}{extra}"), &[]).unwrap();
        resolve(s, Path::new(".")).unwrap_err().to_string()
    };
    let e = bad("id_pattern = \"a\\u0001{n}\"\n");
    assert!(
        e.contains("accounts.id_pattern") && e.contains("control"),
        "{e}"
    );
    let long = |count: u32| {
        let text = format!(
            "[accounts]\ncount = {count}\nid_pattern = \"{}{{n}}\"\n",
            "x".repeat(127)
        );
        resolve(parse(&text, &[]).unwrap(), Path::new(".")).map_err(|e| e.to_string())
    };
    assert!(long(10).is_ok(), "128 bytes is the limit");
    let e = long(11).unwrap_err();
    assert!(e.contains("account 10") && e.contains("128-byte"), "{e}");
    let e = bad("[target]\nkey = \"\"\n");
    assert!(e.contains("target.key"), "{e}");
}

/// A credentials file next to a scenario that needs `count` accounts.
fn credentials(text: &str, count: u32) -> Result<Resolved, ScenarioError> {
    let dir = std::env::temp_dir().join(format!(
        "loginstorm-cred-{}-{}",
        std::process::id(),
        text.len() * 131 + count as usize
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.csv"), text).unwrap();
    let s = parse(
        &format!("[accounts]\ncount = {count}\n[target]\ncredentials = \"c.csv\"\n"),
        &[],
    )
    .unwrap();
    let r = resolve(s, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

#[test]
fn credentials_skip_a_header_and_name_file_lines() {
    let r = credentials("userID,userSig\n# comment\n\nu1,s1\nu2, s2\n", 2).unwrap();
    assert_eq!(r.user_id(0), "u1");
    assert_eq!(r.user_id(1), "u2");
    // A userID is never trimmed: spaces around it are named, not silently dropped.
    let e = credentials("u1,s1\nu2 , s2\n", 2).unwrap_err().to_string();
    assert!(
        e.contains("line 2") && e.contains("spaces around it"),
        "{e}"
    );
    let e = credentials("u1,s1\n\n# c\nu\u{1},s2\n", 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 4") && e.contains("control"), "{e}");
    let e = credentials("userID,userSig\nu1,s1\n\nu1,s3\n", 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 4") && e.contains("line 2"), "{e}");
    let e = credentials("u1,s1\nu2\n", 2).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("1 fields"), "{e}");
    let e = credentials("u1,\n", 1).unwrap_err().to_string();
    assert!(
        e.contains("line 1") && e.contains("userSig is empty"),
        "{e}"
    );
    // An MQTT broker's accounts: `userID,password` is a header too.
    let r = credentials("userID,password\nu1,p1\n", 1).unwrap();
    assert_eq!(r.user_id(0), "u1");
    // A header only counts on the first record.
    let e = credentials("u1,s1\nuserID,userSig\n", 2);
    assert!(e.is_ok(), "{e:?}");
}

#[test]
fn credentials_count_lines_in_a_long_file_with_comments() {
    // 20,000 records, a comment and a blank line before every 1,000th, then a duplicate:
    // the error names the duplicate's own line and the first one's.
    let mut text = String::from("userID,userSig\n");
    for n in 0..20_000 {
        if n % 1000 == 0 {
            text.push_str("# block\n\n");
        }
        text.push_str(&format!("u{n},s{n}\n"));
    }
    text.push_str("u7,again\n");
    // u7 is on line 1 (header) + 2 (comment, blank) + 8 = 11; the duplicate comes after
    // 1 + 20 × 2 + 20,000 lines.
    let e = credentials(&text, 20_001).unwrap_err().to_string();
    assert!(e.contains("line 20042") && e.contains("line 11"), "{e}");
}

#[test]
fn sizes_are_refused_before_anything_is_made() {
    let bad = |extra: &str| {
        let s = parse(extra, &[]).unwrap();
        match resolve(s, Path::new(".")) {
            Ok(r) => r.check_process_size().unwrap_err().to_string(),
            Err(e) => e.to_string(),
        }
    };
    let e = bad("[accounts]\ncount = 2000000\ninstances = \"Web*64\"\n");
    assert!(
        e.contains("128000000 instances") && e.contains("2000000") && e.contains("--shard"),
        "{e}"
    );
    // The same scenario as 64 shards: each process's share fits.
    let mut r = resolve(
        parse("[accounts]\ncount = 2000000\ninstances = \"Web*64\"\n", &[]).unwrap(),
        Path::new("."),
    )
    .unwrap();
    r.shard = "5/64".parse().unwrap();
    assert!(r.check_process_size().is_ok());
    let e = bad("[accounts]\ncount = 2\n[server]\nworkers = 100000000\n");
    assert!(e.contains("server.workers"), "{e}");
    let ok = parse("[accounts]\ncount = 1000000\ninstances = \"Web*2\"\n", &[]).unwrap();
    assert!(
        resolve(ok, Path::new("."))
            .unwrap()
            .check_process_size()
            .is_ok(),
        "2,000,000 is the limit"
    );
}

#[test]
fn arrivals_until_integrates_the_plan() {
    let st = parse_stages("100,10s;100,10s;0,5s").unwrap();
    let at = |s: f64| arrivals_until(&st, Duration::from_secs_f64(s));
    assert!((at(0.0)).abs() < 1e-9);
    assert!((at(10.0) - 500.0).abs() < 1e-6, "ramp 0→100 over 10 s");
    assert!((at(5.0) - 125.0).abs() < 1e-6);
    assert!((at(20.0) - 1500.0).abs() < 1e-6);
    assert!((at(25.0) - 1750.0).abs() < 1e-6);
    assert!((at(99.0) - 1750.0).abs() < 1e-6, "nothing after the plan");
}

#[test]
fn an_error_names_the_override_that_made_it_or_the_files_line() {
    let file = "[accounts]\ncount = 4\n";
    let e = parse(file, &["accounts.cuont=5".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("--set accounts.cuont=5: unknown field `cuont`"),
        "{e}"
    );
    let e = parse(file, &["cycle.cycles=2".into(), "load.duration=abc".into()])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("--set load.duration=abc:"), "{e}");
    // A bad file is the file's, with its line, even with good overrides.
    let e = parse("[accounts]\ncount = \"x\"\n", &["cycle.cycles=2".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2"), "{e}");
    // An override that fixes a bad file is taken.
    assert!(parse("[accounts]\ncount = \"x\"\n", &["accounts.count=3".into()]).is_ok());
}

#[test]
fn type_errors_say_what_to_write_not_which_rust_type() {
    let e = parse("[load]\nduration = 5\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("a duration in quotes, such as \"5s\""), "{e}");
    let e = parse("[accounts]\ncount = -1\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("a whole number from 0 to 4294967295") && !e.contains("u32"),
        "{e}"
    );
    let e = parse("[checks]\nenabled = \"yes\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected true or false"), "{e}");
}
