import Logging
import Dispatch
import Synchronization
import TernWire

/// Sends records to topics in batches.
///
/// Records are appended straight into a per-partition record batch (no task or allocation per
/// record beyond its bytes); a batch is sent when it is full (``ProducerConfiguration/batchSize``)
/// or its ``ProducerConfiguration/linger`` time has passed. One Produce request per broker carries
/// every ready batch of the partitions it leads, with up to
/// ``ProducerConfiguration/maxInFlightRequestsPerConnection`` requests outstanding per broker and
/// at most one per partition, so records of a partition are stored in the order they were sent,
/// retries included. Retriable failures are retried after ``ProducerConfiguration/retryBackoff``
/// and a metadata refresh, until ``ProducerConfiguration/deliveryTimeout``.
///
/// Partitioning follows Kafka's default: an explicit partition; else murmur2 of the key; else a
/// sticky partition per topic that moves on each time its batch is closed.
///
/// Two ways to send: `send(...) async throws -> RecordMetadata` waits for the acknowledgement;
/// `send(..., completion:)` returns at once and reports through a callback, the fast path for
/// high-throughput callers (use ``waitForCapacity()`` for backpressure and ``flush()`` at the end).
public final class TernProducer: Sendable {
    /// The producer's settings.
    public let configuration: ProducerConfiguration
    let client: TernClient
    let state: Mutex<ProducerState>
    private let timeoutMs: Int32
    private let extraTimeout: Duration

    init(client: TernClient, configuration: ProducerConfiguration, partitioner: StickyPartitioner = StickyPartitioner()) {
        self.client = client
        self.configuration = configuration
        var initial = ProducerState(configuration: configuration, partitioner: partitioner)
        initial.metadata = client.metadata.current
        self.state = Mutex(initial)
        let ms = configuration.requestTimeout.components.seconds * 1000
            + configuration.requestTimeout.components.attoseconds / 1_000_000_000_000_000
        self.timeoutMs = Int32(clamping: ms)
        // The connection waits at least the broker-side timeout plus half a second of slack.
        let needed = configuration.requestTimeout + .milliseconds(500)
        self.extraTimeout = max(needed - client.configuration.requestTimeout, .zero)
    }

    // MARK: Sending

    /// Sends a record and waits until the broker acknowledges it (or it fails).
    ///
    /// Waits first while the producer holds more than ``ProducerConfiguration/bufferMemory``.
    /// - Parameters:
    ///   - topic: The topic.
    ///   - key: The key; records with the same key go to the same partition. Nil for none.
    ///   - value: The value; nil is a tombstone on compacted topics.
    ///   - headers: Record headers.
    ///   - partition: A partition to use instead of the partitioner's choice.
    ///   - timestamp: CreateTime in ms since the epoch; nil for now.
    /// - Returns: Where the record was stored (offset -1 with acks=0).
    /// - Throws: ``TernError``: `.unknownTopic`, `.invalidArgument` (no such partition), `.broker`
    ///   for a non-retriable broker error, `.timedOut` after the delivery timeout, `.closed`.
    @discardableResult
    public func send(
        topic: String, key: [UInt8]? = nil, value: [UInt8]?, headers: [RecordHeader] = [], partition: Int32? = nil,
        timestamp: Int64? = nil
    ) async throws -> RecordMetadata {
        await waitForCapacity()
        let timestamp = timestamp ?? WallClock.nowMilliseconds()
        return try await withCheckedThrowingContinuation { continuation in
            enqueue(
                topic: topic, key: key, value: value, headers: headers, partition: partition, timestamp: timestamp,
                completion: .continuation(continuation))
        }
    }

    /// Sends a record without waiting: `completion` is called once with where it was stored, or
    /// why it failed. Never blocks; pair with ``waitForCapacity()`` to bound memory.
    ///
    /// `completion` runs on an internal queue (often a connection's): keep it short and
    /// non-blocking. Passing the same closure for many records costs nothing per record.
    public func send(
        topic: String, key: [UInt8]? = nil, value: [UInt8]?, headers: [RecordHeader] = [], partition: Int32? = nil,
        timestamp: Int64? = nil, completion: @escaping @Sendable (Result<RecordMetadata, TernError>) -> Void
    ) {
        enqueue(
            topic: topic, key: key, value: value, headers: headers, partition: partition,
            timestamp: timestamp ?? WallClock.nowMilliseconds(), completion: .callback(completion))
    }

