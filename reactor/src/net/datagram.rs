//! What the UDP and Unix datagram sockets share: [`datagram_methods!`].

/// The methods of a datagram socket type, expanded inside its `impl`: the
/// type has a field `reg`, the `Registration` of a mio datagram socket
/// whose `recv_from`, `local_addr` and `peer_addr` give addresses of type
/// `$addr`. Receiving with the sender's address, sending to and receiving
/// from the connected peer (each as an `async fn`, which waits in a place
/// of its own, and as a `poll_` method, which waits in the direction's
/// one polled slot), and the two addresses.
macro_rules! datagram_methods {
    ($addr:ty) => {
        /// Receives one datagram: its length and the sender's address.
        pub async fn recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, $addr)> {
            self.reg
                .io($crate::io::Direction::Read, |s| s.recv_from(buf))
                .await
        }

        /// Polls receiving one datagram. Only the task that polled last is
        /// woken when a datagram arrives (as tokio's); tasks that share the
        /// socket use [`recv_from`](Self::recv_from), where each waits in
        /// its own place.
        pub fn poll_recv_from(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<(usize, $addr)>> {
            self.reg
                .poll_io(cx, $crate::io::Direction::Read, |s| s.recv_from(buf))
        }

        /// Sends one datagram to the connected peer.
        pub async fn send(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.reg
                .io($crate::io::Direction::Write, |s| s.send(buf))
                .await
        }

        /// Polls sending one datagram to the connected peer. Only the task
        /// that polled last is woken when the socket becomes writable;
        /// tasks that share the socket use [`send`](Self::send).
        pub fn poll_send(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.reg
                .poll_io(cx, $crate::io::Direction::Write, |s| s.send(buf))
        }

        /// Receives one datagram from the connected peer.
        pub async fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.reg
                .io($crate::io::Direction::Read, |s| s.recv(buf))
                .await
        }

        /// Polls receiving one datagram from the connected peer. Only the
        /// task that polled last is woken when one arrives; tasks that
        /// share the socket use [`recv`](Self::recv).
        pub fn poll_recv(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.reg
                .poll_io(cx, $crate::io::Direction::Read, |s| s.recv(buf))
        }

        /// The local address.
        pub fn local_addr(&self) -> std::io::Result<$addr> {
            self.reg.source().local_addr()
        }

        /// The connected peer's address.
        pub fn peer_addr(&self) -> std::io::Result<$addr> {
            self.reg.source().peer_addr()
        }
    };
}

pub(crate) use datagram_methods;
