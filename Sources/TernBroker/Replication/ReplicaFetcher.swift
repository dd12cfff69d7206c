import Dispatch
import Logging
import Synchronization
import TernRaft
import TernStorage
import TernWire

/// Settings of the replica fetchers (`num.replica.fetchers`, `replica.fetch.max.bytes`,
/// `replica.fetch.wait.max.ms`, `inter.broker.listener.name`).
struct ReplicaFetcherSettings: Sendable {
    var fetchers = 1
    var maxBytes = 1_048_576
    var maxWaitMs = 500
    /// The leader's registered listener followers connect to (PLAINTEXT by default).
    var listenerName = "PLAINTEXT"
    /// Wait before the next fetch after one that brought nothing but errors, or failed.
    var backoffMs = 100
    /// Wait before connecting again after a TLS handshake or SASL login failed (a configuration
    /// problem: each attempt costs the leader a handshake and a logged failure).
    var securityBackoffMs = 2000
}

/// What a fetcher needs from its broker.
struct ReplicaFetcherHost: Sendable {
    /// The address of broker `id`'s inter-broker listener, from the metadata image, and how
    /// that listener is secured.
    var address: @Sendable (Int32) -> (host: String, port: Int, securityProtocol: SecurityProtocol)?
    /// What a connection to a listener of that protocol needs (TLS context, SASL login).
    var security: @Sendable (SecurityProtocol) -> ChannelSecurity = { _ in .plaintext }
    /// Group commit of a follower's appended records (``LogManager/whenDurable(_:upTo:completion:)``).
    var whenDurable: @Sendable (PartitionLog, Int64, @escaping @Sendable (Bool) -> Void) -> Void
    /// What is fsynced of a log now (``LogManager/durableOffset(of:)``).
    var durableOffset: @Sendable (PartitionLog) -> Int64
}

/// Fetches, for one leader broker, every partition this broker follows from it (those that hash
/// to this fetcher when `num.replica.fetchers` > 1): one Fetch request at a time on one
/// connection, with `replicaId` = this broker, each partition's last fetched epoch and its
/// durable offset. It appends what comes back with ``PartitionLog/appendAsFollower(_:)``
/// (truncating first when the leader names a diverging epoch), asks the flusher to make it
/// durable and, as soon as that fsync completes, fetches again, so the leader learns the new
/// durable offset — which moves the high watermark and answers `acks=all` produces — at once.
///
/// A reply is applied only to the fetch it answers: each partition's entry carries the
/// machine's incarnation and sequence, and the machine ignores a reply to any other fetch.
final class ReplicaFetcher: Sendable {
    private struct State {
        var partitions: [TopicPartition: HostedReplica] = [:]
        var running = false
        var stopped = false
        var channel: ControllerChannel?
        /// The protocol `channel` speaks (a leader re-registered on the same port with another
        /// one needs a new channel).
        var channelProtocol = SecurityProtocol.plaintext
        /// When a connection failure was last logged as a warning (uptime nanoseconds).
        var lastWarningAt: UInt64 = 0
    }

    let leader: Int32
    let nodeId: Int32
    private let settings: ReplicaFetcherSettings
    private let host: ReplicaFetcherHost
    /// The reassignment throttle on this broker's fetching (ReplicationThrottle.swift).
    private let throttle: ReplicaFetcherThrottle
    private let logger: Logger
    private let state = Mutex(State())
    /// Serial: one round at a time (a round's disk work — appends, truncations — runs here).
    private let queue: DispatchQueue

    init(
        leader: Int32, index: Int, nodeId: Int32, settings: ReplicaFetcherSettings, host: ReplicaFetcherHost,
        throttle: ReplicaFetcherThrottle = .init(), logger: Logger
    ) {
        self.leader = leader
        self.nodeId = nodeId
        self.settings = settings
        self.host = host
        self.throttle = throttle
        var logger = logger
        logger[metadataKey: "tern_leader"] = "\(leader)"
        self.logger = logger
        self.queue = DispatchQueue(label: "tern.replica-fetcher.\(leader).\(index)")
    }

    /// Replaces the partitions fetched; starts the loop when it has work.
    func set(_ partitions: [TopicPartition: HostedReplica]) {
        let start = state.withLock { state -> Bool in
            state.partitions = partitions
            guard !state.running, !state.stopped, !partitions.isEmpty else { return false }
            state.running = true
            return true
        }
        if start { queue.async { [self] in round() } }
    }

