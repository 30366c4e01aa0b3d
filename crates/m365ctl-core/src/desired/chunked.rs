//! Parsing a large config file in chunks, so parse memory stays bounded.
//!
//! `toml` parses a whole document into a DOM (every table a hash map, every key and value a
//! spanned node) before serde sees it: an exported 100,000-entry `users.toml` (10 MB) costs
//! about 280 MB of heap at once. Here the file is cut, with a TOML-aware scanner, at the
//! `[users.KEY]` / `[groups.KEY]` table headers into runs of entries of about `chunk_bytes`;
//! each run is parsed on its own and merged. Spans stay exact because each run is parsed at
//! its own offset (the text before it blanked to spaces), so every origin (file:line:column)
//! is the one the whole-file parse gives.
//!
//! Chunking is only an optimisation, never a second parser: whenever a run fails to parse or
//! two runs define the same entry (a duplicate table, a sub-table written elsewhere), the
//! caller parses the whole file as before, so every error and every accepted file is exactly
//! the whole-file parse's.

use super::raw::RawFile;
use std::ops::Range;

/// Below this size a file is parsed whole: its DOM is small.
pub(super) const CHUNK_BYTES: usize = 1024 * 1024;

/// Parses `text` as a config file, in chunks of about `chunk_bytes` when it is large; the
/// result (and every error) is the whole-file parse's.
pub(super) fn parse(text: &str, chunk_bytes: usize) -> Result<RawFile, toml::de::Error> {
    if text.len() > 2 * chunk_bytes
        && let Some(raw) = parse_chunked(text, chunk_bytes)
    {
        return Ok(raw);
    }
    toml::from_str(text)
}

/// The chunked parse, or `None` when the file must be parsed whole (see the module doc).
fn parse_chunked(text: &str, chunk_bytes: usize) -> Option<RawFile> {
    let pieces = pieces(text)?;
    let runs = entry_runs(&pieces, chunk_bytes);
    if runs.is_empty() {
        return None;
    }
    // Everything but the entry runs, at its own offsets.
    let mut rest = text.as_bytes().to_vec();
    for run in &runs {
        for b in &mut rest[run.clone()] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    let mut merged: RawFile = toml::from_str(std::str::from_utf8(&rest).ok()?).ok()?;
    // The same buffer then holds each run's document: the run in place, everything before it
    // blank. A new string per run (up to the file's size each) left a freed block of 1 to
    // 10 MB behind every run.
    let mut document = rest;
    let mut blank_up_to = 0;
    for run in runs {
        document[blank_up_to..run.start].fill(b' ');
        document[run.clone()].copy_from_slice(&text.as_bytes()[run.clone()]);
        let part: RawFile = toml::from_str(std::str::from_utf8(&document[..run.end]).ok()?).ok()?;
        merge_entries(&mut merged, part)?;
        blank_up_to = run.start;
    }
    Some(merged)
}

/// Adds a run's `users` and `groups` entries; `None` when the run holds anything else or an
/// entry already defined (the whole-file parse decides those).
fn merge_entries(into: &mut RawFile, part: RawFile) -> Option<()> {
    let RawFile {
        tenant: None,
        skus,
        scope: None,
        defaults: None,
        guards: None,
        profiles,
        rules,
        users,
        groups,
    } = part
    else {
        return None;
    };
    if !skus.is_empty() || !profiles.is_empty() || !rules.is_empty() {
        return None;
    }
    for (key, user) in users {
        if into.users.contains_key(&key) {
            return None;
        }
        into.users.insert(key, user);
    }
    for (key, group) in groups {
        if into.groups.contains_key(&key) {
            return None;
        }
        into.groups.insert(key, group);
    }
    Some(())
}

/// A top-level section of the file: from a table header (or the start) to the next header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    range: Range<usize>,
    /// Whether it is one `[users.KEY]` or `[groups.KEY]` table.
    entry: bool,
}

/// Consecutive entry pieces joined into runs of at least `chunk_bytes` (the last may be
/// shorter); other pieces stay in the rest of the document.
fn entry_runs(pieces: &[Piece], chunk_bytes: usize) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    let mut open: Option<Range<usize>> = None;
    for piece in pieces {
        if !piece.entry {
            runs.extend(open.take());
            continue;
        }
        let run = open.get_or_insert(piece.range.start..piece.range.start);
        run.end = piece.range.end;
        if run.len() >= chunk_bytes {
            runs.extend(open.take());
        }
    }
    runs.extend(open);
    runs
}

