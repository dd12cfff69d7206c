/// Where ``TernConsumer/seek(_:to:)`` moves a partition's position.
public enum SeekPosition: Hashable, Sendable {
    /// The log start offset.
    case earliest
    /// The log end offset (the next record produced).
    case latest
    /// An exact offset.
    case offset(Int64)
    /// The first record with a timestamp at or after this (ms since the epoch); the log end when
    /// there is none.
    case timestamp(Int64)
}
