import Synchronization

/// A consumer's own connections, one per leader broker, that carry its fetches, and what each has
/// in flight.
///
/// A fetch may be parked on the broker for a whole ``ConsumerConfiguration/fetchMaxWait``. To stop
/// waiting for it — the consumer closes, or a seek or an assignment change makes it stale — the
/// consumer closes the connection it is parked on. That is only right because the connection is
/// the consumer's alone: the broker answers each connection's requests in order, so on a pooled
/// connection shared with producers, admin calls and the group's heartbeats, closing would fail
/// their requests too, and merely abandoning the fetch (dropping its late response) would not help
/// a seek, whose new fetch would still be answered after the parked one. A consumer's fetches on
/// separate connections also keep a parked fetch from delaying its group's heartbeats and commits,
/// as Kafka's consumer keeps them apart. Closing also lets the broker drop the parked fetch at once.
final class FetchConnections: Sendable {
    /// A fetch awaiting its response: the partitions and offsets it asked for, and the consumer
    /// state's ``ConsumerState/targetsVersion`` when they were read.
    struct InFlight: Sendable {
        var targets: [ConsumerState.FetchTarget]
        var version: UInt64
    }

    private struct State {
        var connections: [Int32: BrokerConnection] = [:]
        var inFlight: [Int32: InFlight] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    /// The open fetch connection to `leader`, connecting first when there is none.
    /// - Throws: ``TernError`` `.closed` once ``closeAll()`` ran (or the task was cancelled), else
    ///   the connect failure.
    func connection(to leader: Int32, pool: ConnectionPool) async throws -> BrokerConnection {
        let existing = try state.withLock { state throws(TernError) -> BrokerConnection? in
            if state.closed { throw TernError(.closed, "the consumer is closed") }
            return state.connections[leader].flatMap { $0.isClosed ? nil : $0 }
        }
        if let existing { return existing }
        let opened = try await pool.openUnpooled(to: leader)
        let kept = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            // One fetch per leader at a time, so nobody else connected meanwhile; if a stale
            // entry is there it is closed already.
            state.connections[leader] = opened
            return true
        }
        guard kept else {
            opened.close()
            throw TernError(.closed, "the consumer is closed")
        }
        return opened
    }

    /// Records that a fetch of `targets` to `leader` is about to be sent.
    func began(_ leader: Int32, _ inFlight: InFlight) {
        state.withLock { $0.inFlight[leader] = inFlight }
    }

    /// The fetch to `leader` has its answer (or failed).
    func ended(_ leader: Int32) {
        state.withLock { $0.inFlight[leader] = nil }
    }

    /// Closes the connections whose in-flight fetch `isStale` says to give up; those fetches fail
    /// with `.closed` at once and the loop sends new ones on new connections.
    func supersede(where isStale: (Int32, InFlight) -> Bool) {
        let stale = state.withLock { state -> [BrokerConnection] in
            var closing: [BrokerConnection] = []
            for (leader, inFlight) in state.inFlight where isStale(leader, inFlight) {
                if let connection = state.connections.removeValue(forKey: leader) { closing.append(connection) }
            }
            return closing
        }
        for connection in stale { connection.close() }
    }

    /// Closes every fetch connection (abandoning what is in flight); no new one opens afterwards.
    func closeAll() {
        let connections = state.withLock { state -> [BrokerConnection] in
            state.closed = true
            defer { state.connections.removeAll() }
            return Array(state.connections.values)
        }
        for connection in connections { connection.close() }
    }
}
