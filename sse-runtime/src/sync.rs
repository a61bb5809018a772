//! The one lock helper the crate uses.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering from poisoning: every lock in this crate guards
/// data that stays consistent at each point a panic could leave it (no
/// section holding one calls user code), so a poison flag says nothing
/// about the data, and spreading it would take down unrelated streams.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
