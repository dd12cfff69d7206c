/// Identifies one request's slot in a connection's in-order response queue.
///
/// Every frame a ``ServerConnection`` hands to its handler comes with a ticket; the handler
/// redeems it exactly once, with one of the `respond` methods of ``ServerConnection`` or
/// ``ServerConnection/noResponse(_:)``.
public struct ResponseTicket: Sendable, Hashable {
    /// The connection the ticket belongs to.
    public let connectionID: UInt64
    /// The request's position on its connection, from 0.
    public let sequence: UInt64

    init(connectionID: UInt64, sequence: UInt64) {
        self.connectionID = connectionID
        self.sequence = sequence
    }
}
