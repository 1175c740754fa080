use super::*;

fn data(p99: f64, rate: f64, violations: f64) -> ReportData {
    let mut d = ReportData {
        time_bounded: true,
        ..ReportData::default()
    };
    let stats: BTreeMap<String, f64> = [
        ("count", 10_000.0),
        ("p50_us", p99 / 2.0),
        ("p90_us", p99 * 0.8),
        ("p99_us", p99),
        ("p99_9_us", p99),
        ("max_us", p99),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    d.latency.insert("ready".into(), stats);
    d.counters.insert("logins_per_sec".into(), rate);
    d.counters.insert("violations_total".into(), violations);
    d
}

#[test]
fn slower_latency_fewer_logins_and_new_violations_regress() {
    let base = data(10_000.0, 1000.0, 0.0);
    assert_eq!(
        regressions(&compare(&base, &base, 0.1, 1000.0, &Filter::default())),
        0
    );
    let slow = data(50_000.0, 1000.0, 0.0);
    let rows = compare(&slow, &base, 0.1, 1000.0, &Filter::default());
    assert!(rows
        .iter()
        .any(|r| r.metric == "ready.p99" && r.status == Status::Regression));
    assert!(rows
        .iter()
        .all(|r| r.metric != "ready.max" || r.status == Status::Info));
    assert!(
        regressions(&compare(
            &data(10_000.0, 800.0, 0.0),
            &base,
            0.1,
            1000.0,
            &Filter::default()
        )) > 0
    );
    assert!(
        regressions(&compare(
            &data(10_000.0, 1000.0, 1.0),
            &base,
            0.1,
            1000.0,
            &Filter::default()
        )) > 0
    );
    // Microsecond jitter under the floor is not a regression.
    let jitter = compare(
        &data(10_500.0, 1000.0, 0.0),
        &data(10_000.0, 1000.0, 0.0),
        0.01,
        1000.0,
        &Filter::default(),
    );
    assert_eq!(regressions(&jitter), 0);
}

#[test]
fn filters_keep_and_drop_metrics_by_name_or_prefix() {
    let base = data(10_000.0, 1000.0, 0.0);
    let slow = data(50_000.0, 500.0, 0.0);
    let f = Filter {
        only: vec!["ready".into()],
        ignore: vec!["ready.p99".into()],
    };
    let rows = compare(&slow, &base, 0.1, 1000.0, &f);
    assert!(rows
        .iter()
        .all(|r| r.metric.starts_with("ready.") && r.metric != "ready.p99"));
    assert!(rows.iter().any(|r| r.metric == "ready.p50"));
    let f = Filter {
        only: vec![],
        ignore: vec!["logins_per_sec".into(), "ready".into()],
    };
    assert_eq!(regressions(&compare(&slow, &base, 0.1, 1000.0, &f)), 0);
}

#[test]
fn rates_of_fixed_work_runs_are_shown_not_judged() {
    let mut base = data(10_000.0, 1000.0, 0.0);
    let mut slow = data(10_000.0, 500.0, 0.0);
    base.time_bounded = false;
    slow.time_bounded = false;
    let rows = compare(&slow, &base, 0.1, 1000.0, &Filter::default());
    assert_eq!(regressions(&rows), 0);
    assert!(rows
        .iter()
        .any(|r| r.metric == "logins_per_sec" && r.status == Status::Info));
}

#[test]
fn tolerances_parse() {
    assert_eq!(parse_tolerance("10%"), Ok(0.1));
    assert_eq!(parse_tolerance("0.25"), Ok(0.25));
    assert!(parse_tolerance("ten").is_err());
    assert!(parse_tolerance("-5%").is_err());
}

#[test]
fn an_only_or_ignore_name_that_covers_no_metric_is_refused_with_the_closest() {
    let metrics = ["ready.p50", "ready.p99", "login.p99", "logins_per_sec"];
    let f = |only: &[&str], ignore: &[&str]| Filter {
        only: only.iter().map(|s| s.to_string()).collect(),
        ignore: ignore.iter().map(|s| s.to_string()).collect(),
    };
    assert!(f(&["ready", "login.p99"], &["logins_per_sec"])
        .check(metrics.iter().copied())
        .is_ok());
    let e = f(&["bogus"], &[])
        .check(metrics.iter().copied())
        .unwrap_err();
    assert!(e.to_string().contains("--only \"bogus\""), "{e}");
    let e = f(&[], &["redy.p99"])
        .check(metrics.iter().copied())
        .unwrap_err();
    assert!(e.to_string().contains("did you mean \"ready.p99\""), "{e}");
}
