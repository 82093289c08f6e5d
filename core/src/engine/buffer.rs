//! The engine's bounded send buffer.
//!
//! One contiguous byte array, of a size fixed when the engine is created, holding the
//! formatted records that are not yet known to be delivered:
//!
//! ```text
//! 0      start          acked      written           filled        capacity
//! | free |  sent, acknowledged  | sent, in flight | not yet sent |   free   |
//! ```
//!
//! Bytes move right; when the free tail is too small the live part is moved back to the
//! front (`compact`). Nothing ever grows: a record that does not fit is not written.

/// Offsets into the storage; `start ≤ acked ≤ written ≤ filled ≤ capacity`.
#[derive(Debug)]
pub(crate) struct SendBuffer<B> {
    storage: B,
    pub(crate) start: usize,
    pub(crate) acked: usize,
    pub(crate) written: usize,
    pub(crate) filled: usize,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> SendBuffer<B> {
    pub(crate) fn new(storage: B) -> Self {
        Self {
            storage,
            start: 0,
            acked: 0,
            written: 0,
            filled: 0,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.storage.as_ref().len()
    }

    /// Bytes held (sent or not) that are not yet known delivered.
    pub(crate) fn len(&self) -> usize {
        self.filled - self.start
    }

    pub(crate) fn bytes(&self, from: usize, to: usize) -> &[u8] {
        self.storage.as_ref().get(from..to).unwrap_or(&[])
    }

    /// Moves the live bytes to the front; returns how far they moved.
    pub(crate) fn compact(&mut self) -> usize {
        let shift = self.start;
        if shift == 0 {
            return 0;
        }
        let (start, filled) = (self.start, self.filled);
        self.storage.as_mut().copy_within(start..filled, 0);
        self.start = 0;
        self.acked -= shift;
        self.written -= shift;
        self.filled -= shift;
        shift
    }

    /// The free tail after `filled`, compacting first if that makes it larger.
    pub(crate) fn tail(&mut self) -> &mut [u8] {
        let filled = self.filled;
        self.storage.as_mut().get_mut(filled..).unwrap_or(&mut [])
    }

    /// The whole storage, for writing headers in front of a body.
    pub(crate) fn storage_mut(&mut self) -> &mut [u8] {
        self.storage.as_mut()
    }

    pub(crate) fn commit(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.capacity());
    }

    /// Removes `[from, to)` (unsent bytes) and closes the gap.
    pub(crate) fn cut(&mut self, from: usize, to: usize) {
        let filled = self.filled;
        if from >= to || to > filled || from < self.written {
            return;
        }
        self.storage.as_mut().copy_within(to..filled, from);
        self.filled -= to - from;
    }
}

/// The number of newline bytes in `bytes`: the number of complete lines.
pub(crate) fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The index just after the last newline in `bytes`, or 0 if there is none.
pub(crate) fn after_last_newline(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_moves_live_bytes() {
        let mut b = SendBuffer::new([0u8; 8]);
        b.tail()[..6].copy_from_slice(b"ab\ncd\n");
        b.commit(6);
        b.start = 3;
        b.acked = 3;
        b.written = 4;
        assert_eq!(b.compact(), 3);
        assert_eq!((b.start, b.acked, b.written, b.filled), (0, 0, 1, 3));
        assert_eq!(b.bytes(0, 3), b"cd\n");
        assert_eq!(b.tail().len(), 5);
    }

    #[test]
    fn lines() {
        assert_eq!(count_lines(b"a\nb\nc"), 2);
        assert_eq!(after_last_newline(b"a\nb\nc"), 4);
        assert_eq!(after_last_newline(b"abc"), 0);
    }
}
