/// What a ``SocketChannel`` asks of the connection that owns it. Every call is made on the
/// channel's loop.
///
/// The server side hands frames to tickets and answers in order; the client side hands every
/// frame to a callback. The socket mechanics are the channel's and are shared by both.
protocol SocketChannelDelegate: AnyObject {
    /// Whether the channel may hand over another frame now (for example fewer requests in flight
    /// than the limit). While false the channel stops reading.
    var channelMayDeliverFrame: Bool { get }

    /// The TLS handshake completed (TLS channels only); frames follow.
    func channelDidCompleteHandshake(_ channel: SocketChannel)

    /// A read event begins: frames may follow.
    func channelWillDeliverFrames(_ channel: SocketChannel)

    /// A complete frame's payload, valid only during the call.
    func channel(_ channel: SocketChannel, didReceiveFrame frame: UnsafeRawBufferPointer)

    /// The read event's frames are delivered; the channel writes next, so this is the moment to
    /// move ready output into it.
    func channelDidDeliverFrames(_ channel: SocketChannel)

    /// The peer closed its side; the channel has stopped reading.
    func channelDidReachEndOfInput(_ channel: SocketChannel)

    /// The descriptor is closed. Called exactly once, last; `error` is nil for an orderly close.
    func channelDidClose(_ channel: SocketChannel, error: NetError?)
}

extension SocketChannelDelegate {
    /// Plaintext connections have no handshake; TLS users override it.
    func channelDidCompleteHandshake(_ channel: SocketChannel) {}
}
