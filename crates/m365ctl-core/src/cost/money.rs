//! Exact money: an integer count of minor units. Sums and products never touch floating
//! point, so the total of a plan is the sum of its lines to the cent.

use super::Currency;
use serde::{Deserialize, Serialize};

/// An amount in whole minor units of a currency with `digits` decimal digits (`3600` with 2
/// digits is 36.00). i128: seat counts times prices cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money {
    /// Whole minor units (cents).
    pub minor_units: i128,
    /// Decimal digits of the minor unit.
    pub digits: u8,
}

/// The largest monthly price accepted per seat, in major units: a typo guard, far above any
/// Microsoft 365 list price.
const MAX_PRICE_MAJOR: i128 = 1_000_000_000;

impl Money {
    /// Zero in a currency.
    pub fn zero(currency: &Currency) -> Money {
        Money {
            minor_units: 0,
            digits: currency.minor_unit_digits,
        }
    }

    /// Parses a price written in the config (`"36.00"`, `"36"`, `"4500"` for JPY): digits,
    /// optionally a point and at most the currency's minor-unit digits. No sign, no
    /// exponent, no grouping: a price is never guessed from an ambiguous spelling.
    pub fn parse_price(text: &str, currency: &Currency) -> Result<Money, String> {
        let money = Money::parse_unsigned(text, currency.minor_unit_digits, &currency.code)?;
        if money.minor_units > MAX_PRICE_MAJOR * 10_i128.pow(u32::from(money.digits)) {
            return Err(format!(
                "`{text}` is above the largest accepted price ({MAX_PRICE_MAJOR})"
            ));
        }
        Ok(money)
    }

    /// An unsigned decimal with at most `digits` decimals, in minor units.
    fn parse_unsigned(text: &str, digits: u8, code: &str) -> Result<Money, String> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(format!(
                "`{text}` is not a price: write digits with an optional decimal point, e.g. \"36.00\""
            ));
        }
        if text.contains('.') && fraction.is_empty() {
            return Err(format!("`{text}` ends with a decimal point"));
        }
        if fraction.len() > usize::from(digits) {
            return Err(format!(
                "`{text}` has {} decimal digits but {code} has {digits}",
                fraction.len()
            ));
        }
        if whole.len() > 30 {
            return Err(format!("`{text}` is too large"));
        }
        let whole: i128 = whole
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?;
        let padded = format!("{fraction:0<width$}", width = usize::from(digits));
        let fraction: i128 = if padded.is_empty() {
            0
        } else {
            padded
                .parse()
                .map_err(|_| format!("`{text}` is not a price"))?
        };
        Ok(Money {
            minor_units: whole * 10_i128.pow(u32::from(digits)) + fraction,
            digits,
        })
    }

    /// This amount times a seat count.
    pub fn times(self, seats: u32) -> Money {
        Money {
            minor_units: self.minor_units * i128::from(seats),
            ..self
        }
    }

    /// Sum of two amounts of the same currency.
    pub fn plus(self, other: Money) -> Money {
        debug_assert_eq!(self.digits, other.digits, "amounts of different currencies");
        Money {
            minor_units: self.minor_units + other.minor_units,
            ..self
        }
    }

    /// Difference `self - other`.
    pub fn minus(self, other: Money) -> Money {
        self.plus(Money {
            minor_units: -other.minor_units,
            ..other
        })
    }

    /// Plain decimal text without grouping (`-1234.50`): for JSON and CSV, exact and
    /// parseable by any tool.
    pub fn plain(&self) -> String {
        self.format(false)
    }

    /// Decimal text with thousands grouped (`1,234.50`), for people.
    pub fn grouped(&self) -> String {
        self.format(true)
    }

    /// A signed change for people (`+36.00`, `-1,234.50`, `0.00`).
    pub fn signed(&self) -> String {
        if self.minor_units > 0 {
            format!("+{}", self.grouped())
        } else {
            self.grouped()
        }
    }

    fn format(&self, group: bool) -> String {
        let scale = 10_i128.pow(u32::from(self.digits));
        let magnitude = self.minor_units.unsigned_abs();
        let whole = (magnitude / scale.unsigned_abs()).to_string();
        let whole = if group {
            group_thousands(&whole)
        } else {
            whole
        };
        let sign = if self.minor_units < 0 { "-" } else { "" };
        if self.digits == 0 {
            format!("{sign}{whole}")
        } else {
            let fraction = magnitude % scale.unsigned_abs();
            format!(
                "{sign}{whole}.{fraction:0width$}",
                width = usize::from(self.digits)
            )
        }
    }
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Serialize for Money {
    /// A decimal string (`"216.00"`): exact, unlike a JSON number read as a double.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.plain())
    }
}

impl<'de> Deserialize<'de> for Money {
    /// Reads what `serialize` wrote; the number of decimals gives the minor-unit digits.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let text = String::deserialize(d)?;
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let digits = unsigned.split_once('.').map_or(0, |(_, f)| f.len());
        let digits = u8::try_from(digits).map_err(serde::de::Error::custom)?;
        let money =
            Money::parse_unsigned(unsigned, digits, "it").map_err(serde::de::Error::custom)?;
        Ok(if negative {
            Money {
                minor_units: -money.minor_units,
                ..money
            }
        } else {
            money
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn parses_prices_to_minor_units_and_refuses_ambiguous_spellings() {
        let p = |t: &str| Money::parse_price(t, &eur()).map(|m| m.minor_units);
        assert_eq!(p("36.00"), Ok(3600));
        assert_eq!(p("36"), Ok(3600));
        assert_eq!(p("36.5"), Ok(3650));
        assert_eq!(p("0.01"), Ok(1));
        for bad in [
            "", "-1", "+1", "36.", ".5", "36.001", "1,000", "1e3", " 36", "36 ", "3 6", "NaN",
        ] {
            assert!(p(bad).is_err(), "{bad:?} was accepted");
        }
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Money::parse_price("4500", &jpy).unwrap().minor_units, 4500);
        assert!(Money::parse_price("4500.5", &jpy).is_err());
    }

    #[test]
    fn formats_for_people_and_for_machines() {
        let m = |minor, digits| Money {
            minor_units: minor,
            digits,
        };
        assert_eq!(m(123_456_789, 2).grouped(), "1,234,567.89");
        assert_eq!(m(123_456_789, 2).plain(), "1234567.89");
        assert_eq!(m(-3600, 2).signed(), "-36.00");
        assert_eq!(m(3600, 2).signed(), "+36.00");
        assert_eq!(m(5, 2).plain(), "0.05");
        assert_eq!(m(4500, 0).grouped(), "4,500");
        assert_eq!(m(1_500, 3).plain(), "1.500");
    }

    proptest! {
        /// Any amount survives the JSON round trip exactly, in any minor-unit precision.
        #[test]
        fn json_round_trip_is_exact(minor in -10_i128.pow(20)..10_i128.pow(20), digits in 0u8..=4) {
            let money = Money { minor_units: minor, digits };
            let json = serde_json::to_string(&money).unwrap();
            let back: Money = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, money);
        }

        /// Parsing what `plain` prints gives the same amount for every price in range.
        #[test]
        fn parse_inverts_plain(minor in 0_i128..10_i128.pow(11)) {
            let money = Money { minor_units: minor, digits: 2 };
            prop_assert_eq!(Money::parse_price(&money.plain(), &eur()), Ok(money));
        }
    }
}
