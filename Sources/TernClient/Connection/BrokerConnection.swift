import Logging
import Synchronization
import TernWire

/// One connection to one broker, shared by everything that talks to that broker.
///
/// Requests may be pipelined from any thread: each takes the next correlation id and registers
/// its handler in a table behind a `Mutex`; responses, which arrive in request order, are matched
/// by correlation id on the connection's queue. When the connection closes, or a request outlives
/// its timeout (which stalls every response queued behind it), every pending request fails with a
/// ``TernError`` naming the broker.
final class BrokerConnection: Sendable, CustomStringConvertible {
    private struct State {
        var table = PendingRequestTable()
        var transport: (any FrameTransport)?
    }

    /// The broker's node id (negative for a bootstrap address whose id is not known yet).
    let node: Int32
    /// Where the connection goes.
    let address: BrokerAddress
    private let clientId: String
    private let requestTimeout: Duration
    private let logger: Logger
    private let state = Mutex(State())
    /// Runs once after the connection closed (the pool forgets it there).
    private let onClosed: @Sendable (BrokerConnection) -> Void

    private init(
        node: Int32, address: BrokerAddress, configuration: ClientConfiguration,
        onClosed: @escaping @Sendable (BrokerConnection) -> Void
    ) {
        self.node = node
        self.address = address
        self.clientId = configuration.clientId
        self.requestTimeout = configuration.requestTimeout
        self.logger = configuration.logger
        self.onClosed = onClosed
    }

    deinit {
        state.withLock { $0.transport }?.close()
    }

    var description: String { node >= 0 ? "broker \(node) at \(address)" : "\(address)" }

    /// Connects, blocking the calling thread for up to `connectTimeout` (and, with SASL settings,
    /// until the broker accepted the credentials).
    /// - Throws: ``TernError`` `.connectionFailed` (or `.timedOut`) naming the address.
    static func open(
        node: Int32, address: BrokerAddress, configuration: ClientConfiguration,
        onClosed: @escaping @Sendable (BrokerConnection) -> Void = { _ in }
    ) throws(TernError) -> BrokerConnection {
        let connection = BrokerConnection(
            node: node, address: address, configuration: configuration, onClosed: onClosed)
        do {
            let transport = try configuration.transport.connect(
                address, configuration.connectTimeout, configuration.maxResponseBytes,
                { [weak connection] frame in connection?.receive(frame) },
                { [weak connection] error in connection?.transportClosed(error) })
            connection.state.withLock { $0.transport = transport }
        } catch {
            throw TernError(.connectionFailed, "cannot connect to \(address): \(describeNetworkError(error))")
        }
        connection.startTimeoutSweep()
        if let sasl = configuration.sasl {
            do {
                try connection.authenticate(sasl, timeout: configuration.requestTimeout)
            } catch {
                connection.close()
                throw error
            }
        }
        return connection
    }

    /// True once the connection has closed; a pool replaces it on next use.
    var isClosed: Bool {
        state.withLock { $0.table.closeReason != nil || ($0.transport?.isClosed ?? true) }
    }

    /// Number of requests awaiting a response.
    var pendingCount: Int { state.withLock { $0.table.count } }

    // MARK: Sending

    /// Sends a request and calls `completion` with its decoded response (on the connection's
    /// queue). A top-level error status becomes a ``TernError``.
    /// - Parameter extraTimeout: added to the request timeout (a fetch's long-poll wait).
    func send<R: WireRequest>(
        _ request: R, extraTimeout: Duration = .zero,
        completion: @escaping @Sendable (Result<R.Response, TernError>) -> Void
    ) {
        let peer = description
        let clientId = self.clientId
        sendFrames(
            api: R.apiKey, extraTimeout: extraTimeout,
            encode: { [Frame.request(request, correlationId: $0, clientId: clientId)] },
            handler: { [version = request.version] result in
                completion(
                    result.flatMap { frame in
                        BrokerConnection.decode(R.Response.self, frame, R.apiKey, peer, version: version)
                    })
            })
    }

    /// Sends a request and returns its decoded response.
    /// - Throws: ``TernError``: the broker's top-level error, a connection failure, a timeout.
    func send<R: WireRequest>(_ request: R, extraTimeout: Duration = .zero) async throws -> R.Response {
        try await withCheckedThrowingContinuation { continuation in
            send(request, extraTimeout: extraTimeout) { continuation.resume(with: $0.mapError { $0 }) }
        }
    }

