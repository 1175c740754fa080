//! Human-friendly durations and ranges shared by the CLI and scenario files:
//! `250ms`, `1.5s`, `2m`, `500us`, `0`, and ranges `50ms..200ms`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration or range that could not be read; each names the text at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("duration {0:?} needs a unit (us, ms, s, m or h)")]
    NoUnit(String),
    #[error("duration {0:?} does not start with a number")]
    NotANumber(String),
    #[error("duration {text:?} has unknown unit {unit:?} (use us, ms, s, m or h)")]
    UnknownUnit { text: String, unit: String },
    #[error("duration {0:?} is out of range")]
    OutOfRange(String),
    #[error("range {0:?} has its minimum above its maximum")]
    Inverted(String),
}

/// Parse a duration such as `150ms`, `1.5s`, `2m`, `1h`, `500us` or `0`.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| UnitError::NoUnit(s.into()))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| UnitError::NotANumber(s.into()))?;
    let secs = match unit.trim() {
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(UnitError::UnknownUnit {
                text: s.into(),
                unit: other.into(),
            })
        }
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(UnitError::OutOfRange(s.into()));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Render a duration compactly (`0`, `750us`, `150ms`, `1.5s`).
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        "0".into()
    } else if us < 1000 {
        format!("{us}us")
    } else if us < 1_000_000 && us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else if us < 1_000_000 {
        format!("{:.3}ms", us as f64 / 1000.0)
    } else {
        let s = d.as_secs_f64();
        if s.fract() == 0.0 {
            format!("{}s", s as u64)
        } else {
            format!("{s:.3}s")
        }
    }
}

/// A duration that is either fixed (`100ms`) or drawn uniformly from a range (`50ms..200ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DelayRange {
    pub min: Duration,
    pub max: Duration,
}

impl DelayRange {
    pub fn fixed(d: Duration) -> Self {
        DelayRange { min: d, max: d }
    }

    pub fn is_zero(&self) -> bool {
        self.max.is_zero()
    }

    /// Draw a value; `unit` is a uniform sample in [0, 1).
    pub fn sample(&self, unit: f64) -> Duration {
        if self.max <= self.min {
            return self.min;
        }
        self.min + (self.max - self.min).mul_f64(unit.clamp(0.0, 1.0))
    }
}

impl FromStr for DelayRange {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        match s.split_once("..") {
            Some((a, b)) => {
                let (min, max) = (parse_duration(a)?, parse_duration(b)?);
                if min > max {
                    return Err(UnitError::Inverted(s.into()));
                }
                Ok(DelayRange { min, max })
            }
            None => Ok(DelayRange::fixed(parse_duration(s)?)),
        }
    }
}

impl fmt::Display for DelayRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            f.write_str(&format_duration(self.min))
        } else {
            write!(
                f,
                "{}..{}",
                format_duration(self.min),
                format_duration(self.max)
            )
        }
    }
}

impl Serialize for DelayRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DelayRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        quoted(
            d,
            "a duration or a range in quotes, such as \"200ms\" or \"100ms..300ms\"",
        )
    }
}

/// A value written as text in quotes and parsed; a value of another type is refused saying
/// what was expected in the user's terms (`what`), not serde's ("expected a string").
pub fn quoted<'de, D, T>(d: D, what: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    struct Quoted(&'static str);
    impl serde::de::Visitor<'_> for Quoted {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_str(Quoted(what))?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// A duration in a scenario file, written as a string such as `"150ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

impl FromStr for Dur {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        parse_duration(s).map(Dur)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        quoted(
            d,
            "a duration in quotes, such as \"5s\", \"200ms\" or \"1m\"",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("150ms").unwrap(), Duration::from_millis(150));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("500us").unwrap(), Duration::from_micros(500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("5parsecs").is_err());
        assert_eq!(format_duration(Duration::from_millis(150)), "150ms");
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
    }

    #[test]
    fn ranges_parse_and_sample() {
        let r: DelayRange = "50ms..150ms".parse().unwrap();
        assert_eq!(r.sample(0.5), Duration::from_millis(100));
        assert_eq!(r.to_string(), "50ms..150ms");
        assert!("2s..1s".parse::<DelayRange>().is_err());
        let f: DelayRange = "20ms".parse().unwrap();
        assert_eq!(f.sample(0.9), Duration::from_millis(20));
    }
}
