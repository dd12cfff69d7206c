import Synchronization

/// `max.connections` and `max.connections.per.ip`: how many connections the servers sharing
/// this limiter may have open, in all and from one address. A connection over either limit is
/// closed as soon as it is accepted.
public final class ConnectionLimiter: Sendable {
    /// Which limit refused a connection.
    public enum Refusal: String, Sendable {
        case maxConnections = "max.connections"
        case maxConnectionsPerIP = "max.connections.per.ip"
    }

    private struct State {
        var total = 0
        var perHost: [String: Int] = [:]
    }

    /// Connections allowed in all.
    public let maxConnections: Int
    /// Connections allowed from one address.
    public let maxConnectionsPerIP: Int
    private let onRefuse: @Sendable (Refusal) -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - onRefuse: called for every connection refused (for a metric), on the accepting queue.
    public init(
        maxConnections: Int, maxConnectionsPerIP: Int, onRefuse: @escaping @Sendable (Refusal) -> Void = { _ in }
    ) {
        self.maxConnections = max(maxConnections, 0)
        self.maxConnectionsPerIP = max(maxConnectionsPerIP, 0)
        self.onRefuse = onRefuse
    }

    /// Open connections counted now.
    public var openCount: Int { state.withLock { $0.total } }

    /// Counts a new connection from `host`, or says which limit refuses it (then nothing is
    /// counted and it must not be released).
    func admit(host: String) -> Refusal? {
        let refusal: Refusal? = state.withLock { state in
            guard state.total < maxConnections else { return .maxConnections }
            let fromHost = state.perHost[host, default: 0]
            guard fromHost < maxConnectionsPerIP else { return .maxConnectionsPerIP }
            state.total += 1
            state.perHost[host] = fromHost + 1
            return nil
        }
        if let refusal { onRefuse(refusal) }
        return refusal
    }

    /// Uncounts an admitted connection from `host` that has closed.
    func release(host: String) {
        state.withLock { state in
            state.total -= 1
            let left = state.perHost[host, default: 1] - 1
            state.perHost[host] = left > 0 ? left : nil
        }
    }
}
