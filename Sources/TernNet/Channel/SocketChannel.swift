import Dispatch
import Logging

/// The socket mechanics of one connection, shared by the server and client sides: a read source
/// that reads until `EAGAIN` into a reusable buffer and hands out complete frames, a write queue
/// flushed with one `writev`/`sendfile` per run, a write source armed only after `EAGAIN`, read
/// backpressure, and a close that closes the descriptor only after every source on it has run
/// its cancel handler.
///
/// With a ``TLSStream`` the same loop runs TLS over memory BIOs: the handshake first (no frame is
/// read or written before it completes), then ciphertext in, plaintext frames out, and responses
/// encrypted in batches, one `write` each.
///
/// All of it runs on ``loop``; callers from other threads hop there first (``EventLoop/execute(_:)``).
final class SocketChannel: @unchecked Sendable {
    // `@unchecked Sendable`: every mutable property is read and written only on `loop.queue` —
    // the Dispatch sources deliver there and the owning connection hops there before calling in
    // (`loop.assertOnLoop()` checks it in debug builds).

    /// Where the channel is in its life.
    enum State {
        /// Created, sources not yet made.
        case idle
        /// Reading and writing.
        case active
        /// No longer reading; closes once the write queue is empty.
        case draining
        /// Sources cancelled; waiting for their cancel handlers before closing the descriptor.
        case closing
        /// Descriptor closed.
        case closed
    }

    /// Which TLS records a plaintext channel looks for in its first bytes, to name a peer that
    /// speaks TLS instead of failing on a nonsense frame size.
    enum PlaintextSniff {
        /// None (a TLS channel, or a protocol other than the native one).
        case none
        /// A server: a TLS ClientHello from a client that uses TLS.
        case refuseTLSClientHello
        /// A client: a TLS record in reply, from a broker that expects TLS.
        case detectTLSReply
    }

    /// A TLS handshake not finished this long after the connection opened closes it.
    private let tlsHandshakeTimeout: Duration

    /// The loop every call runs on.
    let loop: EventLoop
    /// The peer's address, `host:port`.
    let peer: String
    /// Carries `tern_peer` (and, on the server, `tern_connection_id`) metadata.
    let logger: Logger

    private let socket: SocketDescriptor
    private let readBuffer: ReadBuffer
    private let maxFrameBytes: Int
    private let maxPendingWriteBytes: Int
    private var writeQueue = WriteQueue()
    /// The connection's TLS; nil for plaintext.
    let tls: TLSStream?
    private var sniff: PlaintextSniff
    private var closeNotifyQueued = false
    private var delegate: (any SocketChannelDelegate)?
    private(set) var state = State.idle

    private var readSource: (any DispatchSourceRead)?
    private var readSuspended = false
    private var writeSource: (any DispatchSourceWrite)?
    private var writeSuspended = false
    private var pendingCancellations = 0

    /// The process-wide budget for frames larger than the resident read buffer; nil for none.
    private let memoryPool: RequestMemoryPool?
    /// Bytes of `memoryPool` held for the frame at the front of the read buffer (its buffer's
    /// capacity, grown with the bytes that arrived).
    private var reservedBytes = 0
    /// Reading waits until `memoryPool` has room for the frame at the front.
    private var waitingForMemory = false

    private var readingStopped = false
    private var inputClosed = false
    private var pumpScheduled = false
    private var closeError: NetError?

    /// When bytes were last read or written (`DispatchTime` uptime nanoseconds).
    private(set) var lastActivity: UInt64 = DispatchTime.now().uptimeNanoseconds
    /// Since when the read buffer has held part of a frame while the channel was reading
    /// (uptime nanoseconds); nil without a partial frame. Restarted when reading resumes after
    /// backpressure, so time the channel itself refused to read is not held against the peer.
    private(set) var partialFrameSince: UInt64?

    /// Counts of what the channel did, for diagnostics and tests.
    struct Statistics {
        /// Read events handled (source events and self-scheduled ones).
        var readEvents = 0
        /// `writev` calls (and, with TLS, `write` calls of ciphertext).
        var writevCalls = 0
        /// `sendfile` calls.
        var sendfileCalls = 0
        /// Writes that ended in `EAGAIN` and armed the write source.
        var wouldBlockWrites = 0
    }

    private var readEvents = 0
    private var wouldBlockWrites = 0

