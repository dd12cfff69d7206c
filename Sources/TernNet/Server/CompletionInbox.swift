/// Responses handed to a ``ServerConnection`` from any thread, waiting to be moved onto its loop.
/// Guarded by the connection's mutex.
struct CompletionInbox: Sendable {
    /// One redeemed ticket.
    struct Completion: Sendable {
        var sequence: UInt64
        var response: ResponseSequencer.Response
    }

    /// Completions not yet moved to the loop.
    var items: [Completion] = []
    /// A drain on the loop is already promised: either scheduled, or the loop is inside a read
    /// event that drains before it writes. A completion arriving then needs no new hop.
    var drainPromised = false
    /// The connection is closed; completions are dropped.
    var isClosed = false
}
