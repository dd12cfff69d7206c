import Logging
import Dispatch
import Synchronization

/// One ``BrokerConnection`` per broker node id, opened on first use and replaced after it closes.
///
/// Connecting blocks a thread (TernNet's connect waits for the socket), so it runs on a Dispatch
/// queue, never on a Swift concurrency thread; concurrent requests for the same node share one
/// attempt. Bootstrap addresses get node ids -1, -2, … until metadata names the real ones.
final class ConnectionPool: Sendable {
    typealias Completion = @Sendable (Result<BrokerConnection, TernError>) -> Void

    private struct State {
        var addresses: [Int32: BrokerAddress] = [:]
        var connections: [Int32: BrokerConnection] = [:]
        var connecting: [Int32: [Completion]] = [:]
        var closed = false
    }

    private let configuration: ClientConfiguration
    private let state = Mutex(State())
    /// The bootstrap addresses with their provisional node ids.
    let bootstrap: [(node: Int32, address: BrokerAddress)]

    init(configuration: ClientConfiguration, bootstrap: [BrokerAddress]) {
        self.configuration = configuration
        self.bootstrap = bootstrap.enumerated().map { (Int32(-1 - $0.offset), $0.element) }
        state.withLock { state in
            for (node, address) in self.bootstrap { state.addresses[node] = address }
        }
    }

    /// Records the brokers named by metadata (node id → address).
    func updateBrokers(_ brokers: [Int32: BrokerAddress]) {
        state.withLock { state in
            for (node, address) in brokers { state.addresses[node] = address }
        }
    }

    /// The open connection to `node`, if there is one.
    func readyConnection(to node: Int32) -> BrokerConnection? {
        state.withLock { state in
            guard let connection = state.connections[node], !connection.isClosed else { return nil }
            return connection
        }
    }

    /// Any open connection (to find a broker for cluster-wide requests).
    func anyReadyConnection() -> BrokerConnection? {
        state.withLock { state in
            state.connections.sorted { $0.key > $1.key }.first { !$0.value.isClosed }?.value
        }
    }

    /// Calls `completion` with an open connection to `node`, connecting first when needed.
    func connection(to node: Int32, _ completion: @escaping Completion) {
        enum Step {
            case ready(BrokerConnection)
            case failed(TernError)
            case wait
            case connect(BrokerAddress)
        }
        let step = state.withLock { state -> Step in
            if state.closed { return .failed(TernError(.closed, "the client is closed")) }
            if let connection = state.connections[node], !connection.isClosed { return .ready(connection) }
            if state.connecting[node] != nil {
                state.connecting[node, default: []].append(completion)
                return .wait
            }
            guard let address = state.addresses[node] else {
                return .failed(TernError(.connectionFailed, "no address known for broker \(node)"))
            }
            state.connecting[node] = [completion]
            return .connect(address)
        }
        switch step {
        case .ready(let connection): completion(.success(connection))
        case .failed(let error): completion(.failure(error))
        case .wait: break
        case .connect(let address):
            let configuration = self.configuration
            DispatchQueue.global().async { [self] in
                let result = Result { () throws(TernError) -> BrokerConnection in
                    try BrokerConnection.open(node: node, address: address, configuration: configuration) {
                        [weak self] closed in self?.forget(closed)
                    }
                }
                self.finishConnecting(node: node, result)
            }
        }
    }

    /// An open connection to `node`, connecting first when needed.
    /// - Throws: ``TernError`` `.connectionFailed` naming the address.
    func connection(to node: Int32) async throws -> BrokerConnection {
        try await withCheckedThrowingContinuation { continuation in
            connection(to: node) { continuation.resume(with: $0.mapError { $0 }) }
        }
    }

    /// A new connection to `node` that the pool does not share or keep: the caller owns it and
    /// closes it. A consumer fetches over such connections, so that closing one to abandon a
    /// parked fetch touches nothing else (see ``FetchConnections``). Cancelling the calling task
    /// stops the wait at once; a connection that completes afterwards is closed.
    /// - Throws: ``TernError`` `.connectionFailed` naming the address, `.closed` when the client
    ///   is closed or the task was cancelled.
    func openUnpooled(to node: Int32) async throws -> BrokerConnection {
        let address = try state.withLock { state throws(TernError) -> BrokerAddress in
            if state.closed { throw TernError(.closed, "the client is closed") }
            guard let address = state.addresses[node] else {
                throw TernError(.connectionFailed, "no address known for broker \(node)")
            }
            return address
        }
        let configuration = self.configuration
        let waiter = UnpooledConnectWaiter()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<BrokerConnection, any Error>) in
                guard waiter.wait(continuation) else {
                    return continuation.resume(throwing: TernError(.closed, "cancelled while connecting to \(address)"))
                }
                // Connecting blocks the thread, so it runs on Dispatch, never on a Swift concurrency thread.
                DispatchQueue.global().async {
                    let result = Result { () throws(TernError) -> BrokerConnection in
                        try BrokerConnection.open(node: node, address: address, configuration: configuration)
                    }
                    waiter.finish(result)
                }
            }
        } onCancel: {
            waiter.cancel(TernError(.closed, "cancelled while connecting to \(address)"))
        }
    }

    private func finishConnecting(node: Int32, _ result: Result<BrokerConnection, TernError>) {
        let (waiters, closedMeanwhile) = state.withLock { state -> ([Completion], Bool) in
            let waiters = state.connecting.removeValue(forKey: node) ?? []
            if case .success(let connection) = result, !state.closed { state.connections[node] = connection }
            return (waiters, state.closed)
        }
        if closedMeanwhile, case .success(let connection) = result {
            connection.close()
            for waiter in waiters { waiter(.failure(TernError(.closed, "the client is closed"))) }
            return
        }
        if case .success(let connection) = result {
            configuration.logger.debug("connected", metadata: ["tern_peer": "\(connection)"])
        }
        for waiter in waiters { waiter(result) }
    }

    private func forget(_ connection: BrokerConnection) {
        state.withLock { state in
            if let current = state.connections[connection.node], current === connection {
                state.connections[connection.node] = nil
            }
        }
    }

    /// Throws `.closed` once ``closeAll()`` ran.
    func checkOpen() throws(TernError) {
        if state.withLock({ $0.closed }) { throw TernError(.closed, "the client is closed") }
    }

    /// Closes every connection; later requests fail with `.closed`.
    func closeAll() {
        let connections = state.withLock { state -> [BrokerConnection] in
            state.closed = true
            defer { state.connections.removeAll() }
            return Array(state.connections.values)
        }
        for connection in connections { connection.close() }
    }
}

/// Hands an unpooled connect's result to its waiter once: to the task that asked, or, after that
/// task was cancelled, to nobody (and the connection is closed).
private final class UnpooledConnectWaiter: Sendable {
    private struct State {
        var continuation: CheckedContinuation<BrokerConnection, any Error>?
        var cancelled = false
    }

    private let state = Mutex(State())

    /// Stores the continuation; false when the wait was already cancelled.
    func wait(_ continuation: CheckedContinuation<BrokerConnection, any Error>) -> Bool {
        state.withLock { state in
            if state.cancelled { return false }
            state.continuation = continuation
            return true
        }
    }

    func finish(_ result: Result<BrokerConnection, TernError>) {
        if let continuation = state.withLock({ $0.continuation.take() }) {
            continuation.resume(with: result.mapError { $0 })
        } else if case .success(let connection) = result {
            connection.close()
        }
    }

    func cancel(_ reason: TernError) {
        let continuation = state.withLock { state in
            state.cancelled = true
            return state.continuation.take()
        }
        continuation?.resume(throwing: reason)
    }
}
