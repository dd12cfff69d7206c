/// What a ``Server`` does with the frames of each connection: the upper layer (request routing)
/// implements it. TernNet knows frames but not what they mean.
public protocol ServerConnectionHandler: Sendable {
    /// Called on the connection's serial queue for each complete frame, in arrival order.
    ///
    /// `frame` is the payload without its 4-byte size prefix (with a custom ``Framing``, the whole
    /// frame the decoder delimited) and is valid only during the call.
    /// The handler must eventually call exactly one of `connection.respond(ticket, ...)` or
    /// `connection.noResponse(ticket)` (e.g. acks=0 produce), from any thread, now or later.
    /// Responses are written in ticket order whatever order they complete in.
    func connection(_ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket)

    /// Called once when the connection stops reading to close (the peer closed its side, or a
    /// close began), on its queue; no frame follows. The connection closes only once every
    /// ticket it issued is redeemed, so a handler holding a ticket for a later event (a long
    /// poll) should redeem it now rather than keep the connection, and its descriptor, open.
    func connectionWillClose(_ connection: ServerConnection)

    /// Called once when the connection has closed, on its queue; no frame follows.
    func connectionDidClose(_ connection: ServerConnection)
}

extension ServerConnectionHandler {
    /// Handlers that answer every request promptly need not hear of a close in advance.
    public func connectionWillClose(_ connection: ServerConnection) {}
}
