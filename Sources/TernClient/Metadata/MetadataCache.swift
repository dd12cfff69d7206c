import Logging
import Synchronization
import TernWire

/// The client's cached ``ClusterMetadata``, refreshed from any reachable broker.
///
/// Every refresh asks for all topics, so one snapshot answers every question; a refresh that was
/// started before another one finished never overwrites the newer snapshot.
final class MetadataCache: Sendable {
    private struct State {
        var snapshot = ClusterMetadata()
        var fetchedAt: ContinuousClock.Instant?
        var startedRefreshes: UInt64 = 0
        var appliedRefresh: UInt64 = 0
    }

    private let pool: ConnectionPool
    private let maxAge: Duration
    private let logger: Logger
    private let state = Mutex(State())

    init(pool: ConnectionPool, maxAge: Duration, logger: Logger) {
        self.pool = pool
        self.maxAge = maxAge
        self.logger = logger
    }

    /// The latest snapshot, however old.
    var current: ClusterMetadata { state.withLock { $0.snapshot } }

    /// True when there is no snapshot or it is older than `metadataMaxAge`.
    var isStale: Bool {
        state.withLock { state in
            guard let fetchedAt = state.fetchedAt else { return true }
            return ContinuousClock.now - fetchedAt > maxAge
        }
    }

    /// The current snapshot, refreshed first when stale.
    func fresh() async throws -> ClusterMetadata {
        isStale ? try await refresh() : current
    }

    /// Fetches metadata for every topic from any reachable broker and stores it.
    /// - Throws: ``TernError`` when no broker could be reached.
    @discardableResult
    func refresh() async throws -> ClusterMetadata {
        let sequence = state.withLock { state -> UInt64 in
            state.startedRefreshes += 1
            return state.startedRefreshes
        }
        let response = try await sendToAnyBroker(MetadataRequest(topics: nil))
        let snapshot = ClusterMetadata(response)
        pool.updateBrokers(snapshot.brokers)
        return state.withLock { state in
            if sequence > state.appliedRefresh {
                state.appliedRefresh = sequence
                state.snapshot = snapshot
                state.fetchedAt = .now
            }
            return state.snapshot
        }
    }

    /// Sends `request` to an open connection if there is one, else to the known brokers and then
    /// the bootstrap addresses in turn, until one answers.
    /// - Throws: the last connection error when none could be reached; a broker error as is.
    func sendToAnyBroker<R: WireRequest>(_ request: R) async throws -> R.Response {
        if let connection = pool.anyReadyConnection() {
            do {
                return try await connection.send(request)
            } catch let error as TernError where error.code == .connectionFailed || error.code == .closed {
                logger.debug("retrying on another broker", metadata: ["error": "\(error)"])
            }
        }
        var candidates = current.brokers.keys.sorted()
        candidates += pool.bootstrap.map(\.node)
        var failures: [String] = []
        for node in candidates {
            let connection: BrokerConnection
            do {
                connection = try await pool.connection(to: node)
            } catch let error as TernError {
                failures.append(error.message)
                continue
            }
            return try await connection.send(request)
        }
        throw TernError(
            .connectionFailed,
            failures.isEmpty ? "no broker to send \(R.apiKey.name) to" : failures.joined(separator: "; "))
    }
}