    /// What the channel has done so far; on the loop.
    var statistics: Statistics {
        loop.assertOnLoop()
        return Statistics(
            readEvents: readEvents, writevCalls: writeQueue.writevCalls + (tls?.writeCalls ?? 0),
            sendfileCalls: writeQueue.sendfileCalls,
            wouldBlockWrites: wouldBlockWrites)
    }

    /// - Parameters:
    ///   - maxPendingWriteBytes: reading stops while more than this many bytes wait to be written.
    init(
        socket: SocketDescriptor, peer: String, loop: EventLoop, maxFrameBytes: Int, maxPendingWriteBytes: Int,
        framing: Framing = .lengthPrefixed, memoryPool: RequestMemoryPool? = nil, tls: TLSStream? = nil,
        sniff: PlaintextSniff = .none, tlsHandshakeTimeout: Duration = .seconds(10), logger: Logger
    ) {
        self.tlsHandshakeTimeout = tlsHandshakeTimeout
        self.tls = tls
        self.sniff = tls == nil ? sniff : .none
        self.memoryPool = memoryPool
        self.socket = socket
        self.peer = peer
        self.loop = loop
        self.logger = logger
        // Negative limits (a bad configuration) act as zero rather than stopping the process.
        self.maxFrameBytes = max(maxFrameBytes, 0)
        self.maxPendingWriteBytes = max(maxPendingWriteBytes, 0)
        self.readBuffer = ReadBuffer(maxFrameBytes: self.maxFrameBytes, framing: framing)
    }

    /// Whether the channel still reads or writes.
    var isOpen: Bool { state == .active || state == .draining }

    /// Bytes queued and not yet written.
    var pendingWriteBytes: Int { writeQueue.pendingBytes + (tls?.pendingOutputBytes ?? 0) }

    /// Makes the read source and starts reading. The channel keeps `delegate` until it closes.
    func start(delegate: any SocketChannelDelegate) {
        loop.assertOnLoop()
        precondition(state == .idle, "channel started twice")
        self.delegate = delegate
        state = .active
        touch()
        let source = DispatchSource.makeReadSource(fileDescriptor: socket.rawValue, queue: loop.queue)
        source.setEventHandler { self.handleReadable() }
        source.setCancelHandler { self.sourceDidCancel() }
        readSource = source
        source.resume()
        if let tls {
            let timeout = tlsHandshakeTimeout
            loop.queue.asyncAfter(deadline: .now() + .nanoseconds(Int(timeout.clampedNanoseconds))) {
                guard self.isOpen, let tls = self.tls, !tls.isHandshakeComplete else { return }
                let error = NetError(
                    .timedOut, "TLS handshake with \(tls.peerName) not finished after \(timeout)")
                self.logHandshakeFailure(error)
                self.close(error: error)
            }
            // The client speaks first: its ClientHello goes out now.
            if tls.role == .client { _ = continueHandshake(tls) }
        }
    }

    /// Closes a channel that was never started (for example refused during shutdown). Any thread,
    /// as nothing else can know the channel yet.
    func discardUnstarted() {
        precondition(state == .idle, "only an unstarted channel can be discarded")
        state = .closed
        socket.close()
    }

    // MARK: Writing

    /// Queues a chunk behind everything queued before. Nothing is written until ``flush()``.
    func enqueue(_ chunk: OutboundChunk) {
        loop.assertOnLoop()
        guard isOpen else { return }
        writeQueue.append(chunk)
    }

    /// Writes what is queued now, unless the write source is already waiting for the socket to
    /// become writable. After `EAGAIN` the write source finishes the job.
    func flush() {
        loop.assertOnLoop()
        guard isOpen else { return }
        if writeSource != nil && !writeSuspended { return }
        write()
    }

    private func write() {
        let outcome: WriteQueue.FlushOutcome
        if let tls {
            outcome = tls.flush(to: socket.rawValue, queue: &writeQueue)
        } else {
            outcome = writeQueue.flush(to: socket.rawValue)
        }
        switch outcome {
        case .drained(let written):
            if written > 0 { touch() }
            if let source = writeSource, !writeSuspended {
                source.suspend()
                writeSuspended = true
            }
            if state == .draining {
                // A TLS connection says goodbye with close_notify before the socket closes.
                if let tls, tls.isHandshakeComplete, !closeNotifyQueued {
                    closeNotifyQueued = true
                    tls.shutdown()
                    write()
                    return
                }
                close(error: nil)
            }
        case .wouldBlock(let written):
            if written > 0 { touch() }
            wouldBlockWrites += 1
            armWriteSource()
        case .failed(let error):
            fail(error)
        }
    }

