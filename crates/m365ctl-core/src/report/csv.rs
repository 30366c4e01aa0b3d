//! CSV cells that are safe to open in a spreadsheet: RFC 4180 quoting, and a leading `'` for
//! text a spreadsheet would run as a formula (OWASP "CSV injection": cells starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return). Display names and departments come from
//! the directory, where anyone who can edit their profile controls them.

/// One cell, escaped.
pub fn cell(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// One record: escaped cells joined by commas, ended by CRLF as RFC 4180 says.
pub fn record<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells
        .iter()
        .map(|c| cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A minimal RFC 4180 reader, to check that every record reads back as its cells.
    fn parse(line: &str) -> Vec<String> {
        let line = line.strip_suffix("\r\n").expect("CRLF");
        let mut cells = vec![String::new()];
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (false, ',') => cells.push(String::new()),
                (false, '"') => quoted = true,
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    cells.last_mut().unwrap().push('"');
                }
                (true, '"') => quoted = false,
                (_, c) => cells.last_mut().unwrap().push(c),
            }
        }
        cells
    }

    #[test]
    fn formulas_are_defused_and_separators_quoted() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-1+2"), "'-1+2");
        assert_eq!(cell("Sales, EMEA"), "\"Sales, EMEA\"");
        assert_eq!(cell("plain"), "plain");
    }

    proptest! {
        /// Every record reads back as its cells (with the formula prefix on risky ones), and
        /// no cell starts with a formula character once read.
        #[test]
        fn records_round_trip(cells in proptest::collection::vec("[=+@a-z ,\"\n\r-]{0,12}", 1..6)) {
            let back = parse(&record(&cells));
            prop_assert_eq!(back.len(), cells.len());
            for (read, written) in back.iter().zip(&cells) {
                let risky = written.starts_with(['=', '+', '-', '@', '\t', '\r']);
                let expected = if risky { format!("'{written}") } else { written.clone() };
                prop_assert_eq!(read, &expected);
                prop_assert!(!read.starts_with(['=', '+', '-', '@']));
            }
        }
    }
}
