import Dispatch
import Logging
import Synchronization
import TernWire

extension ActiveController {
    /// On the queue, from ``poll()``: every `leader.imbalance.check.interval.seconds` (when
    /// `auto.leader.rebalance.enable`), moves leadership back to each partition's preferred
    /// replica where that replica is unfenced and in sync (a broker that restarted, for example).
    func rebalanceIfDue() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let interval = rebalanceIntervalMs else { return }
        let now = clock()
        let records = state.withLock { state -> [MetadataRecord] in
            guard now - state.lastRebalanceMs >= interval else { return [] }
            state.lastRebalanceMs = now
            return (try? ControllerDecisions.rebalancePreferredLeaders(state.working)) ?? []
        }
        guard !records.isEmpty else { return }
        propose(records, what: "preferred-leader rebalance") { result in
            if case .success = result {
                self.logger.info(
                    "leadership moved back to preferred replicas", metadata: ["tern_partitions": "\(records.count)"])
            }
        }
    }

    /// ElectLeaders on the queue (forwarded by a broker): decided against the working image by
    /// ``ControllerDecisions/electLeaders(_:type:topics:)`` and proposed as one entry; answered
    /// once committed (or failed) with the entry's offset.
    func electLeaders(
        _ request: ElectLeadersRequest, reply: @escaping @Sendable (ElectLeadersResponse, Int64) -> Void
    ) {
        let decision = decide { image throws(ControllerError) in
            try ControllerDecisions.electLeaders(image, type: request.electionType, topics: request.topics)
        }
        let what = "\(request.electionType) leader election"
        proposeAndReply(
            decision, records: \.records, what: { _ in what }, timeout: timeout(forRequestMs: request.timeoutMs),
            refused: { reply(request.failed($0.code, $0.message), -1) },
            committed: { election in
                self.logger.info(
                    "leaders elected",
                    metadata: ["tern_partitions": "\(election.records.count)", "tern_reason": "\(what)"])
            }
        ) { election, offset in reply(ElectLeadersResponse(topics: election.topics), offset) }
    }
}