    private func armWriteSource() {
        if let source = writeSource {
            if writeSuspended {
                writeSuspended = false
                source.resume()
            }
            return
        }
        let source = DispatchSource.makeWriteSource(fileDescriptor: socket.rawValue, queue: loop.queue)
        source.setEventHandler { self.handleWritable() }
        source.setCancelHandler { self.sourceDidCancel() }
        writeSource = source
        writeSuspended = false
        source.resume()
    }

    private func handleWritable() {
        guard isOpen else { return }
        write()
        updateReadInterest()
    }

    // MARK: Reading

    /// The read event: hand over buffered frames, read until `EAGAIN` (or until backpressure),
    /// handing over frames after every read, then write everything that became ready at once.
    private func handleReadable() {
        guard state == .active, let delegate else { return }
        readEvents += 1
        if let tls, !tls.isHandshakeComplete {
            guard continueHandshake(tls) else { return }
        }
        delegate.channelWillDeliverFrames(self)
        var endOfInput = false
        var bytesRead = false
        reading: while true {
            deliverFrames(to: delegate)
            guard mayRead(delegate), reserveMemoryForFrame() else { break }
            switch readInput() {
            case .processed(0):
                endOfInput = true
                break reading
            case .processed:
                bytesRead = true
            case .wouldBlock:
                break reading
            case .failed(let error):
                fail(error)
                return
            }
        }
        if bytesRead { touch() }
        notePartialFrame()
        delegate.channelDidDeliverFrames(self)
        if endOfInput && state == .active {
            inputClosed = true
            updateReadInterest()
            delegate.channelDidReachEndOfInput(self)
        }
        flush()
        updateReadInterest()
    }

    private func readInput() -> IOResult<Int> {
        guard let tls else { return readBuffer.read(from: socket.rawValue) }
        let fd = socket.rawValue
        return readBuffer.read { tls.read(fd: fd, into: $0, count: $1) }
    }

    // MARK: TLS

    /// Advances the handshake with what the socket holds and writes what it produced.
    /// - Returns: true when the handshake is complete and the channel open for frames.
    private func continueHandshake(_ tls: TLSStream) -> Bool {
        switch tls.advanceHandshake(fd: socket.rawValue) {
        case .complete:
            touch()
            logger.debug("TLS handshake complete", metadata: ["tern_tls": "\(tls.negotiated)"])
            delegate?.channelDidCompleteHandshake(self)
            // The handshake's last flight, and frames queued while it ran.
            flush()
            return state == .active
        case .inProgress:
            flush()
            return false
        case .failed(let error):
            // The alert OpenSSL queued tells the peer why, when the socket takes it.
            tls.flushBestEffort(fd: socket.rawValue)
            logHandshakeFailure(error)
            close(error: error)
            return false
        }
    }

    private func logHandshakeFailure(_ error: NetError) {
        guard tls?.role == .server, error.code != .closed else {
            logger.debug("TLS handshake failed", metadata: ["error": "\(error)"])
            return
        }
        let message: Logger.Message =
            error.code == .tlsNotSpoken
            ? "closing connection: plaintext (not TLS) on a TLS listener" : "closing connection: TLS handshake failed"
        LogRateLimiter.peerWarnings.warning(logger, message, metadata: ["error": "\(error.message)"])
    }

    /// Before the first frame of a plaintext channel: a TLS record where a size prefix belongs
    /// means the peer speaks TLS. Returns true when it closed the channel for that.
    private func refusedTLSOnPlaintext() -> Bool {
        let head = readBuffer.peek(5)
        guard head.count >= 3 else { return false }
        let recordType = head[0]
        let looksLikeTLS =
            head[1] == 0x03 && head[2] <= 0x04
            && (head.count < 5 || (Int(head[3]) << 8 | Int(head[4])) <= 16 * 1024 + 2048)
        let mode = sniff
        sniff = .none
        switch mode {
        case .refuseTLSClientHello where looksLikeTLS && recordType == 0x16:
            LogRateLimiter.peerWarnings.warning(
                logger,
                "closing connection: a TLS ClientHello arrived on a plaintext listener (the client uses TLS, this listener is PLAINTEXT)"
            )
            close(error: NetError(.tlsNotSpoken, "TLS ClientHello from \(peer) on a plaintext listener"))
            return true
        case .detectTLSReply where looksLikeTLS && (recordType == 0x15 || recordType == 0x16):
            close(
                error: NetError(
                    .tlsRequired, "the broker at \(peer) expects TLS: it answered in TLS (connect with security.protocol=SSL)"))
            return true
        default:
            return false
        }
    }

