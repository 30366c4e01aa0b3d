//! "Did you mean" suggestions for misspelt keys, aliases and profile names.

/// Edit distance between two strings (case-insensitive), by characters.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// The closest candidate within a third of the word's length (at least one edit), if any.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// A hint listing the valid choices, led by a "did you mean" when one is close.
pub fn hint(word: &str, what: &str, candidates: &[&str]) -> String {
    let list = if candidates.is_empty() {
        "none are defined".to_string()
    } else {
        candidates.join(", ")
    };
    match closest(word, candidates.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? valid {what}: {list}"),
        None => format!("valid {what}: {list}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("E3", "e3"), 0);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn closest_respects_the_limit() {
        assert_eq!(
            closest("licences", ["licenses", "mailbox"]),
            Some("licenses")
        );
        assert_eq!(closest("zzz", ["licenses", "mailbox"]), None);
    }
}
