//! A stream's own `retry:`: a base, plus a random part drawn per stream,
//! so that clients cut off together (a restart, a deploy) do not all come
//! back at the same moment. Set on a stream by
//! [`SseConfig::retry`](crate::SseConfig::retry) and sent when a shutdown
//! ends it by [`Shutdown::retry`](crate::Shutdown::retry).
//!
//! `EventSource` waits the last `retry` it received before it reconnects,
//! so one value sent to every stream brings them back within a few
//! milliseconds of each other, however long it is. A value drawn per
//! stream from `base ..= base + spread` spreads them evenly over the
//! window instead (measured in `tests/reconnect_jitter.rs`).
//!
//! A value is at most [`LONGEST_RETRY`] (2^31 - 1 ms, about 24.8 days):
//! JavaScript timers fire at once for more, so a client on one (undici's
//! `EventSource`, a `fetch`-based client) given a longer `retry` comes back
//! at once instead of late.

use std::time::Duration;

use crate::encode;

/// The longest `retry:` sent, in milliseconds: what a JavaScript timer can
/// wait (`setTimeout` takes a signed 32-bit delay and fires after 1 ms for
/// more; undici's `EventSource` waits `retry` with it).
pub(crate) const LONGEST_RETRY: u64 = 2_147_483_647;

/// A `retry:` of `base` plus a random part of at most `spread`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Retry {
    pub(crate) base: Duration,
    pub(crate) spread: Duration,
}

impl Retry {
    /// A value for one stream, in whole milliseconds: `base` plus a part
    /// drawn uniformly from `0 ..= spread`, at most [`LONGEST_RETRY`] (a
    /// window that reaches past it is cut there).
    pub(crate) fn draw(self) -> u64 {
        let base = millis(self.base).min(LONGEST_RETRY);
        let spread = millis(self.spread).min(LONGEST_RETRY - base);
        if spread == 0 {
            return base;
        }
        // The operating system's random source, one read per stream (a
        // stream costs far more). Should it ever fail, the stream sends
        // the base alone. The modulo's bias is below 2^-32 for any spread
        // (at most 2^31 ms).
        let random = getrandom::u64().unwrap_or(0);
        base + random % (spread + 1)
    }

    /// The frame that sets a stream's reconnection time: a block of one
    /// `retry:` field, which sets it without dispatching an event.
    pub(crate) fn frame(self) -> Vec<u8> {
        let mut frame = Vec::with_capacity(32);
        encode::put_retry(&mut frame, self.draw());
        frame.push(b'\n');
        frame
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Duration::MAX` (or any base and spread past 24.8 days) must not
    /// reach the wire as a number a JavaScript timer cannot wait: undici's
    /// `EventSource` given `retry: 18446744073709551615` reconnects at once,
    /// 360 times a second, where the server meant "not soon".
    #[test]
    fn a_retry_past_what_a_timer_can_wait_is_the_longest_one_can() {
        let huge = Retry {
            base: Duration::MAX,
            spread: Duration::MAX,
        };
        assert_eq!(huge.draw(), 2_147_483_647);
        assert_eq!(huge.frame(), b"retry: 2147483647\n\n");
        let near = Retry {
            base: Duration::from_millis(2_147_480_000),
            spread: Duration::from_secs(3600),
        };
        assert!((0..1000).all(|_| (2_147_480_000..=2_147_483_647).contains(&near.draw())));
        let jitter_only = Retry {
            base: Duration::ZERO,
            spread: Duration::MAX,
        };
        assert!((0..1000).all(|_| jitter_only.draw() <= 2_147_483_647));
    }

    #[test]
    fn a_drawn_retry_stays_in_its_window_and_varies() {
        let retry = Retry {
            base: Duration::from_secs(3),
            spread: Duration::from_secs(2),
        };
        let drawn: Vec<u64> = (0..1000).map(|_| retry.draw()).collect();
        assert!(drawn.iter().all(|ms| (3000..=5000).contains(ms)));
        let distinct: std::collections::HashSet<_> = drawn.iter().collect();
        assert!(distinct.len() > 500, "{} distinct values", distinct.len());
        assert_eq!(
            Retry {
                base: Duration::from_millis(250),
                spread: Duration::ZERO
            }
            .frame(),
            b"retry: 250\n\n"
        );
    }
}
