import Logging
import TernStorage
import TernWire

extension Broker {
    /// Refuses a Produce v1 partition whose condition fields cannot be acted on, before its
    /// records are validated: a negative expected offset (other than -1 for "key absent") or an
    /// append id outside 1...64 bytes (INVALID_REQUEST), a key condition on a topic without a key
    /// index (KEY_INDEX_DISABLED). Nil when the partition may go ahead.
    func refuseCondition(_ partition: ProduceRequest.Partition, log: PartitionLog, topic: String)
        -> ProduceResponse.Partition?
    {
        let name = "\(topic)-\(partition.partition)"
        func refuse(_ message: String) -> ProduceResponse.Partition {
            .init(partition: partition.partition, errorCode: .invalidRequest, errorMessage: "\(name): \(message)")
        }
        if let appendId = partition.appendId,
            appendId.isEmpty || appendId.count > ProduceCondition.maxAppendIdBytes
        {
            return refuse(
                "appendId has \(appendId.count) bytes; it must have 1 to \(ProduceCondition.maxAppendIdBytes)")
        }
        switch partition.condition {
        case nil:
            return nil
        case .endOffset(let expected):
            guard expected >= 0 else { return refuse("expected end offset \(expected) is negative") }
        case .keyLastOffset(let expected):
            guard expected >= -1 else {
                return refuse("expected key offset \(expected) is negative (-1 means: the key has no record)")
            }
            guard Self.hasKeyIndex(log) else {
                return .init(
                    partition: partition.partition, errorCode: .keyIndexDisabled,
                    errorMessage: "\(name): key conditions need key.index.enable=true on the topic")
            }
        }
        return nil
    }

    /// Whether `log` keeps a key index (answers key conditions).
    static func hasKeyIndex(_ log: PartitionLog) -> Bool { log.isKeyIndexed }

    /// Appends validated batches if `condition` holds (checked under the partition's append lock,
    /// with the append). When it fails and the request carries an `appendId`, the batch the
    /// condition's failure points at is read (one batch): if its first record carries the same
    /// id, this is a retry of an append that landed and its first answer was lost, and the
    /// answer is that append's offset, not a conflict.
    func conditionalAppend(
        _ records: inout [UInt8], batches: [ValidatedBatch], to log: PartitionLog, topic: String, partition: Int32,
        condition: ProduceCondition, appendId: [UInt8]?, leaderEpoch: Int32
    ) -> AppendOutcome {
        let name = "\(topic)-\(partition)"
        func failure(_ code: ErrorCode, _ message: String, actual: Int64 = -1) -> AppendOutcome {
            AppendOutcome(
                response: .init(partition: partition, errorCode: code, errorMessage: message, actualOffset: actual),
                endOffset: -1)
        }
        let storageCondition: AppendCondition
        var key: [UInt8] = []
        switch condition {
        case .endOffset(let expected):
            storageCondition = .endOffset(expected: expected)
        case .keyLastOffset(let expected):
            do {
                key = try records.withUnsafeBytes { try RecordBatchKeys.commonKey($0, batches: batches) }
                storageCondition = .keyLastOffset(key: key, expected: expected)
            } catch {
                return failure(.invalidRequest, "\(name): \(error)")
            }
        }
        let outcome: ConditionalAppendResult
        do {
            outcome = try log.append(&records, batches: batches, leaderEpoch: leaderEpoch, if: storageCondition)
        } catch let error as StorageError where error.code == .keyIndexDisabled {
            return failure(.keyIndexDisabled, "\(name): key conditions need key.index.enable=true on the topic")
        } catch {
            return appendFailure(error, topic: topic, partition: partition)
        }
        switch outcome {
        case .appended(let result):
            return appended(
                result, bytes: records.count, batches: batches, to: log, topic: topic, partition: partition)
        case .conditionFailed(let actual, let end):
            switch condition {
            case .endOffset(let expected):
                if expected > end {
                    return failure(
                        .offsetOutOfRange, "\(name): expected end offset \(expected) is past the log end offset \(end)",
                        actual: end)
                }
                if let appendId, let landed = landedBatch(in: log, .offset(expected), appendId: appendId, logEnd: end),
                    landed.base == expected
                {
                    return retried(landed, log: log, topic: topic, partition: partition)
                }
                return failure(
                    .conditionFailed,
                    "\(name): condition failed: expected end offset \(expected), actual offset \(end)", actual: end)
            case .keyLastOffset(let expected):
                if expected >= end {
                    return failure(
                        .offsetOutOfRange,
                        "\(name): expected key offset \(expected) is past the log end offset \(end)", actual: actual)
                }
                // Had this batch landed, it would hold the key's first record after `expected`.
                if let appendId, actual > expected,
                    let landed = landedBatch(
                        in: log, .firstOfKey(key, after: expected), appendId: appendId, logEnd: end),
                    landed.base > expected
                {
                    return retried(landed, log: log, topic: topic, partition: partition)
                }
                return failure(
                    .conditionFailed,
                    "\(name): condition failed: expected the key's last offset \(expected), actual offset \(actual)",
                    actual: actual)
            }
        }
    }