    /// Sends frames built by `encode` for a fresh correlation id and routes the response to
    /// `handler`. The producer uses this with chunked frames, so batches are never copied.
    func sendFrames(
        api: ApiKey, extraTimeout: Duration = .zero, encode: (UInt32) -> [[UInt8]],
        handler: @escaping ResponseHandler
    ) {
        let deadline = ContinuousClock.now + requestTimeout + extraTimeout
        let registered = state.withLock { state -> Result<(UInt32, any FrameTransport), TernError> in
            guard let transport = state.transport else {
                return .failure(state.table.closeReason ?? TernError(.closed, "connection to \(description) is closed"))
            }
            return state.table.register(api: api, deadline: deadline, handler: handler).map { ($0, transport) }
        }
        switch registered {
        case .failure(let error): handler(.failure(error))
        case .success(let (id, transport)):
            let chunks = encode(id)
            chunks.count == 1 ? transport.send(chunks[0]) : transport.send(chunks)
        }
    }

    /// Sends a request that gets no response (a produce with acks=0).
    /// - Returns: false when the connection is already closed.
    @discardableResult
    func sendWithoutResponse(encode: (UInt32) -> [[UInt8]]) -> Bool {
        let taken = state.withLock { state -> (UInt32, any FrameTransport)? in
            guard state.table.closeReason == nil, let transport = state.transport else { return nil }
            return (state.table.takeCorrelationId(), transport)
        }
        guard let (id, transport) = taken else { return false }
        let chunks = encode(id)
        chunks.count == 1 ? transport.send(chunks[0]) : transport.send(chunks)
        return true
    }

    static func decode<Response: WireResponse>(
        _ type: Response.Type, _ frame: ResponseFrame, _ api: ApiKey, _ peer: String, version: UInt16 = 0
    ) -> Result<Response, TernError> {
        guard frame.status.errorCode == .none else {
            return .failure(
                .broker(frame.status.errorCode, frame.status.errorMessage, context: "\(api.name) request to \(peer)"))
        }
        var reader = frame.reader
        do {
            return .success(try Response(from: &reader, version: version))
        } catch {
            return .failure(.protocolError(error, peer: peer, api: api))
        }
    }

    // MARK: Receiving

    private func receive(_ payload: UnsafeRawBufferPointer) {
        var reader = ByteReader(Array(payload))
        let head: (correlationId: UInt32, status: ResponseStatus)
        do {
            head = try Frame.readResponseHead(&reader)
        } catch {
            return fail(TernError(.protocolError, "malformed response header from \(description): \(error)"))
        }
        guard let entry = state.withLock({ $0.table.complete(head.correlationId) }) else {
            return fail(
                TernError(
                    .protocolError, "response from \(description) has unknown correlation id \(head.correlationId)"))
        }
        entry.handler(.success(ResponseFrame(status: head.status, reader: reader)))
    }

    private func transportClosed(_ error: (any Error)?) {
        let reason =
            error.map { TernError(.connectionFailed, "connection to \(description) failed: \(describeNetworkError($0))") }
            ?? TernError(.connectionFailed, "connection to \(description) was closed")
        fail(reason)
    }

    // MARK: Closing

    /// Closes the connection; pending requests fail with `.closed`.
    func close() {
        fail(TernError(.closed, "connection to \(description) was closed by the client"))
    }

    /// Fails every pending request with `reason` and closes the transport (once).
    private func fail(_ reason: TernError) {
        let (entries, transport, first) = state.withLock { state in
            let first = state.table.closeReason == nil
            let entries = state.table.close(reason: reason)
            let transport = state.transport
            state.transport = nil
            return (entries, transport, first)
        }
        transport?.close()
        if first {
            if reason.code != .closed {
                logger.debug("connection closed", metadata: ["tern_peer": "\(description)", "reason": "\(reason)"])
            }
            onClosed(self)
        }
        for entry in entries {
            entry.handler(.failure(TernError(reason.code, "\(entry.api.name) request failed: \(reason.message)")))
        }
    }

    // MARK: Timeouts

    private func startTimeoutSweep() {
        let interval = max(min(requestTimeout / 10, .seconds(1)), .milliseconds(10))
        Task { [weak self] in
            while true {
                try? await Task.sleep(for: interval)
                guard let self, !self.isClosed else { return }
                self.expireTimedOut()
            }
        }
    }

    /// Fails the oldest expired request with `.timedOut` and closes the connection: responses are
    /// ordered, so everything queued behind it is stuck too.
    func expireTimedOut(now: ContinuousClock.Instant = .now) {
        guard let (id, entry) = state.withLock({ $0.table.firstExpired(at: now) }) else { return }
        guard state.withLock({ $0.table.cancel(id) }) != nil else { return }
        fail(TernError(.timedOut, "connection to \(description) closed after a request timed out"))
        entry.handler(
            .failure(
                TernError(
                    .timedOut, "\(entry.api.name) request to \(description) got no response within the request timeout")))
    }
}
