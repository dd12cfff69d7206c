import Synchronization
import TernNet
import TernStorage
import TernWire

extension Broker {
    /// A follower's Fetch (`replicaId` ≥ 0, CLUSTER_ACTION already checked): each partition's
    /// machine learns the follower's durable offset (which may move the high watermark) and
    /// answers with records up to the log end — not the high watermark —, a diverging epoch or
    /// a refusal. With nothing to send the request parks until the leader appends to one of
    /// its partitions or `maxWaitMs` passes. No fetch session, no consumer READ check.
    func handleReplicaFetch(_ request: FetchRequest, _ context: RequestContext) {
        let read = readReplicaFetch(request)
        if read.byteCount > 0 || read.hasError || request.maxWaitMs <= 0 {
            return context.respond(
                chunks: read.encode(correlationId: context.header.correlationId, version: request.version))
        }
        let partitions = request.topics.flatMap { t in t.partitions.map { TopicPartition(t.name, $0.partition) } }
        replicaPurgatory.park(
            owner: context.connection.id, partitions: partitions, minBytes: 1, maxWaitMs: Int(request.maxWaitMs)
        ) { [self] in
            context.respond(
                chunks: readReplicaFetch(request).encode(
                    correlationId: context.header.correlationId, version: request.version))
        }
        // An append between the read above and the parking found no waiter to wake: without this
        // check the follower would wait out maxWaitMs while an acks=all producer waits for it.
        for topic in request.topics {
            for p in topic.partitions {
                let tp = TopicPartition(topic.name, p.partition)
                if let log = replication.hosted(tp)?.log, log.logEndOffset > p.fetchOffset {
                    replicaPurgatory.didAppend(to: tp, bytes: 1)
                }
            }
        }
    }

    /// Steps each partition's machine with the follower's fetch and reads what it answers.
    func readReplicaFetch(_ request: FetchRequest) -> FetchRead {
        var remaining = Int(max(request.maxBytes, 0))
        var total = 0
        var hasError = false
        var first = true
        // Throttled partitions held back while their bucket is in debt. A request holding only
        // those is answered at once (parked, it would wait out maxWaitMs each round); one with
        // other partitions parks as usual, so in-sync replicas keep their long poll.
        var withheld = 0
        var topicsOut: [FetchRead.Topic] = []
        let now = replicationNow()
        leaderThrottle.prune(now: now)
        for topic in request.topics {
            var partitions: [FetchRead.Partition] = []
            for p in topic.partitions {
                let tp = TopicPartition(topic.name, p.partition)
                var out = FetchResponse.Partition(partition: p.partition)
                func refuse(_ code: ErrorCode, _ message: String) {
                    out.errorCode = code
                    out.errorMessage = message
                    hasError = true
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                }
                guard let replica = replication.hosted(tp) else {
                    refuse(.notLeaderOrFollower, "broker \(config.nodeId) holds no replica set of \(tp)")
                    continue
                }
                let fetch = ReplicaFetch(
                    leaderEpoch: p.currentLeaderEpoch, fetchOffset: p.fetchOffset, lastFetchedEpoch: p.lastFetchedEpoch,
                    durableOffset: request.version >= 3 ? p.durableOffset : -1, incarnation: 0, sequence: 0)
                let effects = replica.state.withLock {
                    $0.step(.fetch(from: request.replicaId, fetch), now: now)
                }
                performLeaderEffects(replica, effects)
                var answer: ReplicaFetchReply?
                for case .answerFetch(_, let reply) in effects { answer = reply }
                guard let answer else {
                    refuse(.notLeaderOrFollower, "\(tp): no answer")
                    continue
                }
                out.highWatermark = answer.highWatermark
                out.logStartOffset = replica.log.logStartOffset
                switch answer.body {
                case .refused(let refusal):
                    let code: ErrorCode =
                        switch refusal {
                        case .fencedLeaderEpoch: .fencedLeaderEpoch
                        case .unknownLeaderEpoch: .unknownLeaderEpoch
                        case .notLeader, .notEnoughReplicas: .notLeaderOrFollower
                        }
                    refuse(code, "\(tp): broker \(config.nodeId) refuses the replica fetch (\(refusal))")
                case .offsetOutOfRange(let start):  // a leader's machine leaves the log start to this host
                    out.logStartOffset = start
                    refuse(.offsetOutOfRange, "\(tp): offset \(p.fetchOffset) is below the log start \(start)")
                case .diverging(let epoch, let endOffset):
                    out.divergingEpoch = epoch
                    out.divergingEndOffset = endOffset
                    hasError = true  // answered now: the follower truncates first
                    partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                case .records(let from, let to, _):
                    // Retention deleted what the follower asks for while it was away: it starts
                    // over at this log start (OFFSET_OUT_OF_RANGE carries it).
                    let logStart = replica.log.logStartOffset
                    if from < logStart {
                        out.logStartOffset = logStart
                        refuse(.offsetOutOfRange, "\(tp): offset \(from) is below the log start \(logStart)")
                        continue
                    }
                    let budget = min(Int(max(p.maxBytes, 0)), remaining)
                    guard to > from, budget > 0 || first else {
                        partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                        continue
                    }
                    // A replica a reassignment is adding, not in sync: at most the throttle's rate,
                    // nothing while its bucket is in debt.
                    var allowed = budget
                    let throttle = cluster.image.reassignmentThrottle(
                        topic: tp.topic, partition: tp.partition, replica: request.replicaId)
                    if let rate = throttle {
                        let allowance = leaderThrottle.allowance(topic: tp.topic, rate: rate, now: now)
                        guard allowance.go else {
                            withheld += 1
                            partitions.append(FetchRead.Partition(header: out, slices: [], byteCount: 0))
                            continue
                        }
                        allowed = min(budget, Int(clamping: allowance.bytes))
                    }
                    do {
                        let result = try replica.log.read(from: from, maxBytes: max(allowed, 1), maxOffset: to)
                        if throttle != nil {
                            leaderThrottle.charge(topic: tp.topic, bytes: result.byteCount, now: now)
                        }
                        out.logStartOffset = result.logStartOffset
                        partitions.append(
                            FetchRead.Partition(
                                header: out, slices: result.slices, byteCount: result.byteCount,
                                recordCount: result.recordCount))
                        remaining -= min(remaining, result.byteCount)
                        total += result.byteCount
                        if result.byteCount > 0 { first = false }
                    } catch let error as StorageError where error.code == .offsetOutOfRange {
                        refuse(.offsetOutOfRange, "\(tp): \(error.message)")
                    } catch let error as StorageError where error.code == .logTruncated {
                        refuse(.notLeaderOrFollower, "\(tp): \(error.message)")
                    } catch {
                        refuse(.kafkaStorageError, "\(tp): \(error)")
                    }
                }
            }
            topicsOut.append(FetchRead.Topic(name: topic.name, partitions: partitions))
        }
        if withheld > 0 && withheld == request.topics.reduce(0, { $0 + $1.partitions.count }) { hasError = true }
        return FetchRead(topics: topicsOut, byteCount: total, hasError: hasError)
    }
}