/// The file cut at its top-level table headers, or `None` when chunking is not safe: the root
/// table has keys of its own (`users = { … }` or a dotted `users.x = …` would make a later
/// `[users.x]` header an error the runs could not see), or a header the scanner cannot read.
fn pieces(text: &str) -> Option<Vec<Piece>> {
    let bytes = text.as_bytes();
    let mut scanner = Scanner { bytes, at: 0 };
    let mut pieces = vec![Piece {
        range: 0..0,
        entry: false,
    }];
    let mut depth = 0usize;
    let mut line_start = true;
    while scanner.at < bytes.len() {
        let b = bytes[scanner.at];
        if line_start && depth == 0 {
            let start = scanner.at;
            scanner.skip_blank();
            match scanner.peek() {
                Some(b'[') => {
                    let entry = scanner.header()?;
                    pieces.last_mut()?.range.end = start;
                    pieces.push(Piece {
                        range: start..start,
                        entry,
                    });
                    scanner.rest_of_header_line()?;
                    continue;
                }
                Some(b'#' | b'\n' | b'\r') | None => {}
                Some(_) if pieces.len() == 1 => return None,
                Some(_) => {}
            }
            line_start = false;
            continue;
        }
        match b {
            b'\n' => line_start = true,
            b'#' => scanner.skip_comment(),
            b'"' | b'\'' => {
                scanner.string()?;
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        scanner.at += 1;
    }
    pieces.last_mut()?.range.end = bytes.len();
    Some(pieces)
}

/// A cursor over the file's bytes that knows TOML's strings, comments and headers.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.bytes[self.at..].starts_with(s)
    }

    fn skip_blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// To the end of the line (the newline itself is left for the caller).
    fn skip_comment(&mut self) {
        while !matches!(self.peek(), Some(b'\n') | None) {
            self.at += 1;
        }
    }

    /// Skips a string of any of TOML's four kinds starting here; `None` when it does not end
    /// (the whole-file parse reports it).
    fn string(&mut self) -> Option<()> {
        let quote = self.peek()?;
        let basic = quote == b'"';
        let triple = [quote; 3];
        if self.starts_with(&triple) {
            self.at += 3;
            loop {
                match self.peek()? {
                    b'\\' if basic => self.at += 2,
                    _ if self.starts_with(&triple) => {
                        self.at += 3;
                        // Up to two quotes may end the content right before the delimiter.
                        for _ in 0..2 {
                            if self.peek() == Some(quote) {
                                self.at += 1;
                            }
                        }
                        return Some(());
                    }
                    _ => self.at += 1,
                }
            }
        }
        self.at += 1;
        loop {
            match self.peek()? {
                b'\n' => return None,
                b'\\' if basic => self.at += 2,
                b if b == quote => {
                    self.at += 1;
                    return Some(());
                }
                _ => self.at += 1,
            }
        }
    }

    /// Reads a table header starting at `[`: whether it is exactly `[users.KEY]` or
    /// `[groups.KEY]`. `None` when it is not a header this scanner can read.
    fn header(&mut self) -> Option<bool> {
        self.at += 1;
        if self.peek() == Some(b'[') {
            // `[[array.of.tables]]`: never an entry.
            self.at += 1;
            self.key_path()?;
            if !self.starts_with(b"]]") {
                return None;
            }
            self.at += 2;
            return Some(false);
        }
        let path = self.key_path()?;
        if self.peek() != Some(b']') {
            return None;
        }
        self.at += 1;
        Some(
            path.len() == 2
                && matches!(path[0], Some(ref k) if k == "users" || k == "groups")
                && path[1].is_some(),
        )
    }

    /// After a header: blanks, an optional comment, the end of the line.
    fn rest_of_header_line(&mut self) -> Option<()> {
        self.skip_blank();
        if self.peek() == Some(b'#') {
            self.skip_comment();
        }
        if self.peek() == Some(b'\r') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'\n') => {
                self.at += 1;
                Some(())
            }
            None => Some(()),
            Some(_) => None,
        }
    }

    /// A dotted key path; each key decoded when it is bare or a quoted string without
    /// escapes (`None` for a key this scanner does not decode: it is never an entry's table).
    fn key_path(&mut self) -> Option<Vec<Option<String>>> {
        let mut path = Vec::new();
        loop {
            self.skip_blank();
            path.push(self.key()?);
            self.skip_blank();
            if self.peek() == Some(b'.') {
                self.at += 1;
            } else {
                return Some(path);
            }
        }
    }

    fn key(&mut self) -> Option<Option<String>> {
        let start = self.at;
        match self.peek()? {
            b'"' | b'\'' => {
                if self.starts_with(b"\"\"\"") || self.starts_with(b"'''") {
                    return None;
                }
                self.string()?;
                let inner = &self.bytes[start + 1..self.at - 1];
                let escaped = self.bytes[start] == b'"' && inner.contains(&b'\\');
                Some((!escaped).then(|| String::from_utf8_lossy(inner).into_owned()))
            }
            _ => {
                while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    self.at += 1;
                }
                if self.at == start {
                    return None;
                }
                Some(Some(
                    String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The whole-file parse, as `Debug` (spans included: `Spanned` prints them).
    fn whole(text: &str) -> Result<String, String> {
        toml::from_str::<RawFile>(text)
            .map(|raw| format!("{raw:?}"))
            .map_err(|e| e.to_string())
    }

    fn chunked(text: &str, chunk_bytes: usize) -> Result<String, String> {
        parse(text, chunk_bytes)
            .map(|raw| format!("{raw:?}"))
            .map_err(|e| e.to_string())
    }

    const HEAD: &str = "[tenant]\nbackend = \"snapshot\"\n\n[skus]\nE3 = \"ENTERPRISEPACK\"\n\n[scope]\nmanage_skus = [\"E3\"]\nusers = \"declared\"\n\n[profiles.staff]\nlicenses = [\"E3\"]\n";

    /// Sections a config is made of, including the ones that must make the chunked parse
    /// give up: sub-tables of an entry written elsewhere, duplicates, an inline `users`
    /// table, strings and arrays holding header-like lines, odd spacing and quoting.
    fn section() -> impl Strategy<Value = String> {
        let upn = (0u8..12).prop_map(|i| format!("u{i}@contoso.com"));
        prop_oneof![
            upn.clone().prop_map(|u| format!(
                "[users.\"{u}\"]\nlicenses = [\"E3\"]\nusage_location = \"GB\"\n"
            )),
            upn.clone()
                .prop_map(|u| format!("[ users . '{u}' ] # entry\nprofile = \"staff\"\n")),
            upn.clone().prop_map(|u| format!(
                "[users.\"{u}\"]\nlicenses = [\n  \"E3\",\n]\ndisabled_plans.E3 = [\"YAMMER_ENTERPRISE\"]\n"
            )),
            upn.clone().prop_map(|u| format!(
                "[users.\"{u}\".disabled_plans]\nE3 = [\"YAMMER_ENTERPRISE\"]\n"
            )),
            (0u8..4).prop_map(|g| format!(
                "[groups.\"Team {g}\"]\nmembers = [\n\"u1@contoso.com\",\n]\n"
            )),
            (0u8..4).prop_map(|g| format!("[groups.'Team {g}']\nlicenses = [\"E3\"]\n")),
            Just("[users]\n\"u1@contoso.com\" = { profile = \"staff\" }\n".to_string()),
            Just("[[rules]]\nmatch = { department = \"Sales\" }\nprofile = \"staff\"\n".to_string()),
            Just("[profiles.x]\nmailbox = \"\"\"\n[users.\"u2@contoso.com\"]\n\"\"\"\n".to_string()),
            Just("[defaults]\nusage_location = \"GB\"\n".to_string()),
            Just("# [users.\"u3@contoso.com\"]\n\n".to_string()),
            Just("[users.\"u4\\u0040contoso.com\"]\nprofile = \"staff\"\n".to_string()),
            Just("[users.\"u5@contoso.com\"]\nprofile = 'staff\n".to_string()),
            Just("[users.\"u6@contoso.com\"]\r\nprofile = \"staff\"\r\n".to_string()),
            Just("[[users]]\nprofile = \"staff\"\n".to_string()),
            Just("[users.\"u7@contoso.com\"]\nbogus = 1\n".to_string()),
        ]
    }

    proptest! {
        /// Whatever the file, the chunked parse gives exactly the whole-file parse's result:
        /// the same values at the same spans, or the same error.
        #[test]
        fn chunked_parse_is_the_whole_file_parse(
            root in prop_oneof![Just(String::new()), Just("users = {}\n".to_string())],
            sections in proptest::collection::vec(section(), 0..24),
            chunk_bytes in 1usize..200,
        ) {
            let text = format!("{root}{HEAD}{}", sections.concat());
            prop_assert_eq!(chunked(&text, chunk_bytes), whole(&text));
        }
    }

    #[test]
    fn a_large_file_of_entries_is_cut_into_runs_and_parsed_in_chunks() {
        let mut text = HEAD.to_string();
        for i in 0..2_000 {
            text.push_str(&format!(
                "[users.\"user{i}@contoso.com\"]\nlicenses = [\"E3\"]\n\n"
            ));
        }
        let pieces = pieces(&text).expect("cut");
        assert_eq!(pieces.iter().filter(|p| p.entry).count(), 2_000);
        let runs = entry_runs(&pieces, 4_096);
        assert!(runs.len() > 10, "{} runs", runs.len());
        let raw = parse_chunked(&text, 4_096).expect("parsed in chunks");
        assert_eq!(raw.users.len(), 2_000);
        assert_eq!(format!("{raw:?}"), whole(&text).unwrap());
    }

    #[test]
    fn root_keys_disable_chunking() {
        assert_eq!(
            pieces("users.\"a\" = { profile = \"x\" }\n[users.b]\n"),
            None
        );
        assert!(pieces("# comment\n\n[users.b]\nprofile = \"x\"\n").is_some());
    }
}
