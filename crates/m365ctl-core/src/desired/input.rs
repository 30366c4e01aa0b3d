//! Config text: bytes -> UTF-8 without a byte-order mark, or where the first invalid byte is.
//! The shell (`m365ctl::input`) reads the files and hands their bytes here.

use std::path::Path;

/// The UTF-8 byte-order mark some Windows editors write.
const BOM: &str = "\u{feff}";

/// Why an input could not be read, with a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// What is wrong, naming the file.
    pub message: String,
    /// How to fix it.
    pub hint: &'static str,
}

/// UTF-8 text without a byte-order mark, or the offset of the first invalid byte.
pub fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, InputError> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(match text.strip_prefix(BOM) {
            Some(rest) => rest.to_string(),
            None => text,
        }),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let before = &e.as_bytes()[..offset];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            Err(InputError {
                message: format!(
                    "{}:{line}:{column}: not UTF-8: invalid byte 0x{:02x} at byte offset {offset}",
                    path.display(),
                    e.as_bytes()[offset]
                ),
                hint: "save the file as UTF-8",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_is_dropped_and_invalid_utf8_is_located() {
        let p = Path::new("c.toml");
        assert_eq!(
            decode(p, b"\xef\xbb\xbfa = 1\n".to_vec()).unwrap(),
            "a = 1\n"
        );
        let e = decode(p, b"a = 1\nb = \"\xff\"\n".to_vec()).unwrap_err();
        assert!(e.message.contains("c.toml:2:6"), "{}", e.message);
        assert!(e.message.contains("byte offset 11"), "{}", e.message);
    }
}
