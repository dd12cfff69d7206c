import TernWire

extension ActiveController {
    /// On the queue: what every controller request does once decided. A refusal is answered at
    /// once (`refused`); a decision with no records is answered at once (`accepted`, offset -1);
    /// otherwise its records are proposed as one entry and the request is answered once that
    /// commits (`committed`, which logs what changed, then `accepted` with the entry's offset) or
    /// fails (`failed`; by default `refused` with the failure as a client sees it,
    /// ``quorumFailure(_:)``).
    func proposeAndReply<Decision: Sendable>(
        _ decision: Result<Decision, ControllerError>, records: (Decision) -> [MetadataRecord],
        what: (Decision) -> String, timeout: Duration? = nil,
        refused: @escaping @Sendable (ControllerError) -> Void,
        failed: (@Sendable (Decision, QuorumError) -> Void)? = nil,
        committed: (@Sendable (Decision) -> Void)? = nil,
        accepted: @escaping @Sendable (Decision, Int64) -> Void
    ) {
        let decided: Decision
        switch decision {
        case .failure(let error): return refused(error)
        case .success(let found): decided = found
        }
        let records = records(decided)
        guard !records.isEmpty else { return accepted(decided, -1) }
        propose(records, what: what(decided), timeout: timeout) { result in
            switch result {
            case .success(let offset):
                committed?(decided)
                accepted(decided, offset)
            case .failure(let error):
                if let failed { return failed(decided, error) }
                let (code, message) = Self.quorumFailure(error)
                refused(ControllerError(code, message))
            }
        }
    }

    /// On the queue: proposes each of `proposals` as its own entry, so one failing does not fail
    /// the others, and calls `done` once every one has committed or failed, with every answer in
    /// order and the highest committed offset (-1: none). `known` holds the answers decided
    /// without a proposal, nil at each proposal's `index`; a proposal's answer is `committed(index)`
    /// or `failed(index, code, message)` (``quorumFailure(_:)``).
    func proposeEach<Item: Sendable>(
        _ proposals: [(index: Int, records: [MetadataRecord])], known: [Item?], timeout: Duration? = nil,
        what: (Int) -> String, committed: @escaping @Sendable (Int) -> Item,
        failed: @escaping @Sendable (Int, ErrorCode, String) -> Item,
        done: @escaping @Sendable ([Item], Int64) -> Void
    ) {
        let gather = ProposalGather(known, done: done)
        for (index, records) in proposals {
            propose(records, what: what(index), timeout: timeout) { result in
                switch result {
                case .success(let offset):
                    gather.finish(index, committed(index), offset: offset)
                case .failure(let error):
                    let (code, message) = Self.quorumFailure(error)
                    gather.finish(index, failed(index, code, message), offset: -1)
                }
            }
        }
        gather.start()
    }
}
