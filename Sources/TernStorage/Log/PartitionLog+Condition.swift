import Synchronization
import TernWire

extension PartitionLog {
    /// Appends validated batches only if `condition` holds, checked under the same lock hold as
    /// the append, so that two writers racing on one expected offset cannot both succeed.
    ///
    /// The state behind the check is the log itself (its end offset; the key index, which is
    /// rebuilt from the segments on load and confirms each candidate by reading its key), never a
    /// value remembered apart from it: after a crash and recovery a condition is checked against
    /// what the log holds, and after compaction against the key's retained latest record.
    /// - Throws: what ``append(_:batches:leaderEpoch:)`` throws; `keyIndexDisabled` for a key
    ///   condition on a log without a key index.
    public func append(
        _ bytes: inout [UInt8], batches: [ValidatedBatch], leaderEpoch: Int32, if condition: AppendCondition
    ) throws -> ConditionalAppendResult {
        try checkTiling(bytes, batches)
        let precomputed = try precomputeKeys(bytes, batches, assigned: true)
        return try state.withLock { state in
            try checkUsable(state)
            let end = state.logEndOffset
            switch condition {
            case .endOffset(let expected):
                guard expected == end else { return .conditionFailed(actual: end, logEndOffset: end) }
            case .keyLastOffset(let key, let expected):
                let actual = try lastOffset(ofKey: key, in: state) ?? -1
                guard expected == actual else { return .conditionFailed(actual: actual, logEndOffset: end) }
            }
            return .appended(
                try append(&state, &bytes, batches: batches, leaderEpoch: leaderEpoch, keys: precomputed))
        }
    }
}
