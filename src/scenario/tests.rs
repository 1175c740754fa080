use super::*;

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
