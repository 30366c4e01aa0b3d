//! ISO 3166-1 alpha-2 country codes: Graph rejects licence assignment for a user whose
//! `usageLocation` is not one of these, so the config is checked offline against the list.

/// The 249 officially assigned ISO 3166-1 alpha-2 codes, sorted.
pub const ISO_3166_ALPHA2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Whether `code` is an assigned alpha-2 code (exact, upper-case: Graph is case-sensitive).
pub fn is_valid(code: &str) -> bool {
    ISO_3166_ALPHA2.binary_search(&code).is_ok()
}

/// The fix for a near miss: upper-case spelling, or the well-known non-ISO aliases
/// (`UK` -> `GB`, `EL` -> `GR`) that admins type from habit.
pub fn suggestion(code: &str) -> Option<&'static str> {
    let upper = code.trim().to_ascii_uppercase();
    let mapped = match upper.as_str() {
        "UK" => "GB",
        "EL" => "GR",
        other => other,
    };
    ISO_3166_ALPHA2
        .binary_search(&mapped)
        .ok()
        .map(|i| ISO_3166_ALPHA2[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_unique_and_complete() {
        assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
        assert!(ISO_3166_ALPHA2.iter().all(|c| c.len() == 2));
    }

    #[test]
    fn validity_is_exact_and_case_sensitive() {
        assert!(is_valid("GB"));
        assert!(is_valid("US"));
        assert!(!is_valid("gb"));
        assert!(!is_valid("UK"));
        assert!(!is_valid("XX"));
    }

    #[test]
    fn suggestions_fix_case_and_habits() {
        assert_eq!(suggestion("gb"), Some("GB"));
        assert_eq!(suggestion("UK"), Some("GB"));
        assert_eq!(suggestion("uk"), Some("GB"));
        assert_eq!(suggestion("ZZ"), None);
    }
}
