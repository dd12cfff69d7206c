import TernWire

/// The idempotent producer's part of ``ProducerState``: its producer id and epoch, and the next
/// sequence number of each partition (DESIGN.md section 6).
///
/// Batches are numbered when first sent (``ProducerState/stampDrained(_:)``) and keep their
/// number through every retry, so a retry whose first answer was lost is recognised by the
/// broker and answered with the original offsets. A batch whose fate is unknown when it is given
/// up (expired or out of retries after being sent), or that the broker refused with
/// OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID, fails with that error, and the producer
/// bumps its epoch as Kafka 3's does: the next batch of every partition starts at sequence 0 of
/// the new epoch, which the broker accepts, so one lost batch does not fail every later one.
/// INVALID_PRODUCER_EPOCH (another producer took the id over) is fatal: every held and later
/// record fails with it.
struct IdempotenceState {
    enum Phase {
        /// No producer id yet; InitProducerId not sent.
        case needsId
        /// InitProducerId in flight.
        case initializing
        case ready
    }

    var phase = Phase.needsId
    var producerId: Int64 = -1
    var epoch: Int16 = -1
    /// Per partition: the epoch its numbering belongs to and the next sequence. A partition whose
    /// entry is of an older epoch starts again at 0.
    var sequences: [TopicPartition: (epoch: Int16, next: Int32)] = [:]
    /// Set when the producer was fenced: everything fails with it.
    var fatal: TernError?

    /// The first sequence for a batch of `count` records to `tp`, advancing the partition's.
    mutating func nextSequence(_ tp: TopicPartition, count: Int) -> Int32 {
        let current = sequences[tp].flatMap { $0.epoch == epoch ? $0.next : nil } ?? 0
        sequences[tp] = (epoch, ProducerStateSequence.add(current, Int32(clamping: count)))
        return current
    }

    /// Starts a new epoch (sequences restart at 0); past the last epoch, asks for a new id.
    mutating func bumpEpoch() {
        guard phase == .ready else { return }
        if epoch == Int16.max {
            phase = .needsId
            producerId = -1
            epoch = -1
        } else {
            epoch += 1
        }
        sequences.removeAll(keepingCapacity: true)
    }
}

/// Sequence arithmetic as the broker's (wrapping from `Int32.max` to 0).
enum ProducerStateSequence {
    static func add(_ sequence: Int32, _ delta: Int32) -> Int32 {
        if sequence > Int32.max - delta { return delta - (Int32.max - sequence) - 1 }
        return sequence + delta
    }
}

extension ProducerState {
    /// Numbers every batch of `requests` sent for the first time (not conditional ones). Each
    /// node's list is taken out of the dictionary while it is changed, so the batches are
    /// uniquely referenced and their bytes are stamped in place, not copied.
    mutating func stampDrained(_ requests: inout [Int32: [(TopicPartition, [ProducerBatch])]]) {
        guard configuration.isIdempotent, idempotence.phase == .ready else { return }
        for node in Array(requests.keys) {
            guard var partitions = requests.removeValue(forKey: node) else { continue }
            for p in partitions.indices {
                let tp = partitions[p].0
                for b in partitions[p].1.indices where partitions[p].1[b].stamp == nil {
                    guard partitions[p].1[b].condition == nil else { continue }
                    let sequence = idempotence.nextSequence(tp, count: partitions[p].1[b].recordCount)
                    partitions[p].1[b].stamp(
                        producerId: idempotence.producerId, epoch: idempotence.epoch, sequence: sequence)
                }
            }
            requests[node] = partitions
        }
    }

    /// Whether draining must wait for a producer id; asks for one (effects) when none is on its way.
    mutating func awaitingProducerId(into effects: inout ProducerEffects) -> Bool {
        guard configuration.isIdempotent else { return false }
        switch idempotence.phase {
        case .ready: return false
        case .initializing: return true
        case .needsId:
            idempotence.phase = .initializing
            effects.initProducerId = true
            return true
        }
    }

