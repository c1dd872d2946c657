//! A setting's range, and the one message that both its flag and [`super::Config::validate`]
//! give for a value outside it.
//!
//! clap's own ranged parsers (`value_parser!(u32).range(..)`) have a message of their own
//! ("0 is not in 1..=1024") that a `Config` built in code could not share, and they know
//! nothing of seconds; this small type gives the flag's parser and `validate` the same words.

use std::fmt;
use std::time::Duration;

use super::ConfigError;

/// What a setting counts: a whole number, or seconds read into a [`Duration`].
pub trait Quantity: Copy + PartialOrd + Send + Sync + 'static {
    /// The value `text` names, if it names one at all (in range or not).
    fn parse(text: &str) -> Option<Self>;
    /// The value as its flag takes it.
    fn show(self) -> String;
}

macro_rules! whole_number {
    ($($t:ty),*) => {$(
        impl Quantity for $t {
            fn parse(text: &str) -> Option<Self> {
                text.parse().ok()
            }
            fn show(self) -> String {
                self.to_string()
            }
        }
    )*};
}
whole_number!(usize, u32);

/// Seconds, with a fraction: `5`, `0.25`.
impl Quantity for Duration {
    fn parse(text: &str) -> Option<Self> {
        text.parse::<f64>().ok().and_then(|s| Duration::try_from_secs_f64(s).ok())
    }
    fn show(self) -> String {
        self.as_secs_f64().to_string()
    }
}

/// The values a setting accepts, `low..=high`, and what they count ("a number of bytes").
#[derive(Debug, Clone, Copy)]
pub struct Bounds<T> {
    pub low: T,
    pub high: T,
    pub what: &'static str,
}

impl<T: Quantity> Bounds<T> {
    pub const fn new(low: T, high: T, what: &'static str) -> Bounds<T> {
        Bounds { low, high, what }
    }

    pub fn contains(&self, value: T) -> bool {
        self.low <= value && value <= self.high
    }

    /// The flag's message for `text`: `0 is out of range: use a number of bytes from 1 to 4194304`.
    fn refusal(&self, shown: &str) -> String {
        format!("{shown} is out of range: use {} from {self}", self.what)
    }

    /// The value of a flag's text, or the message that refuses it.
    pub fn parse(&self, text: &str) -> Result<T, String> {
        match T::parse(text) {
            Some(value) if self.contains(value) => Ok(value),
            Some(_) => Err(self.refusal(text)),
            None => Err(format!("{text:?} is not {} from {self}", self.what)),
        }
    }

    /// [`parse`](Self::parse) as a clap value parser.
    pub fn parser(self) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
        move |text: &str| self.parse(text)
    }

    /// `value`, set in code, refused with the message its flag `--{flag}` would give.
    pub fn check(&self, flag: &'static str, value: T) -> Result<(), ConfigError> {
        if self.contains(value) {
            Ok(())
        } else {
            Err(ConfigError::Setting { flag, message: self.refusal(&value.show()) })
        }
    }
}

/// `1 to 4194304`, as the help texts give a range.
impl<T: Quantity> fmt::Display for Bounds<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}", self.low.show(), self.high.show())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BYTES: Bounds<usize> = Bounds::new(1, 4096, "a number of bytes");
    const SECONDS: Bounds<Duration> = Bounds::new(Duration::ZERO, Duration::from_secs(3600), "a number of seconds");

    #[test]
    fn the_flag_and_the_check_refuse_with_one_message() {
        assert_eq!(BYTES.parse("4096"), Ok(4096));
        let flag = BYTES.parse("0").unwrap_err();
        assert_eq!(flag, "0 is out of range: use a number of bytes from 1 to 4096");
        assert_eq!(BYTES.check("chunk-size", 0).unwrap_err().to_string(), format!("--chunk-size {flag}"));
        assert_eq!(BYTES.parse("-1").unwrap_err(), "\"-1\" is not a number of bytes from 1 to 4096");
    }

    #[test]
    fn seconds_take_fractions_and_refuse_what_no_duration_is() {
        assert_eq!(SECONDS.parse("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(SECONDS.to_string(), "0 to 3600");
        assert_eq!(
            SECONDS.parse("3600.5").unwrap_err(),
            "3600.5 is out of range: use a number of seconds from 0 to 3600"
        );
        for text in ["-1", "1e20", "nan", "inf", "five"] {
            assert!(SECONDS.parse(text).unwrap_err().contains("is not a number of seconds from 0 to 3600"), "{text}");
        }
        let refused = SECONDS.check("grace-period", Duration::from_secs(7200)).unwrap_err().to_string();
        assert_eq!(refused, "--grace-period 7200 is out of range: use a number of seconds from 0 to 3600");
    }
}