    /// Stops fetching and closes the connection (a request in flight is abandoned).
    func stop() {
        let channel = state.withLock { state -> ControllerChannel? in
            state.stopped = true
            state.partitions = [:]
            defer { state.channel = nil }
            return state.channel
        }
        channel?.close()
    }

    private func schedule(afterMs delay: Int) {
        if delay <= 0 {
            queue.async { [self] in round() }
        } else {
            queue.asyncAfter(deadline: .now() + .milliseconds(delay)) { [self] in round() }
        }
    }

    /// One fetch: collects each partition's next fetch from its machine and sends them together.
    private func round() {
        let (partitions, stopped) = state.withLock { state in
            let idle = state.partitions.isEmpty || state.stopped
            if idle { state.running = false }
            return (state.partitions, idle)
        }
        if stopped { return }
        guard let channel = channel() else { return schedule(afterMs: settings.backoffMs) }
        let now = replicationNow()
        var sent: [(HostedReplica, ReplicaFetch)] = []
        // A throttled partition (a replica being added by a reassignment) is fetched only while
        // its topic's bucket is not in debt, and asks for at most one second's worth (the leader
        // still sends one whole batch); one that must wait is not stepped, so its machine does
        // not count a fetch in flight.
        var limits: [TopicPartition: Int] = [:]
        var throttleWaitMs: Int64?
        let rates = throttle.rates(Array(partitions.keys))
        throttle.buckets.prune(now: now)
        for replica in partitions.values {
            let tp = replica.topicPartition
            if let rate = rates[tp] {
                let allowance = throttle.buckets.allowance(topic: tp.topic, rate: rate, now: now)
                guard allowance.go else {
                    throttleWaitMs = min(throttleWaitMs ?? .max, max(allowance.waitMs, 1))
                    continue
                }
                limits[tp] = Int(min(allowance.bytes, Int64(settings.maxBytes)))
            }
            let fetch = replica.state.withLock { state -> ReplicaFetch? in
                guard state.machine.role == .follower(leader: leader) else { return nil }
                var fetch = state.pendingFetch ?? ReplicaManager.lastFetch(state.step(.tick, now: now))
                state.pendingFetch = nil
                // What is durable now, not when the machine asked: the fsync that just finished
                // is what the leader is waiting to hear about.
                if let current = fetch?.durableOffset {
                    fetch?.durableOffset = max(current, state.machine.durableEnd)
                }
                return fetch
            }
            if let fetch { sent.append((replica, fetch)) }
        }
        guard !sent.isEmpty else {
            return schedule(afterMs: throttleWaitMs.map { Int(min($0, Int64(settings.backoffMs))) } ?? settings.backoffMs)
        }
        var byTopic: [String: [TernWire.FetchRequest.Partition]] = [:]
        for (replica, f) in sent {
            byTopic[replica.topicPartition.topic, default: []].append(
                .init(
                    partition: replica.topicPartition.partition, fetchOffset: f.fetchOffset,
                    maxBytes: Int32(clamping: limits[replica.topicPartition] ?? settings.maxBytes),
                    currentLeaderEpoch: f.leaderEpoch,
                    lastFetchedEpoch: f.lastFetchedEpoch, durableOffset: f.durableOffset))
        }
        let request = TernWire.FetchRequest(
            replicaId: nodeId, maxWaitMs: Int32(clamping: settings.maxWaitMs), minBytes: 1,
            maxBytes: Int32(clamping: settings.maxBytes),
            topics: byTopic.sorted { $0.key < $1.key }.map { .init(name: $0.key, partitions: $0.value) })
        let inFlight = sent
        let throttled = Set(limits.keys)
        channel.send(request, timeout: .milliseconds(settings.maxWaitMs + 10_000)) { [self] result in
            queue.async { [self] in handle(result, inFlight, throttled: throttled) }
        }
    }

    /// The connection to the leader's inter-broker listener, made again when its address changed.
    private func channel() -> ControllerChannel? {
        guard let address = host.address(leader) else {
            logger.debug("the leader has no inter-broker listener in the metadata image yet")
            return nil
        }
        let (channel, old) = state.withLock { state -> (ControllerChannel, ControllerChannel?) in
            if let c = state.channel, c.host == address.host, c.port == address.port,
                state.channelProtocol == address.securityProtocol
            {
                return (c, nil)
            }
            let old = state.channel
            let c = ControllerChannel(
                host: address.host, port: address.port, clientId: "tern-replica-\(nodeId)",
                // A response carries up to maxBytes of records, plus at least one whole batch.
                maxFrameBytes: settings.maxBytes + (16 << 20), security: host.security(address.securityProtocol))
            state.channel = c
            state.channelProtocol = address.securityProtocol
            return (c, old)
        }
        old?.close()
        return channel
    }