    /// The InitProducerId answer: ready to number batches, or ask again after the backoff.
    mutating func producerIdReceived(_ result: Result<InitProducerIdResponse, TernError>) -> ProducerEffects {
        var effects = ProducerEffects()
        guard idempotence.phase == .initializing else { return effects }
        switch result {
        case .success(let response) where response.errorCode == .none && response.producerId >= 0:
            idempotence.phase = .ready
            idempotence.producerId = response.producerId
            idempotence.epoch = max(response.producerEpoch, 0)
            idempotence.sequences.removeAll()
            effects.drainAgain = true
        case .success(let response) where !response.errorCode.isRetriable:
            // A broker that refuses (an old one without InitProducerId, or one that forbids it):
            // records fail with the reason rather than wait for their delivery timeout.
            idempotence.phase = .needsId
            idempotence.fatal = TernError.broker(
                response.errorCode, response.errorMessage,
                context:
                    "the idempotent producer cannot get a producer id (set enableIdempotence = false to send without one)"
            )
            effects.drainAgain = true
        case .failure(let error) where !error.isRetriable && error.brokerError != nil:
            idempotence.phase = .needsId
            idempotence.fatal = TernError(
                error.code,
                "the idempotent producer cannot get a producer id (set enableIdempotence = false to send without one): "
                    + error.message, brokerError: error.brokerError)
            effects.drainAgain = true
        default:
            // Retriable (no controller yet, connection lost): the batches wait, up to their
            // delivery timeout.
            idempotence.phase = .needsId
            effects.drainAfter = configuration.retryBackoff
        }
        return effects
    }

    /// UNKNOWN_PRODUCER_ID for numbered batches within their retries: the partition's leader has
    /// no state for this producer at all — a new leader that never stored its batches (the old
    /// one's were not replicated, so they are gone, not stored twice), or state expired after
    /// `producer.id.expiration.ms` — so none of these batches is in its log and none can be
    /// doubled by sending them again. The partition's numbering restarts at 0 (which the broker
    /// accepts from an unknown producer) and the batches go back to the front of its queue, to be
    /// numbered again and retried as Kafka's producer does (KIP-360). True when requeued.
    mutating func renumberAfterUnknownProducer(
        _ tp: TopicPartition, _ batches: [ProducerBatch], error: TernError, now: ContinuousClock.Instant
    ) -> Bool {
        guard configuration.isIdempotent, error.brokerError == .unknownProducerId, let first = batches.first,
            batches.allSatisfy({ $0.stamp != nil }), first.attempts <= configuration.retries, now < first.deadline
        else { return false }
        idempotence.sequences[tp] = nil
        var returned = batches
        for index in returned.indices {
            returned[index].clearStamp()
            returned[index].lastError = error
        }
        accumulator.requeue(returned, for: tp, retryAt: now + configuration.retryBackoff)
        return true
    }

    /// After `batches` failed for good: a numbered batch whose fate is unknown, or one refused
    /// for its sequence, bumps the epoch; a fenced producer becomes fatal.
    mutating func noteFailed(_ batches: [ProducerBatch], error: TernError, fateUnknown: Bool) {
        guard configuration.isIdempotent,
            let stamp = batches.lazy.compactMap(\.stamp).first
        else { return }
        switch error.brokerError {
        case .invalidProducerEpoch, .producerFenced:
            idempotence.fatal = TernError(
                .broker,
                "producer \(stamp.producerId) epoch \(stamp.epoch) was fenced: another producer uses its id with a "
                    + "newer epoch; close this producer (\(error.message))", brokerError: error.brokerError)
        case .outOfOrderSequenceNumber, .unknownProducerId:
            if stamp.producerId == idempotence.producerId, stamp.epoch == idempotence.epoch { idempotence.bumpEpoch() }
        default:
            if fateUnknown, stamp.producerId == idempotence.producerId, stamp.epoch == idempotence.epoch {
                idempotence.bumpEpoch()
            }
        }
    }
}
