import Dispatch
import Logging
import Synchronization

/// One accepted connection of a ``Server``.
///
/// Each complete frame goes to the ``ServerConnectionHandler`` with a ``ResponseTicket``;
/// responses may be completed from any thread in any order and are written strictly in ticket
/// order. All responses ready after one read event leave in a single `writev`.
///
/// Reading is suspended while more than `maxPendingResponseBytes` wait to be written or
/// `maxInFlightRequests` tickets are uncompleted, and resumes when that drains.
public final class ServerConnection: @unchecked Sendable {
    // `@unchecked Sendable`: `sequencer`, `drained` and `channel`'s state are touched only on
    // `channel.loop.queue`; calls from other threads (`respond`, `noResponse`, `close`) go through
    // the `inbox` mutex or the `closeRequested` atomic and hop onto that queue.

    /// The peer's address, e.g. `127.0.0.1:54321`.
    public let peer: String
    /// A number unique among the connections of this process's servers.
    public let id: UInt64
    /// The peer's address without the port (what `max.connections.per.ip` counts and ACL hosts
    /// match).
    public let host: String

    let channel: SocketChannel
    private let handler: any ServerConnectionHandler
    private let maxInFlightRequests: Int
    private let onClose: @Sendable (ServerConnection) -> Void
    private let inbox = Mutex(CompletionInbox())
    private let closeRequested = Atomic<Bool>(false)
    /// Loop-confined: the handler has heard `connectionWillClose`.
    private var handlerToldOfClose = false

    /// Loop-confined: tickets issued and their responses until written.
    private var sequencer = ResponseSequencer()
    /// Loop-confined: swapped with the inbox so that draining does not allocate.
    private var drained: [CompletionInbox.Completion] = []

    init(
        id: UInt64, socket: SocketDescriptor, peer: String, host: String, loop: EventLoop,
        configuration: ServerConfiguration, tls: TLSStream?,
        handler: any ServerConnectionHandler, logger: Logger, onClose: @escaping @Sendable (ServerConnection) -> Void
    ) {
        self.id = id
        self.peer = peer
        self.host = host
        self.handler = handler
        self.maxInFlightRequests = max(configuration.maxInFlightRequests, 1)
        self.onClose = onClose
        var logger = logger
        logger[metadataKey: "tern_peer"] = "\(peer)"
        logger[metadataKey: "tern_connection_id"] = "\(id)"
        self.channel = SocketChannel(
            socket: socket, peer: peer, loop: loop, maxFrameBytes: configuration.maxFrameBytes,
            maxPendingWriteBytes: configuration.maxPendingResponseBytes, framing: configuration.framing,
            memoryPool: configuration.memoryPool, tls: tls,
            sniff: configuration.tls == nil && configuration.framing.isLengthPrefixed ? .refuseTLSClientHello : .none,
            tlsHandshakeTimeout: configuration.tlsHandshakeTimeout, logger: logger)
        self.isTLS = tls != nil
    }

    /// Whether the connection uses TLS.
    public let isTLS: Bool

    /// The subject of the client's verified TLS certificate in RFC 2253 form (`CN=app,O=Example`),
    /// once the handshake is complete; nil without TLS or without a client certificate. With
    /// `ssl.client.auth` the principal is `User:` followed by it.
    public var peerCertificateSubject: String? { certificateSubject.withLock { $0 } }
    private let certificateSubject = Mutex<String?>(nil)

    /// The principal the upper layer authenticated on this connection (SASL's `User:NAME`), nil
    /// until then. TernNet only keeps it; the handler sets it once and reads it per request.
    public var authenticatedPrincipal: String? { principal.withLock { $0 } }
    private let principal = Mutex<String?>(nil)

    /// Records the principal authenticated on this connection (once; later calls are ignored, so
    /// an authenticated connection cannot be switched to another user).
    public func setAuthenticatedPrincipal(_ value: String) {
        principal.withLock { if $0 == nil { $0 = value } }
    }

    /// Starts reading; on the connection's loop.
    func start() {
        channel.start(delegate: self)
        if closeRequested.load(ordering: .relaxed) { beginGracefulClose() }
    }

    // MARK: Responding (any thread)

    /// Completes `ticket` with a response made of chunks (bytes and file regions), written in
    /// order once every earlier ticket's response has been written. The chunks carry their own
    /// size prefix. Ignored once the connection is closed.
    public func respond(_ ticket: ResponseTicket, _ chunks: [OutboundChunk]) {
        submit(ticket, .many(chunks))
    }

    /// Completes `ticket` with a response of bytes written as they are (a native response
    /// includes its own size prefix).
    public func respond(_ ticket: ResponseTicket, _ bytes: [UInt8]) {
        submit(ticket, .one(.bytes(bytes)))
    }

    /// Completes `ticket` without a response (e.g. an `acks=0` produce), freeing its slot.
    public func noResponse(_ ticket: ResponseTicket) {
        submit(ticket, .empty)
    }

    private func submit(_ ticket: ResponseTicket, _ response: ResponseSequencer.Response) {
        precondition(ticket.connectionID == id, "ticket of connection \(ticket.connectionID) used on connection \(id)")
        let completion = CompletionInbox.Completion(sequence: ticket.sequence, response: response)
        let mustSchedule = inbox.withLock { inbox -> Bool in
            guard !inbox.isClosed else { return false }
            inbox.items.append(completion)
            guard !inbox.drainPromised else { return false }
            inbox.drainPromised = true
            return true
        }
        if mustSchedule {
            channel.loop.execute { self.drainCompletionsAndWrite() }
        }
    }

    /// On the loop: move completions into the write queue and write them.
    private func drainCompletionsAndWrite() {
        absorbCompletions(keepingPromise: false)
        channel.flush()
        channel.updateReadInterest()
    }

