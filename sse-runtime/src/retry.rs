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

use std::time::Duration;

use crate::encode;

/// A `retry:` of `base` plus a random part of at most `spread`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Retry {
    pub(crate) base: Duration,
    pub(crate) spread: Duration,
}

impl Retry {
    /// A value for one stream, in whole milliseconds: `base` plus a part
    /// drawn uniformly from `0 ..= spread`.
    pub(crate) fn draw(self) -> u64 {
        let base = millis(self.base);
        let spread = millis(self.spread);
        if spread == 0 {
            return base;
        }
        // The operating system's random source, one read per stream (a
        // stream costs far more). Should it ever fail, the stream sends
        // the base alone. The modulo's bias is below 2^-40 for any spread
        // under a day.
        let random = getrandom::u64().unwrap_or(0);
        base.saturating_add(random % spread.saturating_add(1))
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