    private func handle(
        _ result: Result<[UInt8], ControllerChannelError>, _ sent: [(HostedReplica, ReplicaFetch)],
        throttled: Set<TopicPartition>
    ) {
        let response: TernWire.FetchResponse
        switch result {
        case .failure(let error):
            // Refused by the leader's authorizer: this broker's principal lacks CLUSTER_ACTION.
            let denied = error.code == .topicAuthorizationFailed || error.code == .clusterAuthorizationFailed
            if error.securityFailure || denied {
                // A wrong password or an untrusted certificate: the operator must see it (the
                // leader's ISR loses this broker), but once per interval, not per attempt.
                let now = DispatchTime.now().uptimeNanoseconds
                let warn = state.withLock { state -> Bool in
                    guard state.lastWarningAt == 0 || now - state.lastWarningAt >= 30_000_000_000 else { return false }
                    state.lastWarningAt = now
                    return true
                }
                if warn {
                    logger.warning(
                        "the partition leader refuses this broker's replica fetches (TLS, SASL or authorization)",
                        metadata: ["error": "\(error)"])
                } else {
                    logger.debug("replica fetch failed", metadata: ["error": "\(error)"])
                }
                return schedule(afterMs: max(settings.securityBackoffMs, settings.backoffMs))
            }
            logger.debug("replica fetch failed", metadata: ["error": "\(error)"])
            return schedule(afterMs: settings.backoffMs)
        case .success(let body):
            var reader = ByteReader(body)
            do {
                response = try TernWire.FetchResponse(from: &reader, version: TernWire.FetchRequest.apiVersion)
            } catch {
                logger.warning("unreadable replica fetch response", metadata: ["error": "\(error)"])
                return schedule(afterMs: settings.backoffMs)
            }
        }
        var answers: [TopicPartition: TernWire.FetchResponse.Partition] = [:]
        for topic in response.topics {
            for p in topic.partitions { answers[TopicPartition(topic.name, p.partition)] = p }
        }
        let now = replicationNow()
        // Paid for after the fact, whole batches included: the next fetch waits out the debt.
        for (tp, answer) in answers where !answer.records.isEmpty && throttled.contains(tp) {
            throttle.buckets.charge(topic: tp.topic, bytes: answer.records.count, now: now)
        }
        var durableWaits: [(HostedReplica, Int64)] = []
        var progressed = false
        for (replica, f) in sent {
            guard let answer = answers[replica.topicPartition] else { continue }
            let outcome = apply(answer, to: replica, fetch: f)
            if let end = outcome.appendedEnd { durableWaits.append((replica, end)) }
            progressed = progressed || outcome.progressed
        }
        guard !durableWaits.isEmpty else { return schedule(afterMs: progressed ? 0 : settings.backoffMs) }
        // Fetch again once everything appended is durable: that fetch reports it.
        let remaining = Atomic<Int>(durableWaits.count)
        for (replica, end) in durableWaits {
            host.whenDurable(replica.log, end) { [self] ok in
                if ok { _ = replica.persisted(upTo: end, durableOffset: host.durableOffset) }
                if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { schedule(afterMs: 0) }
            }
        }
    }

    private struct Outcome {
        var appendedEnd: Int64?
        var progressed: Bool
    }

