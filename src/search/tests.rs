use super::*;

fn strategy() -> Strategy {
    Strategy {
        start: 100.0,
        factor: 2.0,
        max_rate: 100_000.0,
        precision: 0.1,
        max_steps: 16,
    }
}

/// Run the strategy against a backend that passes every rate up to `capacity`.
fn run(s: Strategy, capacity: f64) -> (Search, Vec<f64>) {
    let mut search = Search::new(s);
    let mut tried = Vec::new();
    while let Some(r) = search.next_rate() {
        tried.push(r);
        search.record(r, r <= capacity);
        assert!(tried.len() <= s.max_steps, "{tried:?}");
    }
    (search, tried)
}

#[test]
fn grows_until_a_step_fails_then_bisects_to_the_precision() {
    let (s, tried) = run(strategy(), 1000.0);
    assert_eq!(&tried[..5], &[100.0, 200.0, 400.0, 800.0, 1600.0]);
    let (best, fail) = (s.best().unwrap(), s.lowest_failing().unwrap());
    assert!(best <= 1000.0 && fail > 1000.0, "{tried:?}");
    assert!((fail - best) / best <= 0.1, "{best} {fail} {tried:?}");
}

#[test]
fn a_failing_first_step_goes_down_and_nothing_passing_ends_with_no_rate() {
    let (s, tried) = run(strategy(), 30.0);
    assert_eq!(&tried[..3], &[100.0, 50.0, 25.0]);
    assert!(s.best().unwrap() <= 30.0 && s.lowest_failing().unwrap() > 30.0);
    let (s, tried) = run(strategy(), 0.0);
    assert_eq!(s.best(), None);
    assert_eq!(*tried.last().unwrap(), 1.0, "{tried:?}");
}

#[test]
fn the_ceiling_and_the_step_budget_end_a_search() {
    let (s, tried) = run(
        Strategy {
            max_rate: 1000.0,
            ..strategy()
        },
        f64::MAX,
    );
    assert_eq!(tried, [100.0, 200.0, 400.0, 800.0, 1000.0]);
    assert_eq!(s.best(), Some(1000.0));
    let (_, tried) = run(
        Strategy {
            max_steps: 3,
            ..strategy()
        },
        1000.0,
    );
    assert_eq!(tried.len(), 3);
}

fn step(rate: f64, passed: bool, p99: u64, generator_limited: bool) -> Step {
    Step {
        rate,
        passed,
        knee_p99_us: Some(p99),
        generator_limited,
    }
}

#[test]
fn the_knee_is_where_the_p99_more_than_doubles_against_the_lowest_rate() {
    let steps = [
        step(400.0, true, 2_400, false),
        step(100.0, true, 2_000, false),
        step(200.0, true, 2_100, false),
        step(800.0, true, 5_000, false),
        step(1600.0, false, 90_000, false),
    ];
    assert_eq!(knee(&steps), Some(800.0));
    // Microsecond noise doubling is not a knee.
    let small = [step(100.0, true, 100, false), step(200.0, true, 300, false)];
    assert_eq!(knee(&small), None);
    assert_eq!(knee(&[]), None);
}

#[test]
fn who_ran_out_first_is_read_at_the_lowest_failing_rate() {
    let steps = [
        step(100.0, true, 1, false),
        step(400.0, false, 1, false),
        step(200.0, false, 1, true),
    ];
    assert_eq!(ran_out_first(&steps), Some("generator"));
    let steps = [step(100.0, true, 1, false), step(200.0, false, 1, false)];
    assert_eq!(ran_out_first(&steps), Some("backend"));
    assert_eq!(ran_out_first(&[step(1.0, true, 1, false)]), None);
}