    private func deliverFrames(to delegate: any SocketChannelDelegate) {
        if sniff != .none, refusedTLSOnPlaintext() { return }
        while mayDeliver(delegate) {
            switch readBuffer.nextFrame() {
            case .incomplete:
                return
            case .complete(let payload):
                delegate.channel(self, didReceiveFrame: payload)
                // Handled, or copied by the handler (which charges the pool for what it keeps).
                releaseReservedMemory()
                partialFrameSince = nil
            case .tooLarge(let size):
                LogRateLimiter.peerWarnings.warning(
                    logger, "closing connection: frame larger than the limit",
                    metadata: ["tern_frame_bytes": "\(size)", "tern_max_frame_bytes": "\(maxFrameBytes)"])
                close(
                    error: NetError(
                        .frameTooLarge,
                        "frame of \(size) bytes from \(peer) exceeds the limit of \(maxFrameBytes) bytes"))
                return
            }
        }
    }

    private func mayDeliver(_ delegate: any SocketChannelDelegate) -> Bool {
        state == .active && !readingStopped && writeQueue.pendingBytes <= maxPendingWriteBytes
            && delegate.channelMayDeliverFrame
    }

    private func mayRead(_ delegate: any SocketChannelDelegate) -> Bool {
        !inputClosed && !waitingForMemory && mayDeliver(delegate)
    }

    // MARK: Request memory

    /// Before a read: a frame too large for the resident buffer must hold the capacity it is read
    /// into in the memory pool, which grows with the bytes that arrive (a size prefix alone does
    /// not reserve the frame). When the pool refuses, reading stops until it has room.
    private func reserveMemoryForFrame() -> Bool {
        guard let pool = memoryPool, let bytes = readBuffer.incompleteFrameBytes, bytes > readBuffer.initialCapacity
        else { return true }
        let needed = readBuffer.capacityForNextRead
        guard needed > reservedBytes else { return true }
        let granted = pool.reserve(
            needed - reservedBytes, waiter: ObjectIdentifier(self), frameInProgress: reservedBytes > 0
        ) { [weak self] in
            guard let self else { return }
            self.loop.execute { self.memoryDidFree() }
        }
        if granted {
            reservedBytes = needed
        } else {
            waitingForMemory = true
        }
        return granted
    }

    private func releaseReservedMemory() {
        guard reservedBytes > 0 else { return }
        memoryPool?.releaseFrame(reservedBytes, holder: ObjectIdentifier(self))
        reservedBytes = 0
    }

    /// After a read event: starts the partial-frame clock when part of a frame waits in the
    /// buffer, stops it when none does.
    private func notePartialFrame() {
        if readBuffer.unconsumedBytes == 0 || readBuffer.hasFrame {
            partialFrameSince = nil
        } else if partialFrameSince == nil {
            partialFrameSince = DispatchTime.now().uptimeNanoseconds
        }
    }

    /// Whether part of a frame has waited `timeoutNanoseconds` while the channel was reading
    /// (a peer that announced a frame and stalls or trickles); on the loop.
    func hasStalledPartialFrame(now: UInt64, timeoutNanoseconds: UInt64) -> Bool {
        guard state == .active, !readSuspended, !readingStopped, let since = partialFrameSince else { return false }
        return now &- since >= timeoutNanoseconds
    }

    /// The pool has room again: read (and retry the reservation) when the socket is readable.
    private func memoryDidFree() {
        guard waitingForMemory else { return }
        waitingForMemory = false
        updateReadInterest()
    }

    /// Stops reading for good (graceful close); already-read frames are not handed over.
    func stopReading() {
        loop.assertOnLoop()
        readingStopped = true
        updateReadInterest()
    }

    /// Suspends the read source while backpressure holds (too much queued to write, too many
    /// requests in flight) and resumes it when it lifts. Frames already buffered when it lifts
    /// are handed over without waiting for new bytes.
    func updateReadInterest() {
        loop.assertOnLoop()
        guard isOpen, let source = readSource, let delegate else { return }
        let deliverable = mayDeliver(delegate)
        let wantsRead = deliverable && !inputClosed && !waitingForMemory
        if wantsRead == readSuspended {
            readSuspended = !wantsRead
            if wantsRead { source.resume() } else { source.suspend() }
            if wantsRead && partialFrameSince != nil { partialFrameSince = DispatchTime.now().uptimeNanoseconds }
        }
        // TLS may hold decrypted or undecrypted input the socket will not signal again.
        let tlsBuffered = wantsRead && tls.map { $0.isHandshakeComplete && $0.hasBufferedInput } == true
        if deliverable && !pumpScheduled && (readBuffer.hasFrame || tlsBuffered) {
            pumpScheduled = true
            loop.execute {
                self.pumpScheduled = false
                self.handleReadable()
            }
        }
    }

