//! The line's format: env_logger's `[TIME LEVEL TARGET] message`, its time formatted once a
//! second, its text escaped where it holds a terminal's control characters.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io;
use std::time::SystemTime;

use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;

/// env_logger's default line: `[TIME LEVEL TARGET] message`, the time in whole seconds (UTC).
pub struct EnvLoggerFormat;

impl<S, N> FormatEvent<S, N> for EnvLoggerFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        // A `log` record's own target and level, not the bridge's.
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let level = metadata.level().as_str();
        LINE_TIME.with(|time| write!(writer, "[{} {level:<5} {}] ", time.now(), metadata.target()))?;
        let mut fields = Fields { writer: writer.by_ref(), result: Ok(()), first: true };
        event.record(&mut fields);
        fields.result?;
        writeln!(writer)
    }
}

thread_local! {
    /// The line's time, formatted once a second per thread rather than once a line.
    static LINE_TIME: LineTime = const { LineTime { second: Cell::new(u64::MAX), text: Cell::new([0; 20]) } };
}

/// `2026-12-02T08:00:00Z` for the second it was last asked in.
struct LineTime {
    second: Cell<u64>,
    text: Cell<[u8; 20]>,
}

impl LineTime {
    fn now(&self) -> LineTimeText {
        let second = coarse_second();
        if second != self.second.get() {
            let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(second);
            let mut text = [0u8; 20];
            let mut cursor = io::Cursor::new(&mut text[..]);
            // RFC 3339 in whole seconds is always 20 bytes.
            let _ = io::Write::write_fmt(&mut cursor, format_args!("{}", humantime::format_rfc3339_seconds(now)));
            self.text.set(text);
            self.second.set(second);
        }
        LineTimeText(self.text.get())
    }
}

/// The wall clock's second, from the kernel's coarse clock (updated every tick, a few times
/// cheaper to read than the precise one, which the line does not need).
fn coarse_second() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec for the call to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) } == 0 {
        return u64::try_from(now.tv_sec).unwrap_or(0);
    }
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

struct LineTimeText([u8; 20]);

impl std::fmt::Display for LineTimeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::str::from_utf8(&self.0).unwrap_or("?"))
    }
}

/// The event's fields as `tracing-subscriber`'s default writes them (the message, then
/// `name=value`, the bridge's `log.*` fields left out), every one through [`Escaped`].
struct Fields<'w> {
    writer: Writer<'w>,
    result: std::fmt::Result,
    first: bool,
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let pad = if std::mem::take(&mut self.first) { "" } else { " " };
        // Formatted whole first, then scanned once: a line has a dozen pieces, and a scan of
        // each as it is written cost more than the copy.
        let mut write = |text: &mut String| {
            text.clear();
            let _ = match name {
                "message" => write!(text, "{pad}{value:?}"),
                _ => write!(text, "{pad}{name}={value:?}"),
            };
            Escaped(&mut self.writer).write_str(text)
        };
        // A value's `Debug` that logs, or a thread that is ending, finds the scratch taken or
        // gone: a string of its own then.
        self.result = SCRATCH
            .try_with(|scratch| scratch.try_borrow_mut().map(|mut text| write(&mut text)).ok())
            .ok()
            .flatten()
            .unwrap_or_else(|| write(&mut String::new()));
    }
}

thread_local! {
    /// A field's text before it is escaped into the line.
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Writes text with the terminal's control characters (ESC, BEL, BS, FF, DEL and the C1 range)
/// shown as escapes, as `tracing-subscriber` does for a message, so that no logged text (a
/// client's symbol, say) can drive the terminal that shows the log. Its own, not the crate's:
/// that one writes a line a character at a time, a noticeable part of the per-call line's cost;
/// here text with nothing to escape, nearly every line, is written whole.
struct Escaped<'a, 'w>(&'a mut Writer<'w>);

impl std::fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        // A C1 character's UTF-8 form starts with 0xC2.
        // Without an early exit, so that the compiler checks many bytes at a time.
        let any = s.bytes().fold(false, |any, b| any | matches!(b, 0x07 | 0x08 | 0x0c | 0x1b | 0x7f | 0xc2));
        if !any {
            return self.0.write_str(s);
        }
        for ch in s.chars() {
            match ch {
                '\x07' | '\x08' | '\x0c' | '\x1b' | '\x7f' => write!(self.0, "\\x{:02x}", ch as u32)?,
                '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", ch as u32)?,
                _ => self.0.write_char(ch)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        let mut writer = Writer::new(&mut out);
        std::fmt::Write::write_str(&mut Escaped(&mut writer), text).unwrap();
        out
    }

    #[test]
    fn control_characters_are_shown_escaped_and_other_text_is_written_as_it_is() {
        assert_eq!(escaped("GetMACD from ipv4:127.0.0.1:5: OK"), "GetMACD from ipv4:127.0.0.1:5: OK");
        assert_eq!(escaped("a\x1b[31mred\x07"), "a\\x1b[31mred\\x07");
        assert_eq!(escaped("\u{9b}2J \x7f"), "\\u{9b}2J \\x7f");
        assert_eq!(escaped("平安银行 ¢"), "平安银行 ¢");
    }

    #[test]
    fn the_line_time_is_rfc3339_in_whole_seconds() {
        let text = LINE_TIME.with(|time| time.now().to_string());
        assert_eq!(text.len(), 20, "{text}");
        let at = humantime::parse_rfc3339(&text).expect("RFC 3339");
        let off = SystemTime::now().duration_since(at).expect("not in the future");
        assert!(off.as_secs() < 2, "{text} is {off:?} from now");
    }
}
