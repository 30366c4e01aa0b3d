//! The `-Filter` of the fake's `Get-Mailbox`: the OPATH subset a client partitioning mailboxes
//! by user principal name needs, honoured exactly, and everything else refused (never
//! silently ignored, which would return every mailbox to a client that asked for a few).
//!
//! Sources: "Filterable properties for the Filter parameter on Exchange cmdlets"
//! (https://learn.microsoft.com/en-us/powershell/exchange/filter-properties: `UserPrincipalName`
//! on `Get-Mailbox`, "String (wildcards accepted)") and "Recipient filters in Exchange
//! PowerShell commands" (https://learn.microsoft.com/en-us/powershell/exchange/recipient-filters:
//! text values in single quotes, `-and`/`-or`/`-eq`/`-like`, and "When you use the -like
//! operator in Exchange Online PowerShell, the wildcard character is supported only as a
//! suffix"). OPATH string comparisons ignore case, as PowerShell's `-eq`/`-like` do.

/// One comparison: `UserPrincipalName -like 'ab*'` (`prefix`) or `-eq 'x'` (exact).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparison {
    value: String,
    prefix: bool,
}

/// A parsed filter: any of these comparisons holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxFilter {
    any: Vec<Comparison>,
}

impl MailboxFilter {
    /// Parses `filter`, or answers with the message Exchange gives for a filter it cannot use.
    pub fn parse(filter: &str) -> Result<MailboxFilter, String> {
        let invalid = |why: &str| {
            format!(
                "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": \"Invalid filter syntax. {why} \"{filter}\"\""
            )
        };
        let mut any = Vec::new();
        for term in split_or(filter).ok_or_else(|| invalid("Unbalanced quotes or parentheses."))? {
            let term = strip_parentheses(term.trim());
            let mut words = term.splitn(3, char::is_whitespace);
            let (property, operator, value) = (
                words.next().unwrap_or_default(),
                words.next().unwrap_or_default().to_ascii_lowercase(),
                words.next().unwrap_or_default().trim(),
            );
            if !property.eq_ignore_ascii_case("UserPrincipalName") {
                return Err(invalid(&format!(
                    "The fake filters mailboxes by UserPrincipalName only, not by '{property}'."
                )));
            }
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(|v| v.replace("''", "'"))
                .ok_or_else(|| invalid("Text values are enclosed in single quotation marks."))?;
            let comparison = match operator.as_str() {
                "-eq" => Comparison {
                    value,
                    prefix: false,
                },
                "-like" => match value.find('*') {
                    None => Comparison {
                        value,
                        prefix: false,
                    },
                    Some(at) if at + 1 == value.len() => Comparison {
                        value: value[..at].to_string(),
                        prefix: true,
                    },
                    Some(_) => {
                        return Err(invalid(
                            "The wildcard character is supported only as a suffix.",
                        ));
                    }
                },
                other => {
                    return Err(invalid(&format!(
                        "The fake compares UserPrincipalName with -eq or -like, not '{other}'."
                    )));
                }
            };
            any.push(comparison);
        }
        Ok(MailboxFilter { any })
    }

    /// Whether a mailbox with this user principal name passes the filter.
    pub fn matches(&self, upn: &str) -> bool {
        self.any.iter().any(|c| {
            if c.prefix {
                upn.len() >= c.value.len()
                    && upn.is_char_boundary(c.value.len())
                    && upn[..c.value.len()].eq_ignore_ascii_case(&c.value)
            } else {
                upn.eq_ignore_ascii_case(&c.value)
            }
        })
    }
}

/// Splits on `-or` outside quotes and parentheses; `None` when they do not balance.
fn split_or(filter: &str) -> Option<Vec<&str>> {
    let (parts, balanced) = crate::query::split_outside_quotes(filter, " -or ");
    balanced.then_some(parts)
}

/// `(x)` → `x`, repeatedly.
fn strip_parentheses(mut term: &str) -> &str {
    while let Some(inner) = term.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        term = inner.trim();
    }
    term
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_exact_names_match_ignoring_case_and_nothing_else() {
        let filter = MailboxFilter::parse(
            "(UserPrincipalName -like 'a*') -or (userprincipalname -LIKE 'O''b*') -or (UserPrincipalName -eq 'x@c.com')",
        )
        .unwrap();
        for (upn, expected) in [
            ("alice@c.com", true),
            ("Alice@c.com", true),
            ("o'brien@c.com", true),
            ("X@C.COM", true),
            ("x2@c.com", false),
            ("bob@c.com", false),
            ("é@c.com", false),
        ] {
            assert_eq!(filter.matches(upn), expected, "{upn}");
        }
    }

    #[test]
    fn what_the_fake_cannot_honour_is_refused() {
        for filter in [
            "Alias -like 'a*'",
            "UserPrincipalName -like '*a'",
            "UserPrincipalName -ne 'a'",
            "UserPrincipalName -like a*",
            "(UserPrincipalName -like 'a*'",
            "UserPrincipalName -like 'a*' -and Alias -eq 'b'",
        ] {
            assert!(MailboxFilter::parse(filter).is_err(), "{filter}");
        }
    }
}
