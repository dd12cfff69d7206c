import Logging
import Synchronization
import TernWire

extension TernConsumer {
    /// How long the idle fetch loop sleeps before it looks for work again.
    private var idleWait: Duration { min(configuration.retryBackoff, .milliseconds(50)) }

    /// Resolves pending positions, then keeps one fetch in flight per leader broker of the
    /// assigned partitions until the consumer closes.
    func runFetchLoop() async {
        await withTaskGroup(of: Int32.self) { group in
            var active: Set<Int32> = []
            var lastRefresh: ContinuousClock.Instant?
            while !Task.isCancelled, !state.withLock({ $0.closed }) {
                await resolvePendingResets()
                let now = ContinuousClock.now
                let snapshot = client.metadata.current
                let (byLeader, leaderless) = state.withLock {
                    $0.fetchTargets(now: now, leader: { snapshot.leader(topic: $0.topic, partition: $0.partition) })
                }
                if !leaderless.isEmpty, lastRefresh.map({ now - $0 >= configuration.retryBackoff }) ?? true {
                    lastRefresh = now
                    _ = try? await client.metadata.refresh()
                }
                for leader in byLeader.keys.sorted() where !active.contains(leader) {
                    active.insert(leader)
                    group.addTask { await self.fetchOnce(from: leader) }
                }
                if active.isEmpty {
                    try? await Task.sleep(for: idleWait)
                    continue
                }
                if let finished = await group.next() { active.remove(finished) }
            }
            group.cancelAll()
        }
    }

    /// Looks up the positions of partitions that have none yet (new, or reset after an
    /// out-of-range fetch).
    private func resolvePendingResets() async {
        let resets = state.withLock { $0.pendingResets }
        guard !resets.isEmpty else { return }
        var queries: [TopicPartition: Int64] = [:]
        for (tp, reset) in resets {
            switch reset.target {
            case .earliest: queries[tp] = TernClient.earliestTimestamp
            case .latest: queries[tp] = TernClient.latestTimestamp
            case .timestamp(let ms): queries[tp] = ms
            case .offset(let offset): state.withLock { $0.resolved(tp, offset: offset, epoch: reset.epoch) }
            }
        }
        guard !queries.isEmpty else { return }
        do {
            let offsets = try await client.listOffsets(queries)
            for (tp, offset) in offsets {
                guard let epoch = resets[tp]?.epoch else { continue }
                let resolved = offset >= 0 ? offset : try await lookUp(.latest, for: tp)
                state.withLock { $0.resolved(tp, offset: resolved, epoch: epoch) }
            }
        } catch {
            let failure = error as? TernError ?? TernError(.connectionFailed, "\(error)")
            client.logger.debug("cannot resolve consumer positions", metadata: ["error": "\(failure)"])
            if !failure.isRetriable {
                state.withLock { $0.error = failure }
                wakeRecordWaiters()
            }
            try? await Task.sleep(for: configuration.retryBackoff)
        }
    }

    /// Suspends while the buffered records exceed ``ConsumerConfiguration/fetchMaxBytes``.
    private func waitForBufferSpace() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.closed || state.bufferedBytes < configuration.fetchMaxBytes { return true }
                state.spaceWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// One Fetch request to `leader` for every fetchable partition it leads; its records go to the
    /// buffer. Returns `leader` for the loop's bookkeeping.
    private func fetchOnce(from leader: Int32) async -> Int32 {
        await waitForBufferSpace()
        let now = ContinuousClock.now
        let snapshot = client.metadata.current
        let targets =
            state.withLock {
                $0.fetchTargets(now: now, leader: { snapshot.leader(topic: $0.topic, partition: $0.partition) })
            }.byLeader[leader] ?? []
        guard !targets.isEmpty, !Task.isCancelled else { return leader }

        let request = fetchRequest(for: targets, leader: leader)
        let backoff = configuration.retryBackoff
        do {
            let connection = try await client.pool.connection(to: leader)
            let response: FetchResponse
            do {
                response = try await connection.send(request, extraTimeout: configuration.fetchMaxWait)
            } catch {
                fetchSessions.withLock { $0[leader, default: FetchSession()].failed() }
                throw error
            }
            fetchSessions.withLock { $0[leader, default: FetchSession()].succeeded(request, sessionId: response.sessionId) }
            let peer = connection.description
            let byPartition = Dictionary(targets.map { ($0.tp, $0) }, uniquingKeysWith: { first, _ in first })
            var results: [(ConsumerState.FetchTarget, FetchedPartition)] = []
            for topic in response.topics {
                for partition in topic.partitions {
                    let tp = TopicPartition(topic: topic.name, partition: partition.partition)
                    guard let target = byPartition[tp] else { continue }
                    results.append(
                        (target, FetchedPartition.decode(partition, topic: topic.name, fetchOffset: target.offset, peer: peer)))
                }
            }
            let policy = configuration.autoOffsetReset
            let (refresh, wake) = state.withLock { state -> (Bool, Bool) in
                var refresh = false
                for (target, result) in results {
                    refresh = state.apply(result, for: target, policy: policy, now: .now, backoff: backoff).refreshMetadata
                        || refresh
                }
                return (refresh, state.hasSomethingForPoll)
            }
            if wake { wakeRecordWaiters() }
            if refresh { _ = try? await client.metadata.refresh() }
        } catch let error as TernError
            where error.brokerError == .fetchSessionIdNotFound || error.brokerError == .invalidFetchSessionEpoch
        {
            // The broker evicted or lost the session: the next request (at once) is full again.
            client.logger.debug("fetch session reset", metadata: ["tern_peer": "\(leader)", "error": "\(error)"])
        } catch {
            let failure = error as? TernError ?? TernError(.connectionFailed, "\(error)")
            client.logger.debug(
                "fetch failed", metadata: ["tern_peer": "\(leader)", "error": "\(failure)"])
            state.withLock { state in
                for target in targets { state.backOff(target.tp, until: .now + backoff) }
                if !failure.isRetriable, failure.code != .closed { state.error = failure }
            }
            if !failure.isRetriable { wakeRecordWaiters() }
            _ = try? await client.metadata.refresh()
        }
        return leader
    }

    private func fetchRequest(for targets: [ConsumerState.FetchTarget], leader: Int32) -> FetchRequest {
        let partitionMax = Int32(clamping: configuration.maxPartitionFetchBytes)
        let partitions = targets.map {
            ($0.tp, FetchRequest.Partition(partition: $0.tp.partition, fetchOffset: $0.offset, maxBytes: partitionMax))
        }
        let waitMs = configuration.fetchMaxWait.components.seconds * 1000
            + configuration.fetchMaxWait.components.attoseconds / 1_000_000_000_000_000
        let session = fetchSessions.withLock { $0[leader] ?? FetchSession() }
        return session.request(
            for: partitions, maxWaitMs: Int32(clamping: waitMs), minBytes: Int32(clamping: configuration.fetchMinBytes),
            maxBytes: Int32(clamping: configuration.fetchMaxBytes))
    }
}
