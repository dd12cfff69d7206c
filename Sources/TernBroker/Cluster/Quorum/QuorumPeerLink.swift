import DequeModule
import Dispatch
import Logging
import Synchronization
import TernNet
import TernRaft
import TernWire

/// This node's outbound connection to one other voter's controller listener: every Raft message
/// to that voter is a request on it, answered by an empty acknowledgement (docs/protocol.md
/// §7.22). Connects lazily, reconnects with back-off, and bounds what it holds, in frames
/// (`maxQueuedMessagesPerPeer`) and bytes (`maxQueuedBytesPerPeer`, though one frame always
/// fits): while disconnected it queues frames and drops the oldest beyond the bounds; while
/// connected, frames awaiting their acknowledgement count, and a new frame beyond the bounds is
/// dropped (a peer that stops reading cannot grow this node's memory). Dropping is safe: Raft
/// sends again on its timers. A connection whose peer acknowledges nothing for
/// `requestTimeoutMs` while frames wait is dropped and made again: a host that died without a
/// FIN or RST would otherwise keep it "open" for the minutes TCP takes to give up.
///
/// An observer's links also carry the answers back: a voter answers an observer's fetch in the
/// request's response (the observer has no listener), and the link hands it to `onAnswer`.
final class QuorumPeerLink: Sendable {
    private struct State {
        var connection: ClientConnection?
        /// Bumped per connection, so the close of an old one does not touch a newer one.
        var generation: UInt64 = 0
        var connecting = false
        var retryScheduled = false
        var notBefore: UInt64 = 0
        var backoffMs: Int
        var queued = Deque<[UInt8]>()
        var queuedBytes = 0
        /// Sizes of the frames sent and not yet acknowledged, oldest first (acks come in order).
        var unacknowledged = Deque<Int>()
        var unacknowledgedBytes = 0
        /// Since when frames have waited without an acknowledgement (nil: none waits).
        var stalledSince: UInt64?
        var nextCorrelationId: UInt32 = 0
        var closed = false
        var dropped = 0
        var failedConnects = 0
        /// Connects have failed since the last success: later failures are logged at debug.
        var failing = false
    }

    let id: RaftNodeId
    let address: QuorumAddress
    private let clientId: String
    private let configuration: QuorumConfiguration
    private let logger: Logger
    private let warnings: LogRateLimiter
    private let state: Mutex<State>
    /// Connects block (a bounded poll): off the driver's queue.
    private let connectQueue: DispatchQueue
    /// This node's cluster id now ("" while unknown), to check answers against.
    private let clusterId: @Sendable () -> String
    /// Observer only: an answer carried in a response, from this voter.
    private let onAnswer: (@Sendable (RaftNodeId, RaftMessage) -> Void)?

