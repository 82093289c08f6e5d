//! The byte stream the exporter writes to, blocking or not.
//!
//! The exporter talks to one [`Transport`]: connect (a UART is always connected), write
//! some bytes or say it would block, close. Three adapters cover the common writers:
//!
//! | writer | adapter | a write |
//! | --- | --- | --- |
//! | [`embedded_io::Write`] (blocking: a UART driver, `&mut [u8]`, `heapless::Vec`, a blocking socket) | [`Blocking`] | blocks until at least one byte is taken |
//! | [`embedded_io::Write`] + [`embedded_io::WriteReady`] (a driver with a TX FIFO or buffer) | [`Ready`] | only when `write_ready()` says it will not block, else [`nb::Error::WouldBlock`] |
//! | a byte sink `FnMut(u8) -> nb::Result<(), E>` (an `embedded-hal-nb` serial port's `write`, a FIFO register) | [`NbBytes`] | as many bytes as the sink takes before `WouldBlock` |
//!
//! A TCP socket of an embedded network stack implements [`Transport`] itself, with a
//! real [`connect`](Transport::connect) (non-blocking: `WouldBlock` until the handshake
//! is done).

use core::fmt::Debug;

/// A byte stream to the destination.
pub trait Transport {
    /// Why an operation failed. The exporter drops the connection on any error and
    /// connects again later (with backoff), resending from the first record the peer
    /// has not had in full.
    type Error: Debug;

    /// Starts or continues connecting to item `destination` of the destination list.
    /// `Ok` once connected, [`nb::Error::WouldBlock`] while in progress (the exporter
    /// calls again on its next poll, until its timeout). Always connected by default.
    ///
    /// # Errors
    ///
    /// When the connection cannot be made; the exporter tries the next destination.
    fn connect(&mut self, destination: usize) -> nb::Result<(), Self::Error> {
        let _ = destination;
        Ok(())
    }

    /// Writes some of `bytes` (at least one, `bytes` is never empty) and returns how
    /// many, or [`nb::Error::WouldBlock`] if none can be written now.
    ///
    /// # Errors
    ///
    /// When the stream is broken; the exporter closes it.
    fn write(&mut self, bytes: &[u8]) -> nb::Result<usize, Self::Error>;

    /// Closes the connection (after an error, or when the exporter gives up on it).
    fn close(&mut self) {}
}

impl<T: Transport + ?Sized> Transport for &mut T {
    type Error = T::Error;

    fn connect(&mut self, destination: usize) -> nb::Result<(), Self::Error> {
        (**self).connect(destination)
    }

    fn write(&mut self, bytes: &[u8]) -> nb::Result<usize, Self::Error> {
        (**self).write(bytes)
    }

    fn close(&mut self) {
        (**self).close();
    }
}

/// A blocking [`embedded_io::Write`] as a transport: each write blocks until the writer
/// takes at least one byte. An `Ok(0)` (which the trait forbids for a non-empty buffer)
/// is taken as "would block".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blocking<W>(pub W);

impl<W: embedded_io::Write> Transport for Blocking<W> {
    type Error = W::Error;

    fn write(&mut self, bytes: &[u8]) -> nb::Result<usize, Self::Error> {
        match self.0.write(bytes) {
            Ok(0) => Err(nb::Error::WouldBlock),
            Ok(n) => Ok(n),
            Err(e) => Err(nb::Error::Other(e)),
        }
    }

    fn close(&mut self) {
        let _ = self.0.flush();
    }
}

/// A non-blocking use of an [`embedded_io::Write`] that also implements
/// [`embedded_io::WriteReady`]: it writes only when `write_ready()` promises the write
/// will not block, and says [`nb::Error::WouldBlock`] otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready<W>(pub W);

impl<W: embedded_io::Write + embedded_io::WriteReady> Transport for Ready<W> {
    type Error = W::Error;

    fn write(&mut self, bytes: &[u8]) -> nb::Result<usize, Self::Error> {
        match self.0.write_ready() {
            Ok(true) => match self.0.write(bytes) {
                Ok(0) => Err(nb::Error::WouldBlock),
                Ok(n) => Ok(n),
                Err(e) => Err(nb::Error::Other(e)),
            },
            Ok(false) => Err(nb::Error::WouldBlock),
            Err(e) => Err(nb::Error::Other(e)),
        }
    }
}

/// A non-blocking byte sink as a transport: `F` is called once per byte (an
/// `embedded-hal-nb` serial port's `write`, a closure over a FIFO register) until it
/// says [`nb::Error::WouldBlock`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NbBytes<F>(pub F);

impl<F, E> Transport for NbBytes<F>
where
    F: FnMut(u8) -> nb::Result<(), E>,
    E: Debug,
{
    type Error = E;

    fn write(&mut self, bytes: &[u8]) -> nb::Result<usize, Self::Error> {
        let mut n = 0;
        for &b in bytes {
            match (self.0)(b) {
                Ok(()) => n += 1,
                // Report what went out; a lasting error comes back on the next call.
                Err(_) if n > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_writes_into_a_slice_until_full() {
        let mut storage = [0u8; 5];
        let mut t = Blocking(&mut storage[..]);
        assert_eq!(t.write(b"abc"), Ok(3));
        assert_eq!(t.write(b"def"), Ok(2));
        assert!(matches!(t.write(b"g"), Err(nb::Error::Other(_))));
        assert_eq!(&storage, b"abcde");
    }

    /// A writer with a TX FIFO of `room` bytes.
    struct Fifo {
        room: usize,
        out: heapless::Vec<u8, 16>,
    }

    impl embedded_io::ErrorType for Fifo {
        type Error = embedded_io::ErrorKind;
    }

    impl embedded_io::Write for Fifo {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            let n = buf.len().min(self.room);
            self.out
                .extend_from_slice(&buf[..n])
                .map_err(|_| embedded_io::ErrorKind::OutOfMemory)?;
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    impl embedded_io::WriteReady for Fifo {
        fn write_ready(&mut self) -> Result<bool, Self::Error> {
            Ok(self.room > 0)
        }
    }

    #[test]
    fn ready_would_block_when_the_fifo_is_full() {
        let mut t = Ready(Fifo {
            room: 4,
            out: heapless::Vec::new(),
        });
        assert_eq!(t.write(b"abcdef"), Ok(4));
        assert_eq!(t.write(b"ef"), Err(nb::Error::WouldBlock));
        t.0.room = 8;
        assert_eq!(t.write(b"ef"), Ok(2));
        assert_eq!(&t.0.out[..], b"abcdef");
    }

    #[test]
    fn nb_bytes_stops_at_would_block() {
        let mut sent = heapless::Vec::<u8, 8>::new();
        let mut room = 3;
        {
            let mut t = NbBytes(|b| {
                if room == 0 {
                    return Err(nb::Error::<()>::WouldBlock);
                }
                room -= 1;
                sent.push(b).map_err(|_| nb::Error::Other(()))
            });
            assert_eq!(t.write(b"hello"), Ok(3));
            assert_eq!(t.write(b"lo"), Err(nb::Error::WouldBlock));
        }
        assert_eq!(&sent[..], b"hel");
    }

    #[test]
    fn nb_bytes_reports_an_error_only_when_nothing_went_out() {
        let mut calls = 0;
        let mut t = NbBytes(|_| {
            calls += 1;
            if calls >= 2 {
                Err(nb::Error::Other("broken"))
            } else {
                Ok(())
            }
        });
        assert_eq!(t.write(b"ab"), Ok(1));
        assert_eq!(t.write(b"b"), Err(nb::Error::Other("broken")));
    }
}