    /// Steps the partition's machine with the leader's answer and performs what it asks: a
    /// truncation, then the append of the whole batches received.
    private func apply(_ answer: TernWire.FetchResponse.Partition, to replica: HostedReplica, fetch f: ReplicaFetch)
        -> Outcome
    {
        var bytes: [UInt8] = []
        let body: ReplicaFetchReply.Body
        if answer.errorCode == .none, answer.divergingEpoch >= 0 {
            body = .diverging(epoch: answer.divergingEpoch, endOffset: answer.divergingEndOffset)
        } else if answer.errorCode != .none {
            switch answer.errorCode {
            case .offsetOutOfRange: body = .offsetOutOfRange(leaderLogStart: answer.logStartOffset)
            case .fencedLeaderEpoch: body = .refused(.fencedLeaderEpoch)
            case .unknownLeaderEpoch: body = .refused(.unknownLeaderEpoch)
            default: body = .refused(.notLeader)
            }
            if answer.errorCode != .notLeaderOrFollower && answer.errorCode != .offsetOutOfRange {
                logger.debug(
                    "leader refused a replica fetch",
                    metadata: ["tern_topic": "\(replica.topicPartition)", "error": "\(answer.errorCode)"])
            }
        } else {
            let parsed = Self.wholeBatches(answer.records, from: f.fetchOffset)
            bytes = parsed.bytes
            body = .records(from: f.fetchOffset, to: parsed.end, batchEpochs: parsed.epochs)
        }
        let reply = ReplicaFetchReply(
            leaderEpoch: f.leaderEpoch, highWatermark: answer.highWatermark, incarnation: f.incarnation,
            sequence: f.sequence, body: body)
        return replica.state.withLock { state -> Outcome in
            let effects = state.step(.fetchReply(from: leader, reply), now: replicationNow())
            var outcome = Outcome(appendedEnd: nil, progressed: false)
            do {
                for effect in effects {
                    switch effect {
                    case .truncate(let offset):
                        logger.info(
                            "truncating a diverging log",
                            metadata: [
                                "tern_topic": "\(replica.topicPartition.topic)",
                                "tern_partition": "\(replica.topicPartition.partition)", "tern_offset": "\(offset)",
                            ])
                        try replica.log.truncate(to: offset)
                        outcome.progressed = true
                    case .truncateFully(let start):
                        logger.warning(
                            "the leader's log starts past this log's end (retention ran while this replica was away): starting over there",
                            metadata: [
                                "tern_topic": "\(replica.topicPartition.topic)",
                                "tern_partition": "\(replica.topicPartition.partition)", "tern_offset": "\(start)",
                            ])
                        try replica.log.truncateFully(startingAt: start)
                        outcome.progressed = true
                    case .appendFetched(_, let to):
                        let result = try replica.log.appendAsFollower(bytes)
                        guard result.logEndOffset == to else {
                            throw StorageError(
                                .invalidBatch, "replicated batches end at \(result.logEndOffset), expected \(to)")
                        }
                        outcome.appendedEnd = to
                        outcome.progressed = true
                    case .sendFetch(_, let next):
                        state.pendingFetch = next
                    default:
                        break
                    }
                }
            } catch {
                logger.error(
                    "cannot apply replicated data; starting over from the log",
                    metadata: ["tern_topic": "\(replica.topicPartition)", "error": "\(error)"])
                state.resync(log: replica.log, durableEnd: host.durableOffset(replica.log))
                // What the failed step left appended but unsynced is made durable before the
                // machine reports it (the next fetch waits for that fsync).
                let end = replica.log.logEndOffset
                outcome.appendedEnd = state.machine.durableEnd < end ? end : nil
            }
            if case .diverging = body { outcome.progressed = true }
            return outcome
        }
    }

    /// The whole batches of `records` from the one starting at `from` (a trailing partial batch
    /// is left for the next fetch), their end offset and where each epoch starts.
    static func wholeBatches(_ records: [UInt8], from: Int64) -> (bytes: [UInt8], end: Int64, epochs: [EpochEntry]) {
        var position = 0
        var end = from
        var epochs: [EpochEntry] = []
        while let header = RecordBatchHeader(records, at: position), header.batchLength > 0,
            position + header.totalSize <= records.count
        {
            // The leader reads from the batch holding `from`; a follower's fetch offset is always
            // a batch boundary, so anything else is not this log's continuation.
            guard header.baseOffset == end else { break }
            if epochs.last?.epoch != header.partitionLeaderEpoch {
                epochs.append(EpochEntry(epoch: header.partitionLeaderEpoch, startOffset: header.baseOffset))
            }
            end = header.lastOffset + 1
            position += header.totalSize
        }
        return (position == records.count ? records : Array(records[0..<position]), end, epochs)
    }
}

extension HostedReplica.State {
    /// Rebuilds the machine from what the log holds (after an append or truncation failed
    /// half-way), keeping the committed partition state. Only `durableEnd` — what is fsynced, not
    /// what the failed step left in the page cache — counts as durable.
    mutating func resync(log: PartitionLog, durableEnd: Int64) {
        let old = machine
        machine = PartitionReplica(
            config: old.config, incarnation: UInt64.random(in: 1...UInt64.max), logEnd: log.logEndOffset,
            durableEnd: durableEnd, history: LeaderEpochCache(log.leaderEpochs), highWatermark: old.highWatermark)
        pendingFetch = nil
        if let p = old.partition {
            pendingFetch = ReplicaManager.lastFetch(step(.partitionState(p), now: replicationNow()))
        }
    }
}
