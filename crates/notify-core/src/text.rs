//! Shortening text to a channel's limit. An alert must not be lost for being long, so text over
//! a limit is cut at a character boundary and ends in `…` (contract §4).

/// How a channel measures a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// UTF-8 bytes (WeLink, WeCom).
    Bytes,
    /// Unicode scalar values (Xiaowei's `titleCn`).
    Chars,
}

const ELLIPSIS: char = '…';

/// `text` cut to at most `limit` (in `measure`), ending in `…` when cut. Returns the text and
/// whether it was cut.
pub fn fit(text: &str, limit: usize, measure: Measure) -> (String, bool) {
    let len = match measure {
        Measure::Bytes => text.len(),
        Measure::Chars => text.chars().count(),
    };
    if len <= limit {
        return (text.to_string(), false);
    }
    let ellipsis_len = match measure {
        Measure::Bytes => ELLIPSIS.len_utf8(),
        Measure::Chars => 1,
    };
    if limit < ellipsis_len {
        return (String::new(), true);
    }
    let budget = limit - ellipsis_len;
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = match measure {
            Measure::Bytes => c.len_utf8(),
            Measure::Chars => 1,
        };
        if used + w > budget {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push(ELLIPSIS);
    (out, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(fit("abc", 3, Measure::Bytes), ("abc".to_string(), false));
    }

    #[test]
    fn cut_lands_on_a_char_boundary_within_the_byte_limit() {
        // "磁盘" is 6 bytes; a 7-byte limit leaves 4 bytes for text: one 3-byte char fits.
        let (s, cut) = fit("磁盘满了", 7, Measure::Bytes);
        assert!(cut);
        assert_eq!(s, "磁…");
        assert!(s.len() <= 7);
    }

    #[test]
    fn char_measure_counts_characters() {
        let (s, cut) = fit("一二三四五", 3, Measure::Chars);
        assert_eq!((s.as_str(), cut), ("一二…", true));
    }
}
