import TernNet
import TernStorage
import TernWire

extension Broker {
    /// Fetch: read whole batches below the high watermark; if fewer than `minBytes` are there and
    /// `maxWaitMs` allows, park the request until an append brings enough, the wait (capped by
    /// `fetch.max.wait.cap.ms`) ends or the connection closes.
    ///
    /// A v1 request with a session is first turned into the full request of its session
    /// (``FetchSessionCache``); its response then lists only partitions with something new.
    func handleFetch(_ incoming: FetchRequest, _ context: RequestContext) {
        // A follower's fetch: no session, no READ check (CLUSTER_ACTION was checked), records up
        // to the log end (Broker+ReplicaFetch.swift).
        if incoming.replicaId >= 0 { return handleReplicaFetch(incoming, context) }
        let resolved: FetchSessionCache.Resolved
        switch fetchSessions.resolve(incoming) {
        case .success(let value): resolved = value
        case .failure(let error): return context.respond(error: ResponseStatus(error.code, error.message))
        }
        let request = resolved.request
        let version = incoming.version
        let read = readFetch(request, denied: context.access.flatMap { deniedTopics(request, $0) })
        let minBytes = Int(max(request.minBytes, 0))
        if read.byteCount >= minBytes || read.hasError || request.maxWaitMs <= 0 {
            return respond(read, resolved, version: version, context)
        }
        let partitions = request.topics.flatMap { t in t.partitions.map { TopicPartition(t.name, $0.partition) } }
        purgatory.park(
            owner: context.connection.id, partitions: partitions, minBytes: minBytes - read.byteCount,
            maxWaitMs: Int(request.maxWaitMs)
        ) { [self] in
            respond(readFetch(request), resolved, version: version, context)
        }
        // A replicated partition's high watermark may have moved between the read and the
        // parking, waking nobody: check once the fetch is parked.
        for topic in request.topics {
            for p in topic.partitions {
                let tp = TopicPartition(topic.name, p.partition)
                if let hw = replication.hosted(tp)?.consumerHighWatermark, hw > p.fetchOffset {
                    purgatory.didAppend(to: tp, bytes: Int(Int32.max))
                }
            }
        }
    }

    /// Sends a fetch response (only what changed, for an incremental session) and counts what it
    /// carries: bytes and records out per topic, and each partition's error.
    private func respond(
        _ read: FetchRead, _ resolved: FetchSessionCache.Resolved, version: UInt16, _ context: RequestContext
    ) {
        let read = fetchSessions.filter(read, resolved)
        for topic in read.topics {
            var bytes = 0
            var records = 0
            for partition in topic.partitions {
                bytes += partition.byteCount
                records += partition.recordCount
                if partition.header.errorCode != .none { context.metrics.failed(partition.header.errorCode) }
            }
            if bytes > 0 {
                topicMetrics(topic.name).fetched(bytes: bytes, records: records)
            }
        }
        context.respond(
            chunks: read.encode(
                correlationId: context.header.correlationId, version: version, sessionId: resolved.sessionId))
    }

    /// The topics of a consumer's fetch (the whole session's, not only the ones an incremental
    /// request names: READ may have been revoked since) the principal may not READ; nil when
    /// every one is allowed.
    /// Allocates only when something is denied: consumers send many small fetches. (A topic named
    /// twice is checked twice; the authorizer's check allocates nothing.)
    private func deniedTopics(_ request: FetchRequest, _ access: RequestAccess) -> Set<String>? {
        var denied: Set<String>?
        for topic in request.topics where !access.allows(.read, .topic(topic.name)) {
            denied = (denied ?? []).union(CollectionOfOne(topic.name))
        }
        return denied
    }

