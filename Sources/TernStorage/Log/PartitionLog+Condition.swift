import Synchronization
import TernWire

extension PartitionLog {
    /// Appends validated batches only if `condition` holds, checked under the same lock hold as
    /// the append, so that two writers racing on one expected offset cannot both succeed.
    ///
    /// The state behind the check is the log itself (its end offset; the key index, which is
    /// rebuilt from the segments on load), never a value remembered apart from it: after a crash
    /// and recovery a condition is checked against what the log holds.
    /// - Throws: what ``append(_:batches:leaderEpoch:)`` throws; `keyIndexDisabled` for a key
    ///   condition on a log without a key index.
    public func append(
        _ bytes: inout [UInt8], batches: [ValidatedBatch], leaderEpoch: Int32, if condition: AppendCondition
    ) throws -> ConditionalAppendResult {
        try checkTiling(bytes, batches)
        return try state.withLock { state in
            try checkUsable(state)
            let end = state.logEndOffset
            switch condition {
            case .endOffset(let expected):
                guard expected == end else { return .conditionFailed(actual: end, logEndOffset: end) }
            case .keyLastOffset:
                throw StorageError(
                    .keyIndexDisabled, "\(topicPartition): key conditions need key.index.enable=true on the topic")
            }
            return .appended(try append(&state, &bytes, batches: batches, leaderEpoch: leaderEpoch))
        }
    }
}