    /// On the loop: moves the inbox into the sequencer and the ready prefix into the channel.
    /// - Parameter keepingPromise: true inside a read event, which drains once more before writing.
    private func absorbCompletions(keepingPromise: Bool) {
        channel.loop.assertOnLoop()
        inbox.withLock { inbox in
            swap(&inbox.items, &drained)
            if !keepingPromise { inbox.drainPromised = false }
        }
        guard !drained.isEmpty else { return }
        for completion in drained {
            sequencer.complete(completion.sequence, with: completion.response)
        }
        drained.removeAll(keepingCapacity: true)
        sequencer.popReady { channel.enqueue($0) }
        closeIfDrained()
    }

    // MARK: Closing

    /// Closes gracefully: stops reading now (frames not yet handed over are dropped), waits until
    /// every ticket already issued has been completed and its response written, then closes.
    /// Any thread; idempotent. A connection whose handler never completes a ticket stays open
    /// until ``Server/shutdown(timeout:)`` gives up on it.
    public func close() {
        guard !closeRequested.exchange(true, ordering: .relaxed) else { return }
        channel.loop.execute { self.beginGracefulClose() }
    }

    /// Closes now, dropping unwritten responses. Any thread.
    func abort() {
        closeRequested.store(true, ordering: .relaxed)
        channel.loop.execute { self.channel.close(error: nil) }
    }

    private func beginGracefulClose() {
        closeRequested.store(true, ordering: .relaxed)
        channel.stopReading()
        tellHandlerOfClose()
        closeIfDrained()
    }

    /// Once, on the loop: the handler may now redeem tickets it holds for later (long polls).
    private func tellHandlerOfClose() {
        guard !handlerToldOfClose else { return }
        handlerToldOfClose = true
        handler.connectionWillClose(self)
    }

    private func closeIfDrained() {
        if sequencer.isIdle && closeRequested.load(ordering: .relaxed) {
            channel.closeAfterWrites()
        }
    }

    // MARK: Idle timeout (on the loop)

    /// Whether no byte moved for `timeoutNanoseconds` while no request was in flight.
    func isIdle(now: UInt64, timeoutNanoseconds: UInt64) -> Bool {
        channel.isOpen && sequencer.uncompletedCount == 0 && now &- channel.lastActivity >= timeoutNanoseconds
    }

    /// Closes an idle connection.
    func closeIdle(timeout: Duration) {
        channel.logger.debug("closing idle connection", metadata: ["tern_idle_timeout": "\(timeout)"])
        channel.close(error: NetError(.timedOut, "connection from \(peer) idle for \(timeout)"))
    }

    /// Whether part of a request frame has waited `timeoutNanoseconds` while the connection read.
    func hasStalledPartialRequest(now: UInt64, timeoutNanoseconds: UInt64) -> Bool {
        channel.hasStalledPartialFrame(now: now, timeoutNanoseconds: timeoutNanoseconds)
    }

    /// Closes a connection whose peer stalled part-way through a request frame.
    func closeStalled(timeout: Duration) {
        LogRateLimiter.peerWarnings.warning(
            channel.logger, "closing connection: a request frame stayed incomplete too long",
            metadata: ["tern_partial_request_timeout": "\(timeout)"])
        channel.close(error: NetError(.timedOut, "request frame from \(peer) incomplete after \(timeout)"))
    }

    /// Notices a peer that closed while reading is suspended (see
    /// ``SocketChannel/checkPeerWhileSuspended()``); on the loop.
    func checkPeerWhileSuspended() {
        channel.checkPeerWhileSuspended()
    }

    /// Whether reading is suspended by backpressure now; on the loop (tests and diagnostics).
    var isReadSuspended: Bool { channel.isReadSuspended }

    /// What the connection's socket has done so far; on the loop (tests and diagnostics).
    var statistics: SocketChannel.Statistics { channel.statistics }
}

extension ServerConnection: SocketChannelDelegate {
    func channelDidCompleteHandshake(_ channel: SocketChannel) {
        guard let subject = channel.tls?.peerSubject else { return }
        certificateSubject.withLock { $0 = subject }
        channel.logger.debug("TLS client authenticated", metadata: ["tern_principal": "User:\(subject)"])
    }

    var channelMayDeliverFrame: Bool {
        sequencer.uncompletedCount < maxInFlightRequests && !closeRequested.load(ordering: .relaxed)
    }

    func channelWillDeliverFrames(_ channel: SocketChannel) {
        // Completions made during this read event (usually by the handler itself, synchronously)
        // are drained before the event writes, so they need no hop of their own.
        inbox.withLock { $0.drainPromised = true }
    }

    func channel(_ channel: SocketChannel, didReceiveFrame frame: UnsafeRawBufferPointer) {
        let ticket = ResponseTicket(connectionID: id, sequence: sequencer.issue())
        handler.connection(self, didReceiveFrame: frame, ticket: ticket)
        // Move a synchronous response into the write queue at once, so that backpressure on
        // pending bytes takes effect before the next frame.
        absorbCompletions(keepingPromise: true)
    }

    func channelDidDeliverFrames(_ channel: SocketChannel) {
        absorbCompletions(keepingPromise: false)
    }

    func channelDidReachEndOfInput(_ channel: SocketChannel) {
        channel.logger.trace("peer closed its side")
        beginGracefulClose()
    }

    func channelDidClose(_ channel: SocketChannel, error: NetError?) {
        inbox.withLock { inbox in
            inbox.isClosed = true
            inbox.items.removeAll()
        }
        sequencer = ResponseSequencer()
        channel.logger.debug("connection closed", metadata: error.map { ["error": "\($0)"] } ?? [:])
        tellHandlerOfClose()
        handler.connectionDidClose(self)
        onClose(self)
    }
}
