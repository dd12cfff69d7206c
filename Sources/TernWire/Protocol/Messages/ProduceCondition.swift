/// Produce v1: a condition on one partition's append, checked by the partition's leader atomically
/// with the append (under the partition's append lock). A failed condition appends nothing of that
/// partition's records and answers `CONDITION_FAILED` with the offset the condition saw.
public enum ProduceCondition: Sendable, Hashable {
    /// The partition's log end offset must be this (the first record then gets this offset).
    case endOffset(Int64)
    /// The latest record carrying the batch's key must be at this offset; -1: the key has no
    /// record yet. Every record of the partition's record set must carry the same key.
    case keyLastOffset(Int64)

    /// The wire tag of `condition` (0 = none).
    public static func tag(of condition: ProduceCondition?) -> Int8 {
        switch condition {
        case nil: 0
        case .endOffset: 1
        case .keyLastOffset: 2
        }
    }

    /// The expected offset on the wire (-1 with no condition).
    public var expectedOffset: Int64 {
        switch self {
        case .endOffset(let offset), .keyLastOffset(let offset): offset
        }
    }

    /// Decodes a wire tag and its expected offset.
    /// - Throws: ``WireError`` `.malformed` for an unknown tag.
    public static func decode(tag: Int8, expectedOffset: Int64) throws -> ProduceCondition? {
        switch tag {
        case 0: return nil
        case 1: return .endOffset(expectedOffset)
        case 2: return .keyLastOffset(expectedOffset)
        default:
            throw WireError(.malformed, "condition: unknown type \(tag) (0 none, 1 end offset, 2 key's last offset)")
        }
    }

    /// The record header that carries a conditional append's ``ProduceRequest/Partition/appendId``
    /// on the first record of its first batch, so that the broker can recognise a retry of a batch
    /// that already landed.
    public static let appendIdHeader = "tern.append.id"
    /// Most bytes an append id may have.
    public static let maxAppendIdBytes = 64
}
