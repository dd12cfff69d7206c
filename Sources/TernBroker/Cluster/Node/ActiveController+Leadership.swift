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
        dispatchPrecondition(condition: .onQueue(queue))
        let decision = state.withLock { state -> Result<ControllerDecisions.Election, ControllerError> in
            guard state.activeEpoch != nil else {
                return .failure(ControllerError(.notController, "node \(nodeId) is not the active controller"))
            }
            do throws(ControllerError) {
                return .success(
                    try ControllerDecisions.electLeaders(
                        state.working, type: request.electionType, topics: request.topics))
            } catch {
                return .failure(error)
            }
        }
        let election: ControllerDecisions.Election
        switch decision {
        case .failure(let error):
            return reply(request.failed(error.code, error.message), -1)
        case .success(let decided):
            election = decided
        }
        guard !election.records.isEmpty else { return reply(ElectLeadersResponse(topics: election.topics), -1) }
        let what = "\(request.electionType) leader election"
        propose(election.records, what: what, timeout: timeout(forRequestMs: request.timeoutMs)) { result in
            switch result {
            case .success(let offset):
                self.logger.info(
                    "leaders elected",
                    metadata: ["tern_partitions": "\(election.records.count)", "tern_reason": "\(what)"])
                reply(ElectLeadersResponse(topics: election.topics), offset)
            case .failure(let error):
                let (code, message) = Self.quorumFailure(error)
                reply(request.failed(code, message), -1)
            }
        }
    }
}
