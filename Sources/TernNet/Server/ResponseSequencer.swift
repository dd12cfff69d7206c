import DequeModule

/// Puts one connection's responses back into request order.
///
/// Tickets are issued in arrival order; responses may complete in any order; ``popReady(_:)``
/// releases the longest prefix of completed responses. I/O-free: ``ServerConnection`` drives it on
/// its loop.
struct ResponseSequencer {
    /// A completed request's output.
    enum Response: Sendable {
        /// No response (for example an `acks=0` produce).
        case empty
        /// One chunk, the common case, without an array allocation.
        case one(OutboundChunk)
        /// Several chunks, written in order.
        case many([OutboundChunk])
    }

    /// The sequence number of `slots.first`.
    private var firstSequence: UInt64 = 0
    /// One slot per issued, unwritten ticket; nil until completed.
    private var slots = Deque<Response?>()
    /// Tickets issued and not yet completed.
    private(set) var uncompletedCount = 0

    /// Whether every issued ticket has been completed and released.
    var isIdle: Bool { slots.isEmpty }

    /// Issues the next ticket's sequence number.
    mutating func issue() -> UInt64 {
        slots.append(nil)
        uncompletedCount += 1
        return firstSequence + UInt64(slots.count - 1)
    }

    /// Records the response of `sequence`. Completing a ticket twice, or one never issued, is a
    /// programmer error in the handler.
    mutating func complete(_ sequence: UInt64, with response: Response) {
        precondition(sequence >= firstSequence, "response ticket \(sequence) completed twice")
        let index = Int(sequence - firstSequence)
        precondition(index < slots.count, "response ticket \(sequence) was never issued")
        guard slots[index] == nil else {
            preconditionFailure("response ticket \(sequence) completed twice")
        }
        slots[index] = response
        uncompletedCount -= 1
    }

    /// Hands every chunk of the completed prefix to `body`, in ticket order, and forgets it.
    mutating func popReady(_ body: (OutboundChunk) -> Void) {
        while case .some(.some(let response)) = slots.first {
            slots.removeFirst()
            firstSequence += 1
            switch response {
            case .empty: break
            case .one(let chunk): body(chunk)
            case .many(let chunks): chunks.forEach(body)
            }
        }
    }
}