    /// Reads what a fetch asks for, honouring per-partition and whole-response byte limits.
    /// Partitions of `denied` topics answer TOPIC_AUTHORIZATION_FAILED and read nothing.
    func readFetch(_ request: FetchRequest, denied: Set<String>? = nil) -> FetchRead {
        var remaining = Int(max(request.maxBytes, 0))
        var topicsOut: [FetchRead.Topic] = []
        var total = 0
        var hasError = false
        var first = true
        for topic in request.topics {
            var partitions: [FetchRead.Partition] = []
            if let denied, denied.contains(topic.name) {
                for p in topic.partitions {
                    var out = FetchResponse.Partition(partition: p.partition)
                    out.errorCode = .topicAuthorizationFailed
                    out.errorMessage = "not authorized to READ topic \(topic.name)"
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                }
                hasError = true
                topicsOut.append(FetchRead.Topic(name: topic.name, partitions: partitions))
                continue
            }
            let info = topics.topic(topic.name)
            for p in topic.partitions {
                var out = FetchResponse.Partition(partition: p.partition)
                let leaderEpoch = partitionLeaderEpoch(topic.name, p.partition)
                if info?.holds(p.partition) == true, leaderEpoch == nil {
                    out.errorCode = .notLeaderOrFollower
                    out.errorMessage = "broker \(config.nodeId) does not lead \(topic.name)-\(p.partition)"
                    hasError = true
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                    continue
                }
                guard let info, info.holds(p.partition),
                    let log = logManager.log(for: TopicPartition(topic.name, p.partition))
                else {
                    out.errorCode = .unknownTopicOrPartition
                    out.errorMessage = "topic '\(topic.name)' has no partition \(p.partition)"
                    hasError = true
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                    continue
                }
                // Fetch v2 (KIP-320, KIP-595): a stale or future leader epoch, or a follower whose
                // log diverges from this one, is answered at once, without records.
                let tp = TopicPartition(topic.name, p.partition)
                // A replicated partition's consumers read below its high watermark only.
                guard let highWatermark = visibleEnd(tp, log) else {
                    out.errorCode = .notLeaderOrFollower
                    out.errorMessage = "broker \(config.nodeId) does not lead \(tp) (yet)"
                    hasError = true
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                    continue
                }
                out.highWatermark = highWatermark
                out.logStartOffset = log.logStartOffset
                let current = leaderEpoch ?? -1
                let epochError = Self.leaderEpochError(requested: p.currentLeaderEpoch, current: current)
                if epochError != .none {
                    out.errorCode = epochError
                    out.errorMessage =
                        "\(topic.name)-\(p.partition): current leader epoch \(p.currentLeaderEpoch) is not \(current)"
                    hasError = true
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                    continue
                }
                if p.lastFetchedEpoch >= 0,
                    let diverging = log.divergingEpoch(lastFetchedEpoch: p.lastFetchedEpoch, fetchOffset: p.fetchOffset)
                {
                    if diverging == .undefined {
                        // The fetcher knows a newer epoch than this log's history: on the wire
                        // (-1, -1) means "no divergence", so say that this leader is behind.
                        out.errorCode = .unknownLeaderEpoch
                        out.errorMessage =
                            "\(topic.name)-\(p.partition): last fetched epoch \(p.lastFetchedEpoch) is newer than this log's epochs"
                    } else {
                        out.divergingEpoch = diverging.epoch
                        out.divergingEndOffset = diverging.endOffset
                    }
                    hasError = true  // answered now: the follower must truncate first
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                    continue
                }
                // The first partition always gets at least one whole batch so consumers progress;
                // later ones only what fits in the response's remaining budget.
                let budget = min(Int(max(p.maxBytes, 0)), remaining)
                guard budget > 0 || first else {
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                    continue
                }
                do {
                    let result = try log.read(from: p.fetchOffset, maxBytes: max(budget, 1), maxOffset: highWatermark)
                    out.logStartOffset = result.logStartOffset
                    partitions.append(
                        FetchRead.Partition(
                            header: out, slices: result.slices, byteCount: result.byteCount,
                            recordCount: result.recordCount))
                    remaining -= min(remaining, result.byteCount)
                    total += result.byteCount
                    if result.byteCount > 0 { first = false }
                } catch let error as StorageError where error.code == .offsetOutOfRange {
                    out.errorCode = .offsetOutOfRange
                    out.errorMessage =
                        "offset \(p.fetchOffset) is outside \(log.logStartOffset)...\(highWatermark) of \(topic.name)-\(p.partition)"
                    hasError = true
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                } catch let error as StorageError where error.code == .logTruncated {
                    // Truncated while being read (leadership moved): retriable, with fresh metadata.
                    out.errorCode = .notLeaderOrFollower
                    out.errorMessage = "\(topic.name)-\(p.partition): \(error.message)"
                    hasError = true
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                } catch let error as StorageError where error.code == .descriptorsExhausted {
                    // The segment files in use reached their bound (LogManager.segmentFileOpenLimit),
                    // mostly held by this very response: no records for this partition this time,
                    // and no error; the next fetch reads it once these files are sent and let go.
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                } catch {
                    out.errorCode = .kafkaStorageError
                    out.errorMessage = "\(topic.name)-\(p.partition): \(error)"
                    hasError = true
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                }
            }
            topicsOut.append(FetchRead.Topic(name: topic.name, partitions: partitions))
        }
        return FetchRead(topics: topicsOut, byteCount: total, hasError: hasError)
    }
}

/// The result of reading a fetch: response headers plus the log regions that follow each.
struct FetchRead: Sendable {
    struct Partition: Sendable {
        var header: FetchResponse.Partition
        var slices: [LogSlice]
        var byteCount: Int
        var recordCount = 0
    }
    struct Topic: Sendable {
        var name: String
        var partitions: [Partition]
    }
    var topics: [Topic]
    var byteCount: Int
    var hasError: Bool

    /// Encodes the response as memory chunks interleaved with file regions, which TernNet sends
    /// with `sendfile(2)`: record bytes go from the page cache to the socket without a copy.
    func encode(correlationId: UInt32, version: UInt16 = 0, sessionId: Int32 = 0) -> [OutboundChunk] {
        var chunks: [OutboundChunk] = []
        var writer = ByteWriter(capacity: 256)
        Frame.beginResponse(&writer, correlationId: correlationId)
        FetchResponse.writeSessionHeader(&writer, version: version, sessionId: sessionId)
        writer.write(UInt32(topics.count))
        var fileBytes = 0
        for topic in topics {
            FetchResponse.writeTopicHeader(&writer, name: topic.name, partitionCount: topic.partitions.count)
            for partition in topic.partitions {
                FetchResponse.writePartitionHeader(
                    &writer, partition.header, recordsLength: partition.byteCount, version: version)
                for slice in partition.slices {
                    chunks.append(.bytes(writer.take()))
                    // The fence: a truncation after this read was planned stops the send.
                    chunks.append(
                        .file(
                            FileRegion(
                                descriptor: slice.file.descriptor, offset: slice.position, count: slice.count,
                                owner: slice.file, isCurrent: { slice.isCurrent })))
                    fileBytes += slice.count
                }
            }
        }
        chunks.append(.bytes(writer.take()))
        // Patch the size prefix, which sits at the start of the first chunk.
        let memoryBytes = chunks.reduce(0) { sum, chunk in
            if case .bytes(let b) = chunk { return sum + b.count }
            return sum
        }
        if case .bytes(var head) = chunks[0] {
            let size = UInt32(memoryBytes + fileBytes - Frame.prefixSize)
            head.withUnsafeMutableBytes { BigEndian.store(size, at: 0, in: $0) }
            chunks[0] = .bytes(head)
        }
        return chunks.filter {
            if case .bytes(let b) = $0 { return !b.isEmpty }
            return true
        }
    }
}
