/// A condition an append must meet, checked by ``PartitionLog/append(_:batches:leaderEpoch:if:)``
/// under the log's lock, in the same critical section as the append itself: no other append can
/// slip between the check and the write.
public enum AppendCondition: Sendable, Hashable {
    /// The log end offset must be `expected` (the first appended record then gets it).
    case endOffset(expected: Int64)
    /// The latest record with `key` must be at `expected`; -1: the key must have no record.
    /// Needs the log's key index.
    case keyLastOffset(key: [UInt8], expected: Int64)
}

/// What a conditional append did.
public enum ConditionalAppendResult: Sendable, Equatable {
    /// The condition held and the batches were appended.
    case appended(AppendResult)
    /// The condition did not hold; nothing was appended. `actual` is what the condition saw (the
    /// log end offset, or the key's latest offset, -1 for none) and `logEndOffset` the log end at
    /// the check.
    case conditionFailed(actual: Int64, logEndOffset: Int64)
}
