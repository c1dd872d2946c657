//! Text fitted to a width: a title shrunk, cut short with "…" or put on two lines, and a message
//! wrapped at its spaces. Measured with [`text::width`], so what fits here fits when drawn.

use super::text;

/// The title's words between its parts: `S&P 500 · daily · MACD(12,26,9) cn · …`.
pub(super) const TITLE_SEPARATOR: &str = " · ";

/// `text` broken at spaces into lines no wider than `width` (a word wider than that gets a line
/// of its own).
pub(super) fn wrap(text: &str, width: i32, size: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if text::width(&format!("{line} {word}"), size) <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// A title fitted to a width: its lines and the size to draw them at.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fitted {
    pub(super) lines: Vec<String>,
    pub(super) size: f64,
}

/// Fits `title` into `max_width` pixels, in this order: at `size`; shrunk as far as `min_size`;
/// at `min_size` with its first part (the instrument) cut short with "…"; on two lines split
/// between parts, each cut short with "…" if it still does not fit. Never wider than
/// `max_width`, so never cut at the picture's edges.
pub(super) fn fit_title(title: &str, max_width: i32, size: f64, min_size: f64) -> Fitted {
    let title: String = title.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let fits = |text: &str, size: f64| text::width(text, size) <= max_width;
    let one = |line: String, size: f64| Fitted { lines: vec![line], size };
    // The largest whole-pixel size between min_size and size at which `text` fits.
    let shrunk = |text: &str| -> f64 {
        let full = text::width(text, size);
        if full <= max_width {
            return size;
        }
        let mut s = (size * f64::from(max_width) / f64::from(full.max(1))).floor().clamp(min_size, size);
        while s > min_size && !fits(text, s) {
            s -= 1.0;
        }
        s
    };

    let s = shrunk(&title);
    if fits(&title, s) {
        return one(title, s);
    }
    let s = min_size;
    let Some((head, rest)) = title.split_once(TITLE_SEPARATOR) else {
        return one(ellipsize(&title, max_width, s, ""), s);
    };
    let rest = format!("{TITLE_SEPARATOR}{rest}");
    let short = ellipsize(head, max_width, s, &rest);
    // Keep the instrument recognisable: at least four of its characters before the "…", or else
    // two lines.
    if short.chars().count() > head.chars().count().min(4) && fits(&format!("{short}{rest}"), s) {
        return one(format!("{short}{rest}"), s);
    }
    let parts: Vec<&str> = title.split(TITLE_SEPARATOR).collect();
    let mut k = parts.len() - 1;
    while k > 1 && !fits(&parts[..k].join(TITLE_SEPARATOR), s) {
        k -= 1;
    }
    let (first, second) = (parts[..k].join(TITLE_SEPARATOR), parts[k..].join(TITLE_SEPARATOR));
    let s = shrunk(&first).min(shrunk(&second));
    Fitted { lines: vec![ellipsize(&first, max_width, s, ""), ellipsize(&second, max_width, s, "")], size: s }
}

/// The longest start of `text` that, ended with "…" and followed by `after`, fits in
/// `max_width`; `text` itself when it fits whole.
fn ellipsize(text: &str, max_width: i32, size: f64, after: &str) -> String {
    if text::width(&format!("{text}{after}"), size) <= max_width {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let candidate = |k: usize| -> String {
        let start: String = chars[..k].iter().collect();
        format!("{}…", start.trim_end())
    };
    // Binary search on how many characters to keep.
    let (mut lo, mut hi) = (0, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if text::width(&format!("{}{after}", candidate(mid)), size) <= max_width {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    candidate(lo)
}
