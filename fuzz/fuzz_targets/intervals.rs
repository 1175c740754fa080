//! intervals.jsonl as `merge` and `run --processes` read it: every record checked, decoded
//! (histograms included, their shape checked before allocation) and added up with checked
//! arithmetic, as merge does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use loginstorm::model::Snapshot;

fuzz_target!(|data: &[u8]| {
    if let Ok((records, complete)) = loginstorm::report::records::parse_intervals(data) {
        assert!(complete <= data.len());
        let mut sum = Snapshot::default();
        for r in &records {
            if let Ok(s) = r.snapshot() {
                let _ = sum.checked_add(&s);
            }
        }
        let _ = loginstorm::report::Totals::of(&sum);
        let _ = (sum.violations_total(), sum.errors_total(), sum.kicks_total());
    }
});