    init(
        id: RaftNodeId, address: QuorumAddress, configuration: QuorumConfiguration, logger: Logger,
        warnings: LogRateLimiter, clusterId: @escaping @Sendable () -> String = { "" },
        onAnswer: (@Sendable (RaftNodeId, RaftMessage) -> Void)? = nil
    ) {
        self.clusterId = clusterId
        self.onAnswer = onAnswer
        self.id = id
        self.address = address
        self.clientId = "tern-raft-\(configuration.nodeId)"
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "tern_voter"] = "\(id)"
        logger[metadataKey: "tern_peer"] = "\(address)"
        self.logger = logger
        self.warnings = warnings
        self.state = Mutex(State(backoffMs: configuration.reconnectBackoffMinMs))
        self.connectQueue = DispatchQueue(label: "tern.quorum.connect.\(id)", target: .global())
    }

    /// Messages dropped so far because the link was full.
    var droppedCount: Int { state.withLock { $0.dropped } }
    /// True when nothing waits to be sent or acknowledged (a message sent is acknowledged).
    var isIdle: Bool { state.withLock { $0.queued.isEmpty && $0.unacknowledged.isEmpty } }
    /// Connects that failed so far.
    var failedConnectCount: Int { state.withLock { $0.failedConnects } }

    /// Sends `envelope` now, or queues it until connected. Any thread.
    func send(_ envelope: RaftEnvelope) {
        let limit = configuration.maxQueuedMessagesPerPeer
        let byteLimit = configuration.maxQueuedBytesPerPeer
        var stale: ClientConnection?
        let (connection, frame, mustConnect) = state.withLock { state -> (ClientConnection?, [UInt8]?, Bool) in
            guard !state.closed else { return (nil, nil, false) }
            state.nextCorrelationId &+= 1
            let frame = envelope.encodeFrame(correlationId: state.nextCorrelationId, clientId: clientId)
            let now = DispatchTime.now().uptimeNanoseconds
            if let connection = state.connection, let since = state.stalledSince, since < now,
                now - since > UInt64(configuration.requestTimeoutMs) * 1_000_000
            {
                stale = connection
                dropConnection(&state)
            }
            if let connection = state.connection {
                let full =
                    state.unacknowledged.count >= limit
                    || (!state.unacknowledged.isEmpty && state.unacknowledgedBytes + frame.count > byteLimit)
                guard !full else {
                    state.dropped += 1
                    return (nil, nil, false)
                }
                if state.unacknowledged.isEmpty { state.stalledSince = now }
                state.unacknowledged.append(frame.count)
                state.unacknowledgedBytes += frame.count
                return (connection, frame, false)
            }
            state.queued.append(frame)
            state.queuedBytes += frame.count
            while state.queued.count > 1 && (state.queued.count > limit || state.queuedBytes > byteLimit) {
                state.queuedBytes -= state.queued.removeFirst().count
                state.dropped += 1
            }
            return (nil, nil, beginConnectIfDue(&state))
        }
        if let stale {
            warnings.warning(
                logger, "voter acknowledged nothing for \(configuration.requestTimeoutMs) ms; reconnecting")
            stale.close()
        }
        if let connection, let frame { connection.send(frame) }
        if mustConnect { connectQueue.async { self.connect() } }
    }

    /// Whether a connect should start now; marks it started.
    private func beginConnectIfDue(_ state: inout State) -> Bool {
        guard !state.closed, state.connection == nil, !state.connecting, !state.queued.isEmpty else { return false }
        guard DispatchTime.now().uptimeNanoseconds >= state.notBefore else {
            scheduleRetry(&state)
            return false
        }
        state.connecting = true
        return true
    }

    /// Retries once the back-off has passed, so queued messages leave without a new send.
    private func scheduleRetry(_ state: inout State) {
        guard !state.retryScheduled else { return }
        state.retryScheduled = true
        let now = DispatchTime.now().uptimeNanoseconds
        let wait = state.notBefore > now ? state.notBefore - now : 0
        connectQueue.asyncAfter(deadline: .now() + .nanoseconds(Int(wait))) {
            let start = self.state.withLock { state -> Bool in
                state.retryScheduled = false
                return self.beginConnectIfDue(&state)
            }
            if start { self.connect() }
        }
    }

    /// On the connect queue.
    private func connect() {
        let generation = state.withLock { state -> UInt64 in
            state.generation += 1
            return state.generation
        }
        let connection: ClientConnection
        do {
            connection = try ClientConnection.connect(
                host: address.host, port: address.port, timeout: configuration.connectTimeout,
                // Acknowledgements are tiny; an observer's carry fetch answers.
                maxFrameBytes: onAnswer == nil ? 1 << 16 : configuration.maxFetchFrameBytes,
                tls: try configuration.peerTLS?(),
                onFrame: { [weak self] frame in self?.acknowledged(frame) },
                onClose: { [weak self] error in self?.connectionClosed(generation: generation, error: error) },
                logger: logger)
        } catch {
            let first = state.withLock { state -> Bool in
                state.connecting = false
                state.failedConnects += 1
                backOff(&state)
                defer { state.failing = true }
                return !state.failing
            }
            // Once per outage at info (a voter being down is news once, not every back-off).
            warnings.log(
                logger, level: first ? .info : .debug, "cannot connect to voter", metadata: ["error": "\(error)"])
            return
        }
        let (frames, keep) = state.withLock { state -> ([[UInt8]], Bool) in
            state.connecting = false
            state.failing = false
            guard !state.closed, state.generation == generation else { return ([], false) }
            // Closed already (its close handler found nothing to reset): back off and retry.
            guard !connection.isClosed else {
                backOff(&state)
                return ([], false)
            }
            state.connection = connection
            state.unacknowledged = Deque(state.queued.map(\.count))
            state.unacknowledgedBytes = state.queuedBytes
            state.stalledSince = state.queued.isEmpty ? nil : DispatchTime.now().uptimeNanoseconds
            defer {
                state.queued.removeAll()
                state.queuedBytes = 0
            }
            return (Array(state.queued), true)
        }
        guard keep else { return connection.close() }
        logger.debug("connected to voter")
        if !frames.isEmpty { connection.send(frames) }
    }

    private func backOff(_ state: inout State) {
        state.notBefore = DispatchTime.now().uptimeNanoseconds + UInt64(state.backoffMs) * 1_000_000
        state.backoffMs = min(state.backoffMs * 2, configuration.reconnectBackoffMaxMs)
        scheduleRetry(&state)
    }

    /// An acknowledgement (on the connection's queue).
    private func acknowledged(_ frame: UnsafeRawBufferPointer) {
        state.withLock { state in
            if let size = state.unacknowledged.popFirst() { state.unacknowledgedBytes -= size }
            state.stalledSince = state.unacknowledged.isEmpty ? nil : DispatchTime.now().uptimeNanoseconds
            state.backoffMs = configuration.reconnectBackoffMinMs
        }
        var reader = ByteReader(Array(frame))
        guard let head = try? Frame.readResponseHead(&reader) else {
            return warnings.warning(logger, "unreadable acknowledgement from voter")
        }
        if head.status.errorCode != .none {
            warnings.warning(logger, "voter refused a quorum message", metadata: ["error": "\(head.status)"])
        }
        guard let onAnswer, !reader.isAtEnd else { return }
        do {
            let key = ApiKey(rawValue: try reader.readUInt16("apiKey"))
            let answer = try RaftEnvelope(apiKey: key, version: RaftEnvelope.version, body: &reader)
            if let problem = answerProblem(answer) {
                return warnings.warning(logger, "refused an answer from voter", metadata: ["error": "\(problem)"])
            }
            onAnswer(id, answer.message)
        } catch {
            warnings.warning(logger, "unreadable answer from voter", metadata: ["error": "\(error)"])
        }
    }

    /// Why an answer carried in a response cannot be taken (the checks the controller listener
    /// makes of a voter's messages), or nil.
    private func answerProblem(_ answer: RaftEnvelope) -> String? {
        let local = clusterId()
        if !answer.clusterId.isEmpty, !local.isEmpty, answer.clusterId != local {
            return "cluster id \(answer.clusterId) is not this node's \(local)"
        }
        if answer.from != id { return "an answer from voter \(id) claims to be from node \(answer.from)" }
        switch answer.message {
        case .fetchResponse: return nil
        case .fetchSnapshotResponse(let r):
            if r.failure == nil, r.size > Int64(configuration.maxSnapshotBytes) {
                return "a snapshot of \(r.size) bytes, above maxSnapshotBytes \(configuration.maxSnapshotBytes)"
            }
            return nil
        default: return "\(answer.message.kindName) is not an answer to a fetch"
        }
    }

    private func connectionClosed(generation: UInt64, error: (any Error)?) {
        state.withLock { state in
            guard state.generation == generation, state.connection != nil else { return }
            dropConnection(&state)
            if !state.closed { backOff(&state) }
        }
        if let error { logger.debug("connection to voter closed", metadata: ["error": "\(error)"]) }
    }

    /// Forgets the current connection (a later close of it is ignored: the generation moves on).
    private func dropConnection(_ state: inout State) {
        state.connection = nil
        state.generation += 1
        state.unacknowledged.removeAll()
        state.unacknowledgedBytes = 0
        state.stalledSince = nil
    }

    /// Closes the connection and drops what is queued; later sends are dropped. Idempotent.
    func close() {
        let connection = state.withLock { state -> ClientConnection? in
            state.closed = true
            state.queued.removeAll()
            state.queuedBytes = 0
            defer { state.connection = nil }
            return state.connection
        }
        connection?.close()
    }
}
