/// What a chaos workload did and saw on one topic: every record it tried to produce, how each
/// attempt ended (acknowledged at an offset, or failed/timed out: indeterminate), what its
/// consumers saw while it ran, and the whole log of every partition read at the end.
/// ``ChaosHistoryChecker`` judges it.
public struct ChaosHistory: Sendable {
    /// Records the workload attempted (a `send` was made), by partition: sequences 0..<count.
    public var attempted: [Int32: Int64] = [:]
    /// Acknowledged records and the offset each acknowledgement named.
    public var acknowledged: [ChaosRecordId: Int64] = [:]
    /// Records whose send failed or timed out: they may or may not be stored.
    public var failed: Set<ChaosRecordId> = []
    /// Records consumers saw while the workload ran (a visible record must never go away).
    public var observed: [ChaosObservation] = []
    /// Each partition's log read from offset 0 to its end after the faults healed, in offset order.
    public var final: [Int32: [ChaosObservation]] = [:]

    public init() {}

    /// True when the workload attempted `id`.
    public func wasAttempted(_ id: ChaosRecordId) -> Bool {
        id.sequence >= 0 && id.sequence < attempted[id.partition, default: 0]
    }
}

/// One workload record: the partition it was sent to and its sequence number there (0, 1, …, in
/// send order), carried in the record's value as `chaos/TAG/PARTITION/SEQUENCE`.
public struct ChaosRecordId: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var partition: Int32
    public var sequence: Int64

    public init(partition: Int32, sequence: Int64) {
        self.partition = partition
        self.sequence = sequence
    }

    /// The value the workload sends for this record under `tag` (one tag per run).
    public func value(tag: String) -> [UInt8] { Array("chaos/\(tag)/\(partition)/\(sequence)".utf8) }

    /// Parses a value written by ``value(tag:)`` with the same tag; nil for anything else.
    public init?(value: some Collection<UInt8>, tag: String) {
        let parts = String(decoding: value, as: UTF8.self).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "chaos", parts[1] == tag, let partition = Int32(parts[2]),
            let sequence = Int64(parts[3])
        else { return nil }
        self.init(partition: partition, sequence: sequence)
    }

    public static func < (a: Self, b: Self) -> Bool { (a.partition, a.sequence) < (b.partition, b.sequence) }
    public var description: String { "p\(partition)#\(sequence)" }
}

/// A record read back: where it was, and which workload record its value names (nil when the
/// value is not one the workload wrote).
public struct ChaosObservation: Hashable, Sendable {
    public var partition: Int32
    public var offset: Int64
    public var id: ChaosRecordId?

    public init(partition: Int32, offset: Int64, id: ChaosRecordId?) {
        self.partition = partition
        self.offset = offset
        self.id = id
    }
}
