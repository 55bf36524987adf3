//! Scenario C (`load-levelling`), client-independent: the burst size, the routing of each
//! message, its body, and the in-order check of a drained message.

/// The burst size: `INTEROP_BURST`, 100000 by default (must be even: half per queue).
pub fn burst() -> u64 {
    let n: u64 = crate::env_or("INTEROP_BURST", 100_000);
    assert!(n.is_multiple_of(2), "INTEROP_BURST must be even");
    n
}

/// The routing key of message `seq`: alternately `q0` and `q1`.
pub fn key(seq: u64) -> &'static str {
    if seq.is_multiple_of(2) { "q0" } else { "q1" }
}

/// The body of message `seq`: its sequence number (8 bytes, big-endian), then `seq % 32`
/// bytes of padding.
pub fn body(seq: u64) -> Vec<u8> {
    let mut body = seq.to_be_bytes().to_vec();
    body.extend(b"levelled".iter().cycle().take((seq % 32) as usize));
    body
}

/// Checks the `got`-th message drained from `queue`, which holds the sequence numbers
/// `first, first + 2, ...`: it is the next one in order, with exactly the published body.
/// Returns its sequence number.
pub fn check(queue: &str, first: u64, got: u64, body: &[u8]) -> u64 {
    assert!(body.len() >= 8, "{queue}: body of {} bytes", body.len());
    let seq = u64::from_be_bytes(body[..8].try_into().expect("8-byte sequence number"));
    assert_eq!(
        seq,
        first + 2 * got,
        "{queue}: out of order after {got} messages"
    );
    assert_eq!(
        body,
        self::body(seq).as_slice(),
        "{queue}: body of message {seq}"
    );
    seq
}
