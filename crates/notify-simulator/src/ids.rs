//! Identifiers in the shapes the documents show.

use rand::distributions::Alphanumeric;
use rand::Rng;

/// `b376d37b-8998-40ec-8dec-2539fc981945`: WeLink tokens and itemIds (000 lines 484, 836).
pub(crate) fn uuid() -> String {
    let v: u128 = rand::thread_rng().gen();
    let h = format!("{v:032x}");
    format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `n` characters of `[A-Za-z0-9]`.
pub(crate) fn alnum(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// `n` characters of URL-safe base64's alphabet, like the work-ID platform's msgId (002 line 13).
pub(crate) fn url_safe(n: usize) -> String {
    const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(SET[rng.gen_range(0..SET.len())]))
        .collect()
}

/// A 19-digit decimal id like the work-ID platform's `requestId` (002 line 13).
pub(crate) fn request_id() -> String {
    rand::thread_rng()
        .gen_range(1_000_000_000_000_000_000u64..9_000_000_000_000_000_000u64)
        .to_string()
}