    /// For a channel whose reads are suspended (backpressure, waiting for request memory): a
    /// suspended read source reports nothing, not even end of input, so this looks at the socket
    /// without reading. A peer that failed or hung up closes the channel now. A peer that shut its
    /// sending side ends the input when no further frame can be made of what is left — nothing
    /// unread and no complete frame buffered, or a partial frame the unread bytes cannot complete
    /// — so the delegate hears ``SocketChannelDelegate/channelDidReachEndOfInput(_:)`` (and long
    /// polls are answered) instead of waiting on a peer that is gone. Frames the peer sent before
    /// it shut its side are still answered. On the loop; called periodically by the server.
    func checkPeerWhileSuspended() {
        loop.assertOnLoop()
        guard state == .active, readSuspended, !inputClosed, !readingStopped, let delegate else { return }
        let fd = socket.rawValue
        guard let peer = Syscall.peerState(fd), peer.inputShutDown || peer.failed else { return }
        if peer.failed && !peer.inputShutDown {
            close(error: NetError(.closed, "connection to \(self.peer) failed while reading was suspended"))
            return
        }
        guard !readBuffer.hasFrame, tls?.hasBufferedInput != true, let unread = Syscall.unreadBytes(fd) else { return }
        if tls != nil || readBuffer.incompleteFrameBytes == nil {
            // Ciphertext, or bytes not yet known to belong to a frame: only nothing left is final.
            guard unread == 0 else { return }
        } else if let frameBytes = readBuffer.incompleteFrameBytes, readBuffer.unconsumedBytes + unread >= frameBytes {
            return
        }
        logger.trace("peer closed its side while reading was suspended")
        inputClosed = true
        updateReadInterest()
        delegate.channelDidReachEndOfInput(self)
    }

    /// Whether reading is suspended now (for tests and diagnostics).
    var isReadSuspended: Bool {
        loop.assertOnLoop()
        return readSuspended || readSource == nil
    }

    // MARK: Closing

    /// Stops reading and closes once everything queued has been written.
    func closeAfterWrites() {
        loop.assertOnLoop()
        guard state == .active else { return }
        state = .draining
        readingStopped = true
        updateReadInterest()
        flush()
    }

    /// Closes now, dropping anything not yet written. Each suspended source is resumed before it
    /// is cancelled (releasing a suspended source crashes Dispatch); the descriptor is closed once
    /// every source's cancel handler has run, then the delegate hears ``SocketChannelDelegate/channelDidClose(_:error:)``.
    func close(error: NetError?) {
        loop.assertOnLoop()
        switch state {
        case .closing, .closed:
            return
        case .idle:
            discardUnstarted()
            return
        case .active, .draining:
            break
        }
        state = .closing
        closeError = error
        writeQueue.removeAll()
        // A dropped partial frame gives its memory back; a wait for memory ends.
        releaseReservedMemory()
        if waitingForMemory {
            waitingForMemory = false
            memoryPool?.cancelWait(ObjectIdentifier(self))
        }
        if let source = readSource {
            if readSuspended {
                readSuspended = false
                source.resume()
            }
            pendingCancellations += 1
            source.cancel()
        }
        if let source = writeSource {
            if writeSuspended {
                writeSuspended = false
                source.resume()
            }
            pendingCancellations += 1
            source.cancel()
        }
        if pendingCancellations == 0 { finishClose() }
    }

    private func fail(_ error: NetError) {
        logger.debug("closing connection after an I/O error", metadata: ["error": "\(error)"])
        close(error: error)
    }

    private func sourceDidCancel() {
        pendingCancellations -= 1
        precondition(pendingCancellations >= 0, "a source of \(peer) ran its cancel handler twice")
        if pendingCancellations == 0 { finishClose() }
    }

    private func finishClose() {
        precondition(state == .closing)
        state = .closed
        readSource = nil
        writeSource = nil
        socket.close()
        let delegate = self.delegate
        self.delegate = nil
        delegate?.channelDidClose(self, error: closeError)
    }

    private func touch() {
        lastActivity = DispatchTime.now().uptimeNanoseconds
    }
}
