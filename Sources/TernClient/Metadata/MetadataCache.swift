import Logging
import Synchronization
import TernWire

/// The client's cached ``ClusterMetadata``, refreshed from any reachable broker.
///
/// Every refresh asks for all topics, so one snapshot answers every question. Refreshes are
/// single-flight and rate-limited: a refresh asked for while one runs joins it, and one asked for
/// sooner than `refreshBackoff` after the last one started waits out the rest, so the producer,
/// the consumer and the admin reacting to the same leader change (NOT_LEADER_OR_FOLLOWER,
/// FENCED_LEADER_EPOCH, a lost connection) cost one Metadata request, not one each.
final class MetadataCache: Sendable {
    private struct State {
        var snapshot = ClusterMetadata()
        var fetchedAt: ContinuousClock.Instant?
        /// The refresh running now, which later callers join.
        var running: Task<ClusterMetadata, any Error>?
        var lastStarted: ContinuousClock.Instant?
        /// Brokers that could not be reached lately: tried last by ``sendToAnyBroker(_:)``.
        var unreachable: [Int32: ContinuousClock.Instant] = [:]
    }

    private let pool: ConnectionPool
    private let maxAge: Duration
    private let refreshBackoff: Duration
    private let logger: Logger
    private let state = Mutex(State())

    init(pool: ConnectionPool, maxAge: Duration, refreshBackoff: Duration = .milliseconds(100), logger: Logger) {
        self.pool = pool
        self.maxAge = maxAge
        self.refreshBackoff = refreshBackoff
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

    /// Fetches metadata for every topic from any reachable broker and stores it; joins a refresh
    /// already running, and starts no sooner than `refreshBackoff` after the previous one.
    /// - Throws: ``TernError`` when no broker could be reached.
    @discardableResult
    func refresh() async throws -> ClusterMetadata {
        let task = state.withLock { current -> Task<ClusterMetadata, any Error> in
            if let running = current.running { return running }
            let now = ContinuousClock.now
            let start = current.lastStarted.map { max($0 + refreshBackoff, now) } ?? now
            current.lastStarted = start
            let task = Task { [self] in
                if start > .now { try? await Task.sleep(until: start, clock: .continuous) }
                defer { state.withLock { $0.running = nil } }
                return try await fetch()
            }
            current.running = task
            return task
        }
        return try await task.value
    }

    private func fetch() async throws -> ClusterMetadata {
        let response = try await sendToAnyBroker(MetadataRequest(topics: nil))
        let snapshot = ClusterMetadata(response)
        pool.updateBrokers(snapshot.brokers)
        return state.withLock { state in
            state.snapshot = snapshot
            state.fetchedAt = .now
            return snapshot
        }
    }

    /// Sends `request` to an open connection if there is one, else to the brokers of the last
    /// metadata and then the bootstrap addresses — those that failed lately last — until one
    /// answers. A connection that fails (refused, reset, closed under the request) moves on to
    /// the next broker, so one dead broker, even the first bootstrap one, costs one attempt.
    /// - Throws: the connection errors when none could be reached; a broker error or a timeout
    ///   as is (a request that timed out may have been applied: it is not sent again).
    func sendToAnyBroker<R: WireRequest>(_ request: R) async throws -> R.Response {
        var failures: [String] = []
        var tried: Set<Int32> = []
        if let connection = pool.anyReadyConnection() {
            tried.insert(connection.node)
            do {
                return try await connection.send(request)
            } catch let error as TernError where error.code == .connectionFailed || error.code == .closed {
                try pool.checkOpen()
                noteUnreachable(connection.node)
                failures.append(error.message)
                logger.debug("retrying on another broker", metadata: ["error": "\(error)"])
            }
        }
        for node in candidates() where !tried.contains(node) {
            do {
                let connection = try await pool.connection(to: node)
                let response = try await connection.send(request)
                state.withLock { _ = $0.unreachable.removeValue(forKey: node) }
                return response
            } catch let error as TernError where error.code == .connectionFailed || error.code == .closed {
                try pool.checkOpen()
                noteUnreachable(node)
                failures.append(error.message)
            }
        }
        throw TernError(
            .connectionFailed,
            failures.isEmpty ? "no broker to send \(R.apiKey.name) to" : failures.joined(separator: "; "))
    }

    /// Every broker to try: those of the last metadata by node id, then the bootstrap addresses;
    /// the ones that failed in the last minute after the others, oldest failure first.
    private func candidates() -> [Int32] {
        let (brokers, unreachable) = state.withLock { ($0.snapshot.brokers.keys.sorted(), $0.unreachable) }
        let all = brokers + pool.bootstrap.map(\.node)
        let cutoff = ContinuousClock.now - .seconds(60)
        let fresh = all.filter { unreachable[$0].map { $0 < cutoff } ?? true }
        let failed = all.filter { unreachable[$0].map { $0 >= cutoff } ?? false }.sorted {
            (unreachable[$0] ?? cutoff) < (unreachable[$1] ?? cutoff)
        }
        return fresh + failed
    }

    private func noteUnreachable(_ node: Int32) {
        state.withLock { $0.unreachable[node] = .now }
    }
}