    private func enqueue(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], partition: Int32?, timestamp: Int64,
        completion: RecordCompletion
    ) {
        let linger = configuration.linger
        enum Next {
            case nothing
            case drain
            case effects(ProducerEffects)
            case fail(TernError)
            case refresh
        }
        let next = state.withLock { state -> Next in
            if state.closed { return .fail(TernError(.closed, "cannot produce to topic '\(topic)': the producer is closed")) }
            if let fatal = state.idempotence.fatal { return .fail(fatal) }
            switch state.place(
                topic: topic, key: key, value: value, headers: headers, partition: partition, timestamp: timestamp,
                completion: completion, now: ContinuousClock.now)
            {
            case .failed(let error): return .fail(error)
            case .parked: return state.beginRefresh() ? .refresh : .nothing
            case .appended(let outcome):
                if outcome.closedBatch { return .drain }
                guard outcome.openedBatch else { return .nothing }
                var effects = ProducerEffects()
                state.arm(ContinuousClock.now + linger, into: &effects)
                return effects.arm == nil ? .nothing : .effects(effects)
            }
        }
        switch next {
        case .nothing: break
        case .drain: drain()
        case .effects(let effects): perform(effects)
        case .fail(let error): completion.complete(.failure(error))
        case .refresh: startRefresh(alreadyBegun: true)
        }
    }

    // MARK: Flow control

    /// Suspends while the producer holds more than ``ProducerConfiguration/bufferMemory`` bytes of
    /// records; returns at once otherwise.
    public func waitForCapacity() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.closed || state.accumulator.bufferedBytes < configuration.bufferMemory { return true }
                state.capacityWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Bytes of records the producer holds (queued or awaiting acknowledgement).
    public var bufferedBytes: Int { state.withLock { $0.accumulator.bufferedBytes } }

    /// Sends everything held now, ignoring linger, and returns once every record sent before the
    /// call (and any sent meanwhile) has been acknowledged or has failed. Failures are reported
    /// to each record's completion, not thrown here.
    /// - Throws: `CancellationError` when the calling task is cancelled while waiting.
    public func flush() async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterId += 1
            return state.nextWaiterId
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let done = state.withLock { state -> Bool in
                    if state.outstanding == 0 { return true }
                    state.flushers += 1
                    state.flushWaiters[id] = continuation
                    return false
                }
                if done { continuation.resume() } else { drain() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let waiter = state.flushWaiters.removeValue(forKey: id) else { return nil }
                state.flushers -= 1
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Stops accepting records (later sends fail with `.closed`), then delivers everything held,
    /// waiting at most the delivery timeout.
    public func close() async {
        state.withLock { $0.closed = true }
        try? await flush()
    }

    // MARK: Sender

    /// Sends whatever is ready; called when a batch fills, on the linger/backoff timer, after
    /// responses, connects and metadata refreshes.
    func drain() {
        let pool = client.pool
        let effects = state.withLock { state in
            state.drain(now: .now, connectionReady: { pool.readyConnection(to: $0) != nil })
        }
        perform(effects)
    }

    /// Carries out what a state change asked for, outside the lock.
    func perform(_ effects: ProducerEffects) {
        for (batch, baseOffset) in effects.deliver { batch.complete(baseOffset: baseOffset) }
        for (batch, error) in effects.fail { batch.fail(error) }
        for (completion, error) in effects.failRecords { completion.complete(.failure(error)) }
        for (node, partitions) in effects.send { send(partitions, to: node) }
        for node in effects.connect {
            client.pool.connection(to: node) { [weak self] result in self?.connected(node: node, result) }
        }
        if let instant = effects.arm { schedule(at: instant) }
        for waiter in effects.resumeFlush { waiter.resume() }
        for waiter in effects.resumeCapacity { waiter.resume() }
        if effects.refreshMetadata {
            startRefresh()
        } else if let delay = effects.refreshAfter {
            DispatchQueue.global().asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
                self?.startRefresh()
            }
        }
        if effects.initProducerId { initProducerId() }
        if let delay = effects.drainAfter {
            DispatchQueue.global().asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in self?.drain() }
        }
        if effects.drainAgain { drain() }
    }

    /// Asks some broker for a producer id (InitProducerId) for the idempotent producer.
    private func initProducerId() {
        let client = self.client
        Task { [weak self] in
            let result: Result<InitProducerIdResponse, TernError>
            do {
                result = .success(try await client.sendToAnyBroker(InitProducerIdRequest()))
            } catch let error as TernError {
                result = .failure(error)
            } catch {
                result = .failure(TernError(.connectionFailed, "InitProducerId failed: \(error)"))
            }
            guard let self else { return }
            if case .success(let response) = result, response.errorCode == .none {
                client.logger.debug(
                    "idempotent producer id", metadata: ["tern_producer_id": "\(response.producerId)"])
            }
            self.perform(self.state.withLock { $0.producerIdReceived(result) })
        }
    }

    /// The idempotent producer's id and epoch; nil before the first send obtained one (or with
    /// idempotence off).
    public var producerIdAndEpoch: (producerId: Int64, epoch: Int16)? {
        state.withLock { state in
            state.idempotence.phase == .ready ? (state.idempotence.producerId, state.idempotence.epoch) : nil
        }
    }

    private func send(_ partitions: [(TopicPartition, [ProducerBatch])], to node: Int32) {
        let sent = partitions.map(\.0)
        guard let connection = client.pool.readyConnection(to: node) else {
            let error = TernError(.connectionFailed, "connection to broker \(node) closed before the request was sent")
            return responded(node: node, partitions: partitions, outcomes: ProduceOutcome.map(.failure(error), sent: sent, peer: "broker \(node)"))
        }
        let clientId = client.configuration.clientId
        let acks = configuration.acks.rawValue
        let timeoutMs = self.timeoutMs
        let encode = { (id: UInt32) in
            ProduceRequestEncoder.encode(
                correlationId: id, clientId: clientId, acks: acks, timeoutMs: timeoutMs, partitions: partitions)
        }
        let peer = connection.description
        if configuration.acks == .none {
            let written = connection.sendWithoutResponse(encode: encode)
            let result: Result<ProduceResponse, TernError> =
                written
                ? .success(ProduceResponse(topics: []))
                : .failure(TernError(.connectionFailed, "connection to \(peer) is closed"))
            var outcomes = ProduceOutcome.map(result, sent: sent, peer: peer)
            if written { for tp in sent { outcomes[tp] = .delivered(baseOffset: -1) } }
            return responded(node: node, partitions: partitions, outcomes: outcomes)
        }
        let version = ProduceRequestEncoder.version(of: partitions)
        connection.sendFrames(api: .produce, extraTimeout: extraTimeout, encode: encode) { [self] result in
            let decoded = result.flatMap {
                BrokerConnection.decode(ProduceResponse.self, $0, .produce, peer, version: version)
            }
            responded(node: node, partitions: partitions, outcomes: ProduceOutcome.map(decoded, sent: sent, peer: peer))
        }
    }

    private func responded(
        node: Int32, partitions: [(TopicPartition, [ProducerBatch])], outcomes: [TopicPartition: ProduceOutcome]
    ) {
        let effects = state.withLock { $0.apply(outcomes, sent: partitions, node: node, now: .now) }
        perform(effects)
    }

    private func connected(node: Int32, _ result: Result<BrokerConnection, TernError>) {
        switch result {
        case .success:
            state.withLock { _ = $0.connecting.remove(node) }
            drain()
        case .failure(let error):
            client.logger.debug(
                "producer cannot reach broker", metadata: ["tern_peer": "\(node)", "error": "\(error)"])
            perform(state.withLock { $0.connectFailed(node: node, error: error, now: .now) })
        }
    }

    private func schedule(at instant: ContinuousClock.Instant) {
        // A millisecond of slack so the timer never fires before the instant by the other clock.
        let delay = max(instant - .now, .zero) + .milliseconds(1)
        DispatchQueue.global().asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
            guard let self else { return }
            self.state.withLock { state in
                if let wakeupAt = state.wakeupAt, wakeupAt <= instant { state.wakeupAt = nil }
            }
            self.drain()
        }
    }

    // MARK: Metadata

    /// Refreshes metadata unless a refresh is running (then one more follows it).
    /// - Parameter alreadyBegun: the caller already marked the refresh as running.
    private func startRefresh(alreadyBegun: Bool = false) {
        guard alreadyBegun || state.withLock({ $0.beginRefresh() }) else { return }
        let metadata = client.metadata
        Task { [weak self] in
            let result: Result<ClusterMetadata, TernError>
            do {
                result = .success(try await metadata.refresh())
            } catch let error as TernError {
                result = .failure(error)
            } catch {
                result = .failure(TernError(.connectionFailed, "metadata refresh failed: \(error)"))
            }
            guard let self else { return }
            self.perform(self.state.withLock { $0.metadataRefreshed(result, now: .now) })
        }
    }
}

extension Duration {
    /// The duration for Dispatch deadlines.
    var dispatchInterval: DispatchTimeInterval {
        let (seconds, attoseconds) = components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        return .nanoseconds(Int(clamping: nanoseconds))
    }
}
