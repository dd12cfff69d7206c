/// What one partition knows about the idempotent producers writing to it (DESIGN.md section 6):
/// per producer id its epoch and its last five batches (sequence range, offsets, time). A pure
/// value: no clock, file or lock inside. ``PartitionLog`` keeps one under its append lock, asks
/// ``check(producerId:epoch:firstSequence:lastSequence:)`` before an append and
/// ``record(producerId:epoch:firstSequence:lastSequence:firstOffset:lastOffset:timestampMs:)``
/// after it; recovery rebuilds it from a snapshot file and the batches after it.
///
/// The rules are Kafka's:
/// - the next batch of a producer must start at the sequence after its last one (wrapping from
///   `Int32.max` to 0), else OUT_OF_ORDER_SEQUENCE_NUMBER;
/// - a batch equal (same first and last sequence) to one of the last five is a retry of a batch
///   already stored: it is answered with that batch's offsets and not appended again;
/// - an epoch older than the producer's is fenced (INVALID_PRODUCER_EPOCH); a newer one starts
///   the producer over, and its first batch must have sequence 0;
/// - a producer the table does not know may start only at sequence 0 (UNKNOWN_PRODUCER_ID
///   otherwise: its state expired, or the batch comes from nowhere).
public struct ProducerStateTable: Sendable, Hashable {
    /// Batches remembered per producer: a retry of any of them is recognised (Kafka's 5, which
    /// is why a producer keeps at most 5 batches of a partition unacknowledged).
    public static let batchesKept = 5

    /// One stored batch of a producer.
    public struct BatchMetadata: Sendable, Hashable {
        public var firstSequence: Int32
        public var lastSequence: Int32
        public var firstOffset: Int64
        public var lastOffset: Int64
        /// When it was appended (wall-clock ms; the batch's max timestamp when rebuilt from the log).
        public var timestampMs: Int64

        public init(
            firstSequence: Int32, lastSequence: Int32, firstOffset: Int64, lastOffset: Int64, timestampMs: Int64
        ) {
            self.firstSequence = firstSequence
            self.lastSequence = lastSequence
            self.firstOffset = firstOffset
            self.lastOffset = lastOffset
            self.timestampMs = timestampMs
        }
    }

    /// One producer's state.
    public struct Entry: Sendable, Hashable {
        public var epoch: Int16
        /// Oldest first, at most ``ProducerStateTable/batchesKept``, never empty.
        public private(set) var batches: [BatchMetadata]
        /// The time of its latest batch (what expiration measures idleness from).
        public var lastTimestampMs: Int64 { batches[batches.count - 1].timestampMs }
        /// The sequence its last batch ended at.
        public var lastSequence: Int32 { batches[batches.count - 1].lastSequence }

        public init(epoch: Int16, batches: [BatchMetadata]) {
            precondition(!batches.isEmpty && batches.count <= ProducerStateTable.batchesKept, "1 to 5 batches")
            self.epoch = epoch
            self.batches = batches
        }

        /// Adds a batch of the same epoch, forgetting the oldest beyond five. In place: the
        /// array keeps its buffer (no allocation once it holds five).
        mutating func add(_ batch: BatchMetadata) {
            if batches.count == ProducerStateTable.batchesKept { batches.removeFirst() }
            batches.append(batch)
        }
    }

    /// The outcome of ``check(producerId:epoch:firstSequence:lastSequence:)``.
    public enum Verdict: Sendable, Hashable {
        /// The batch is the next one: append it.
        case append
        /// A retry of a stored batch: answer with its offsets, append nothing.
        case duplicate(BatchMetadata)
        /// A gap (or a new epoch not starting at 0): `expected` is the sequence the partition waits for.
        case outOfOrder(expected: Int32)
        /// The batch's epoch is older than the producer's `current` one: a fenced producer.
        case staleEpoch(current: Int16)
        /// No state for the producer and the batch does not start at sequence 0.
        case unknownProducer
    }

    /// Producers by id.
    public private(set) var producers: [Int64: Entry] = [:]

    /// An empty table.
    public init() {}

    /// A table holding `producers` (a snapshot read back).
    public init(producers: [Int64: Entry]) { self.producers = producers }

    /// The sequence `delta` after `sequence`, wrapping from `Int32.max` to 0 (Kafka's
    /// `incrementSequence`).
    @inlinable
    public static func sequence(_ sequence: Int32, plus delta: Int32) -> Int32 {
        if sequence > Int32.max - delta { return delta - (Int32.max - sequence) - 1 }
        return sequence + delta
    }

    /// What to do with a batch of `producerId` at `epoch` holding sequences
    /// `firstSequence...lastSequence`. No allocation.
    public func check(producerId: Int64, epoch: Int16, firstSequence: Int32, lastSequence: Int32) -> Verdict {
        guard let entry = producers[producerId] else {
            return firstSequence == 0 ? .append : .unknownProducer
        }
        if epoch < entry.epoch { return .staleEpoch(current: entry.epoch) }
        if epoch > entry.epoch { return firstSequence == 0 ? .append : .outOfOrder(expected: 0) }
        for batch in entry.batches where batch.firstSequence == firstSequence && batch.lastSequence == lastSequence {
            return .duplicate(batch)
        }
        let expected = Self.sequence(entry.lastSequence, plus: 1)
        return firstSequence == expected ? .append : .outOfOrder(expected: expected)
    }

    /// Records an appended batch (or one found in the log on recovery). A newer epoch replaces
    /// the producer's state; the same epoch adds the batch to its last five.
    public mutating func record(
        producerId: Int64, epoch: Int16, firstSequence: Int32, lastSequence: Int32, firstOffset: Int64,
        lastOffset: Int64, timestampMs: Int64
    ) {
        let batch = BatchMetadata(
            firstSequence: firstSequence, lastSequence: lastSequence, firstOffset: firstOffset, lastOffset: lastOffset,
            timestampMs: timestampMs)
        // `producers[id]?.…` mutates the entry in place (no copy of its batch array).
        if producers[producerId]?.epoch == epoch {
            producers[producerId]?.add(batch)
        } else {
            var batches: [BatchMetadata] = []
            batches.reserveCapacity(Self.batchesKept)
            batches.append(batch)
            producers[producerId] = Entry(epoch: epoch, batches: batches)
        }
    }

    /// Forgets the producers idle for `expirationMs` or more at `nowMs`
    /// (`producer.id.expiration.ms`); returns how many.
    @discardableResult
    public mutating func expire(nowMs: Int64, expirationMs: Int64) -> Int {
        let idle = producers.filter { nowMs - $0.value.lastTimestampMs >= expirationMs }.map(\.key)
        for id in idle { producers[id] = nil }
        return idle.count
    }

    /// How many producers the table knows.
    public var count: Int { producers.count }
}
