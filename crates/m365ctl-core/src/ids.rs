//! Identifier checks and URL path-segment encoding shared by the loader, the snapshot
//! validator and the Graph client.
//!
//! Microsoft Entra object ids, SKU ids and tenant ids are GUIDs; a tenant may also be named by
//! a verified domain. Anything else that would land in a URL is refused before a request is
//! built, and every value put into a URL path is percent-encoded as well, so an id such as
//! `victim?x=1` can never address another object (defence in depth: validation alone would
//! suffice today, encoding keeps it so when a new call site forgets to validate).

/// Whether `s` is a GUID in its canonical textual form (`8-4-4-4-12` hex digits).
pub fn is_guid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Whether `s` is a DNS domain name (`contoso.onmicrosoft.com`): at least two labels of
/// letters, digits and inner hyphens, each at most 63 characters, 253 in all.
pub fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()))
}

/// Whether `s` may name an Entra tenant: a GUID or a domain.
pub fn is_tenant_id(s: &str) -> bool {
    is_guid(s) || is_domain(s)
}

/// Percent-encodes `s` for use as ONE URL path segment: only RFC 3986 unreserved characters
/// stay as they are, so `/`, `?`, `#`, `%` and `$` can never change which resource a URL
/// names. The dot-segments `.` and `..` stay dot-segments even encoded (the WHATWG URL parser
/// treats `%2e` as `.`): callers validate ids first (`is_guid`, `is_tenant_id` refuse them).
pub fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn guids_and_domains() {
        assert!(is_guid("00000000-0000-4000-8000-00000000c0de"));
        assert!(!is_guid("00000000-0000-4000-8000-00000000c0de?x=1"));
        assert!(!is_guid("00000000x0000-4000-8000-00000000c0de"));
        assert!(is_tenant_id("contoso.onmicrosoft.com"));
        assert!(!is_tenant_id("contoso"));
        assert!(!is_tenant_id("evil.com/../x"));
        assert!(!is_tenant_id("a..b"));
        assert!(!is_tenant_id("-a.com"));
        assert!(!is_tenant_id("1.2.3.4"));
    }

    proptest! {
        /// No input can put a separator, query, fragment or dot-segment into a path.
        #[test]
        fn an_encoded_segment_is_one_inert_segment(s in any::<String>()) {
            prop_assume!(!s.is_empty() && s != "." && s != "..");
            let url = url::Url::parse(&format!("https://graph.microsoft.com/v1.0/users/{}/assignLicense", encode_path_segment(&s))).unwrap();
            prop_assert_eq!(url.path_segments().unwrap().count(), 4, "{}", url);
            prop_assert!(url.query().is_none() && url.fragment().is_none());
            let e = encode_path_segment(&s);
            prop_assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)), "{e}");
            // Decoding gives the input back.
            let mut decoded = Vec::new();
            let bytes = e.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    decoded.push(u8::from_str_radix(&e[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    decoded.push(bytes[i]);
                    i += 1;
                }
            }
            prop_assert_eq!(decoded, s.as_bytes());
        }

        /// Whatever passes as a tenant id or GUID needs no encoding at all.
        #[test]
        fn valid_ids_are_url_safe(s in "[0-9a-zA-Z.\\-/?#%]{0,40}") {
            if is_tenant_id(&s) {
                prop_assert_eq!(encode_path_segment(&s), s);
            }
        }
    }
}