    /// The answer to a retry whose batch had already landed: that batch's offset (acks=all then
    /// waits until it is durable, as the lost first answer would have).
    private func retried(
        _ landed: (base: Int64, last: Int64), log: PartitionLog, topic: String, partition: Int32
    ) -> AppendOutcome {
        logger.debug(
            "conditional append retried after it landed",
            metadata: ["tern_topic": "\(topic)", "tern_partition": "\(partition)", "tern_offset": "\(landed.base)"])
        return AppendOutcome(
            response: .init(partition: partition, baseOffset: landed.base, logStartOffset: log.logStartOffset),
            endOffset: landed.last + 1)
    }

    /// Where a retried conditional batch would be, had it landed.
    enum LandedBatchPlace {
        /// The batch holding this offset (end-offset conditions: the expected offset).
        case offset(Int64)
        /// The batch holding the key's first record after this offset (key conditions: found
        /// through the key index, so later appends of the key do not hide it).
        case firstOfKey([UInt8], after: Int64)
    }

    /// The batch at `place`, if its first record carries `tern.append.id` = `appendId`: its
    /// first and last offsets. One batch is read; nil when it cannot be (removed by retention,
    /// rewritten by compaction, unreadable) or carries another id.
    func landedBatch(in log: PartitionLog, _ place: LandedBatchPlace, appendId: [UInt8], logEnd: Int64)
        -> (base: Int64, last: Int64)?
    {
        do {
            let slice: LogSlice
            switch place {
            case .offset(let offset):
                guard offset >= 0, offset < logEnd else { return nil }
                guard let first = try log.read(from: offset, maxBytes: 1, maxOffset: logEnd).slices.first else {
                    return nil
                }
                slice = first
            case .firstOfKey(let key, let after):
                guard after + 1 < logEnd else { return nil }
                let read = try log.readKey(key, from: max(after + 1, 0), maxOffset: logEnd, maxBytes: 1)
                guard let first = read.slices.first else { return nil }
                slice = first
            }
            let bytes = try ReadResult(slices: [slice], byteCount: slice.count, logStartOffset: 0, logEndOffset: logEnd)
                .readBytes()
            guard let header = RecordBatchHeader(bytes, at: 0), header.totalSize <= bytes.count else { return nil }
            var matches: Bool?
            try RecordBatchDecoder.forEachRecord(in: bytes, range: 0..<header.totalSize) { _, record in
                guard matches == nil else { return }
                matches = record.headers.contains {
                    $0.key == ProduceCondition.appendIdHeader && $0.value == appendId
                }
            }
            return matches == true ? (header.baseOffset, header.lastOffset) : nil
        } catch {
            logger.debug(
                "cannot read a batch to recognise a retried conditional append",
                metadata: ["tern_partition": "\(log.topicPartition)", "error": "\(error)"])
            return nil
        }
    }
}
