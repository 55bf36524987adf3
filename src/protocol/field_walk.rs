//! Checks an encoded field table or array without recursion and without decoding it.
//!
//! RabbitMQ accepts tables and arrays nested to any depth (a header nested 10,000 tables or
//! 20,000 arrays deep is delivered intact), so validation cannot recurse: it walks the
//! bytes once, keeping the end offset of every open table or array on an explicit stack
//! (inline for the usual shallow nesting, on the heap beyond; each level costs at least
//! five input bytes, so the stack never outgrows the input).

use super::error::DecodeError;

/// The two kinds of container: table entries have a key before their value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    /// A field table (`F`): key, type code, value.
    Table,
    /// A field array (`A`): type code, value.
    Array,
}

impl Container {
    /// What a truncated length prefix or body of this container is reported as.
    pub(crate) fn what(self) -> &'static str {
        match self {
            Container::Table => "field table",
            Container::Array => "field array",
        }
    }
}

/// A container being walked: where its body ends.
#[derive(Debug, Clone, Copy)]
struct Open {
    end: usize,
    container: Container,
}

/// Open containers below the current one. Most headers nest a few levels (`x-death` is
/// three), which stay inline; deeper ones spill to a vector.
#[derive(Debug)]
struct Stack {
    inline: [Open; INLINE],
    len: usize,
    spill: Vec<Open>,
}

const INLINE: usize = 16;

impl Stack {
    fn new() -> Self {
        Stack {
            inline: [Open {
                end: 0,
                container: Container::Table,
            }; INLINE],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, open: Open) {
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = open;
            self.len += 1;
        } else {
            self.spill.push(open);
        }
    }

    fn pop(&mut self) -> Option<Open> {
        if let Some(open) = self.spill.pop() {
            return Some(open);
        }
        self.len = self.len.checked_sub(1)?;
        self.inline.get(self.len).copied()
    }
}

fn truncated(what: &'static str) -> DecodeError {
    DecodeError::Truncated {
        class_id: 0,
        method_id: 0,
        what,
    }
}

/// The end of the body whose 4-byte length prefix starts at `pos`, if prefix and body fit
/// before `limit`.
fn body_end(
    input: &[u8],
    pos: usize,
    limit: usize,
    what: &'static str,
) -> Result<usize, DecodeError> {
    let prefix_end = pos.checked_add(4).filter(|&e| e <= limit);
    let prefix = prefix_end.and_then(|e| input.get(pos..e));
    let Some(&[a, b, c, d]) = prefix else {
        return Err(truncated(what));
    };
    usize::try_from(u32::from_be_bytes([a, b, c, d]))
        .ok()
        .and_then(|len| (pos + 4).checked_add(len))
        .filter(|&end| end <= limit)
        .ok_or_else(|| truncated(what))
}

/// Size of a value of fixed width after its type code; `None` for the variable ones.
fn fixed_width(code: u8) -> Option<usize> {
    Some(match code {
        b't' | b'b' | b'B' => 1,
        b's' | b'u' => 2,
        b'I' | b'i' | b'f' => 4,
        b'l' | b'd' | b'T' => 8,
        b'D' => 5,
        b'V' => 0,
        _ => return None,
    })
}

/// Checks the table or array whose 4-byte length prefix starts `input` (RabbitMQ's type
/// codes, every nested level) and returns its encoded length, prefix included. Errors are
/// those of the recursive decoder, with class/method id 0.
pub(crate) fn encoded_len(input: &[u8], outer: Container) -> Result<usize, DecodeError> {
    let mut cur = Open {
        end: body_end(input, 0, input.len(), outer.what())?,
        container: outer,
    };
    let mut stack = Stack::new();
    let mut pos = 4;
    loop {
        if pos >= cur.end {
            match stack.pop() {
                Some(parent) => {
                    cur = parent;
                    continue;
                }
                None => return Ok(pos),
            }
        }
        if cur.container == Container::Table {
            let key_len = input.get(pos).copied().unwrap_or(u8::MAX);
            pos += 1 + usize::from(key_len);
            if pos > cur.end {
                return Err(truncated("field table key"));
            }
        }
        let Some(&code) = input.get(pos).filter(|_| pos < cur.end) else {
            return Err(truncated("field value"));
        };
        pos += 1;
        if let Some(width) = fixed_width(code) {
            pos += width;
            if pos > cur.end {
                return Err(truncated("field value"));
            }
            continue;
        }
        let nested = match code {
            b'S' | b'x' => {
                pos = body_end(input, pos, cur.end, "field value")?;
                continue;
            }
            b'F' => Container::Table,
            b'A' => Container::Array,
            type_code => {
                return Err(DecodeError::BadFieldType {
                    class_id: 0,
                    method_id: 0,
                    type_code,
                });
            }
        };
        let end = body_end(input, pos, cur.end, nested.what())?;
        stack.push(cur);
        cur = Open {
            end,
            container: nested,
        };
        pos += 4;
    }
}
