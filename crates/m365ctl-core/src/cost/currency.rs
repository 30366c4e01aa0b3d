//! ISO 4217 currency codes and their minor-unit digits, so money is counted in whole minor
//! units (cents, yen, fils) and a price with more decimals than its currency has is refused
//! instead of being rounded. Source: ISO 4217 list one (current currency and funds codes,
//! maintained by SIX for ISO), column "Minor unit". Precious metals, testing and "no currency"
//! codes (XAU, XTS, XXX, ...) have no minor unit and are not accepted.

use serde::{Deserialize, Serialize};

/// Active ISO 4217 currency codes whose minor unit is 2 digits.
const TWO_DIGITS: &str = "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV \
BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN \
ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR \
KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN \
NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP \
SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VES VED \
WST XCD XCG YER ZAR ZMW ZWG";
/// Codes with no minor unit (0 digits).
const ZERO_DIGITS: &str = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
/// Codes with 3 minor-unit digits.
const THREE_DIGITS: &str = "BHD IQD JOD KWD LYD OMR TND";
/// Codes with 4 minor-unit digits (units of account).
const FOUR_DIGITS: &str = "CLF UYW";

/// A currency: its ISO 4217 code and how many decimal digits its minor unit has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Currency {
    /// ISO 4217 alphabetic code, upper-case (`EUR`).
    pub code: String,
    /// Digits of the minor unit (`EUR` 2, `JPY` 0, `KWD` 3).
    pub minor_unit_digits: u8,
}

impl Currency {
    /// Looks a code up (case-insensitively); `None` for anything not an active ISO 4217
    /// currency with a minor unit.
    pub fn from_code(code: &str) -> Option<Currency> {
        let code = code.trim().to_ascii_uppercase();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let tables = [
            (TWO_DIGITS, 2),
            (ZERO_DIGITS, 0),
            (THREE_DIGITS, 3),
            (FOUR_DIGITS, 4),
        ];
        tables
            .iter()
            .find(|(list, _)| list.split_whitespace().any(|c| c == code))
            .map(|&(_, digits)| Currency {
                code,
                minor_unit_digits: digits,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_minor_units_of_common_and_unusual_currencies() {
        let digits = |c: &str| Currency::from_code(c).map(|c| c.minor_unit_digits);
        assert_eq!(digits("EUR"), Some(2));
        assert_eq!(digits("usd"), Some(2));
        assert_eq!(digits("JPY"), Some(0));
        assert_eq!(digits("KWD"), Some(3));
        assert_eq!(digits("CLF"), Some(4));
        for not_a_currency in ["XAU", "XXX", "XTS", "EU", "EURO", "E1R", ""] {
            assert_eq!(digits(not_a_currency), None, "{not_a_currency}");
        }
    }

    #[test]
    fn every_listed_code_is_three_letters_and_listed_once() {
        let all: Vec<&str> = [TWO_DIGITS, ZERO_DIGITS, THREE_DIGITS, FOUR_DIGITS]
            .iter()
            .flat_map(|l| l.split_whitespace())
            .collect();
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "a code is listed twice");
        assert!(all.iter().all(|c| c.len() == 3));
    }
}
