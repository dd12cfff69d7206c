import TernWire

/// A response frame after its correlation id: the top-level status and a reader at the body.
struct ResponseFrame: Sendable {
    var status: ResponseStatus
    var reader: ByteReader
}

/// Called once with a request's response, or with the reason it will never come.
typealias ResponseHandler = @Sendable (Result<ResponseFrame, TernError>) -> Void

/// The requests of one connection that await a response, by correlation id: an I/O-free state
/// machine that ``BrokerConnection`` keeps behind its lock.
struct PendingRequestTable {
    struct Entry {
        var api: ApiKey
        var deadline: ContinuousClock.Instant
        var handler: ResponseHandler
    }

    private(set) var nextCorrelationId: UInt32 = 1
    private var entries: [UInt32: Entry] = [:]
    /// Why the connection closed; set once, after which nothing more is registered.
    private(set) var closeReason: TernError?

    /// Number of requests awaiting a response.
    var count: Int { entries.count }

    /// Takes the next correlation id (ids increase and wrap around).
    mutating func takeCorrelationId() -> UInt32 {
        defer { nextCorrelationId &+= 1 }
        return nextCorrelationId
    }

    /// Registers a request that expects a response; fails once the connection is closed.
    mutating func register(api: ApiKey, deadline: ContinuousClock.Instant, handler: @escaping ResponseHandler)
        -> Result<UInt32, TernError>
    {
        if let closeReason { return .failure(closeReason) }
        let id = takeCorrelationId()
        entries[id] = Entry(api: api, deadline: deadline, handler: handler)
        return .success(id)
    }

    /// Removes and returns the entry a response with `correlationId` answers.
    mutating func complete(_ correlationId: UInt32) -> Entry? {
        entries.removeValue(forKey: correlationId)
    }

    /// Removes and returns one registered entry (used when its frame could not be sent).
    mutating func cancel(_ correlationId: UInt32) -> Entry? {
        entries.removeValue(forKey: correlationId)
    }

    /// The first entry whose deadline has passed, if any.
    func firstExpired(at now: ContinuousClock.Instant) -> (id: UInt32, entry: Entry)? {
        var found: (id: UInt32, entry: Entry)?
        for (id, entry) in entries where entry.deadline <= now {
            if let current = found, current.entry.deadline <= entry.deadline { continue }
            found = (id, entry)
        }
        return found
    }

    /// Marks the table closed and returns every pending entry, in correlation order, to be failed.
    mutating func close(reason: TernError) -> [Entry] {
        if closeReason == nil { closeReason = reason }
        let failed = entries.sorted { $0.key < $1.key }.map(\.value)
        entries.removeAll()
        return failed
    }
}
