import Synchronization
import TernWire

extension PartitionLog {
    /// Checks the idempotent producers' batches of an append against the producer state, under
    /// the append lock (the same critical section as the write). Per batch, no allocation.
    /// - Returns: nil to append; a result (``AppendResult/duplicate``) when every batch is a
    ///   retry of batches already stored, naming where they went.
    /// - Throws: `outOfOrderSequence`, `invalidProducerEpoch`, `unknownProducerId`, or
    ///   `invalidBatch` for a producer id with a negative epoch or sequence; nothing is appended.
    func checkProducers(_ state: State, _ batches: [ValidatedBatch]) throws -> AppendResult? {
        // The last batch of this record set that will be appended, per the last producer seen:
        // a producer's second batch in one set continues its first, not the table.
        var previous: (id: Int64, epoch: Int16, lastSequence: Int32)?
        var duplicates: (first: Int64, last: Int64)?
        var appending = false
        for batch in batches {
            let header = batch.header
            guard header.producerId >= 0 else {
                appending = true
                continue
            }
            let id = header.producerId
            guard header.producerEpoch >= 0, header.baseSequence >= 0 else {
                throw StorageError(
                    .invalidBatch,
                    "\(topicPartition): producer \(id) batch has epoch \(header.producerEpoch) and sequence "
                        + "\(header.baseSequence); both must be >= 0")
            }
            let last = ProducerStateTable.sequence(header.baseSequence, plus: header.lastOffsetDelta)
            let verdict: ProducerStateTable.Verdict
            if let previous, previous.id == id {
                let expected = ProducerStateTable.sequence(previous.lastSequence, plus: 1)
                verdict =
                    header.producerEpoch == previous.epoch && header.baseSequence == expected
                    ? .append : .outOfOrder(expected: expected)
            } else {
                verdict = state.producers.check(
                    producerId: id, epoch: header.producerEpoch, firstSequence: header.baseSequence,
                    lastSequence: last)
            }
            switch verdict {
            case .append:
                appending = true
                previous = (id, header.producerEpoch, last)
            case .duplicate(let original):
                duplicates = (duplicates?.first ?? original.firstOffset, original.lastOffset)
            case .outOfOrder(let expected):
                throw StorageError(
                    .outOfOrderSequence,
                    "\(topicPartition): producer \(id) epoch \(header.producerEpoch) sent sequences "
                        + "\(header.baseSequence)...\(last); the partition expects \(expected) next")
            case .staleEpoch(let current):
                throw StorageError(
                    .invalidProducerEpoch,
                    "\(topicPartition): producer \(id) epoch \(header.producerEpoch) is older than its current "
                        + "epoch \(current): a newer producer with this id fenced it")
            case .unknownProducer:
                throw StorageError(
                    .unknownProducerId,
                    "\(topicPartition): no state for producer \(id) (expired or never written here) and its batch "
                        + "starts at sequence \(header.baseSequence), not 0")
            }
        }
        guard let duplicates else { return nil }
        guard !appending else {
            throw StorageError(
                .outOfOrderSequence,
                "\(topicPartition): the record set mixes retried batches already stored with new ones")
        }
        return AppendResult(
            baseOffset: duplicates.first, lastOffset: duplicates.last, logEndOffset: state.logEndOffset,
            logStartOffset: state.logStartOffset, duplicate: true)
    }

    /// Records the idempotent producers' batches just written (offsets from `assignedFrom`, or
    /// their own for follower appends). Reads the wall clock once, only when there is one.
    func recordProducers(_ state: inout State, _ batches: [ValidatedBatch], assignedFrom: Int64?) {
        var now: Int64?
        var offset = assignedFrom ?? 0
        for batch in batches {
            let header = batch.header
            let base = assignedFrom == nil ? header.baseOffset : offset
            let last = base + Int64(header.lastOffsetDelta)
            offset = last + 1
            guard header.producerId >= 0, header.producerEpoch >= 0, header.baseSequence >= 0 else { continue }
            let time = now ?? FileSystem.wallClockMilliseconds()
            now = time
            state.producers.record(
                producerId: header.producerId, epoch: header.producerEpoch, firstSequence: header.baseSequence,
                lastSequence: ProducerStateTable.sequence(header.baseSequence, plus: header.lastOffsetDelta),
                firstOffset: base, lastOffset: last, timestampMs: time)
        }
    }

    /// The producer state as of now (a copy).
    public var producerState: ProducerStateTable { state.withLock { $0.producers } }

    /// Forgets producers idle for `expirationMs` (`producer.id.expiration.ms`) at `nowMs`;
    /// returns how many.
    @discardableResult
    public func expireProducers(nowMs: Int64, expirationMs: Int64) -> Int {
        state.withLock { $0.producers.expire(nowMs: nowMs, expirationMs: expirationMs) }
    }

    /// Replaces the producer state with what the snapshots and the log say now (after a
    /// truncation removed batches it had recorded). With the lock held.
    func rebuildProducers(_ state: inout State) throws {
        state.pendingProducerSnapshot = nil
        state.producers =
            try ProducerStateLoader.rebuild(
                directory: directory, segments: state.segments, logEndOffset: state.logEndOffset, logger: logger
            ).table
    }
}
