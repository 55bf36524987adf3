//! Erlang-style printing for reply texts. Several of RabbitMQ's error texts embed Erlang
//! terms printed with `~p` or `~w` (binaries, `{tag,Value}` tuples, wrapped at 80 columns);
//! clients and tests compare those texts, so Warren prints the same way.

/// Erlang's `~p` line length.
const LINE_LENGTH: usize = 80;

/// How many payload octets RabbitMQ shows in a frame error.
const SHOWN_OCTETS: usize = 16;

/// An Erlang term as it appears in an error text: an atom, or a `{tag,Value}` tuple whose
/// value is already printed.
#[derive(Debug, Clone, Copy)]
pub enum Term<'a> {
    /// A bare atom.
    Atom(&'a str),
    /// `{tag,value}`.
    Pair(&'a str, &'a str),
}

/// `~p` of `term` starting at `column`: on one line when it fits (ends at most two columns
/// before the 80-column limit), else a tuple breaks after its tag and the value goes on the
/// next line, aligned one column right of the opening brace. Observed on RabbitMQ 3.10.8: a
/// 78-column line stays whole, a 79-column one breaks.
pub fn format_term(term: Term<'_>, column: usize) -> String {
    match term {
        Term::Atom(atom) => atom.to_string(),
        Term::Pair(tag, value) => {
            let flat_len = 1 + tag.len() + 1 + value.len() + 1;
            if column + flat_len + 2 <= LINE_LENGTH {
                format!("{{{tag},{value}}}")
            } else {
                format!("{{{tag},\n{}{value}}}", " ".repeat(column + 1))
            }
        }
    }
}

/// `~w` of a binary: every byte as a number, `<<0,50,97>>`.
pub fn binary_w(bytes: &[u8]) -> String {
    let numbers: Vec<String> = bytes.iter().map(u8::to_string).collect();
    format!("<<{}>>", numbers.join(","))
}

/// `~p` of a binary: as a string, `<<"abc">>`, when every byte is printable Latin-1, else
/// like `~w`.
pub fn binary_p(bytes: &[u8]) -> String {
    let printable = |b: u8| matches!(b, 8..=13 | 27 | 32..=126 | 160..=255);
    if bytes.is_empty() || !bytes.iter().all(|&b| printable(b)) {
        return binary_w(bytes);
    }
    let mut out = String::from("<<\"");
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            11 => out.push_str("\\v"),
            8 => out.push_str("\\b"),
            12 => out.push_str("\\f"),
            27 => out.push_str("\\e"),
            other => out.push(char::from(other)),
        }
    }
    out.push_str("\">>");
    out
}

/// RabbitMQ's description of a frame it cannot accept: `type T, all octets = <<...>>` (or
/// `first 16 octets` when the payload is longer).
pub fn frame_octets(frame_type: u8, payload: &[u8]) -> String {
    let (which, shown) = match payload.get(..SHOWN_OCTETS) {
        Some(first) if payload.len() > SHOWN_OCTETS => ("first 16", first),
        _ => ("all", payload),
    };
    format!("type {frame_type}, {which} octets = {}", binary_p(shown))
}

/// [`frame_octets`] followed by `: reason`, the reason printed as `~p` at its column.
pub fn frame_error(frame_type: u8, payload: &[u8], reason: Term<'_>) -> String {
    let head = format!("{}: ", frame_octets(frame_type, payload));
    let column = head.chars().count();
    head + &format_term(reason, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_print_as_strings_only_when_printable() {
        assert_eq!(binary_p(b""), "<<>>");
        assert_eq!(binary_p(b"abc"), "<<\"abc\">>");
        assert_eq!(binary_p(b"a\"b\n"), "<<\"a\\\"b\\n\">>");
        assert_eq!(binary_p(&[0, 1, 255]), "<<0,1,255>>");
        assert_eq!(binary_w(b"ab"), "<<97,98>>");
    }

    #[test]
    fn frame_errors_read_as_rabbitmqs() {
        assert_eq!(
            frame_error(7, b"abc", Term::Atom("unknown_frame")),
            "type 7, all octets = <<\"abc\">>: unknown_frame"
        );
        assert_eq!(
            frame_error(7, b"abcdefghijklmnopqrst", Term::Atom("unknown_frame")),
            "type 7, first 16 octets = <<\"abcdefghijklmnop\">>: unknown_frame"
        );
        assert_eq!(
            frame_error(8, b"", Term::Pair("invalid_frame_end_marker", "205")),
            "type 8, all octets = <<>>: {invalid_frame_end_marker,205}"
        );
        // Long enough to wrap, as observed on RabbitMQ 3.10.8.
        assert_eq!(
            frame_error(
                1,
                &[0, 50, 0, 10, 0, 0, 0, 4, 0, 0, 0, 0],
                Term::Pair("invalid_frame_end_marker", "0")
            ),
            format!(
                "type 1, all octets = <<0,50,0,10,0,0,0,4,0,0,0,0>>: {{invalid_frame_end_marker,\n{}0}}",
                " ".repeat(53)
            )
        );
    }
}
