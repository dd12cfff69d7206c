import TernWire

extension TernClient {
    /// The retained records of one key, from `offset` on, in offset order, read with FetchKey
    /// through the partition's key index (the topic needs `key.index.enable=true`). The partition
    /// is the one the producer's partitioner gives the key (murmur2, as Kafka's default), so a
    /// key's records are found where ``TernProducer`` sent them.
    ///
    /// The sequence ends once it has read everything below the high watermark it last saw: it is
    /// a key's history as of the read, not a subscription.
    ///
    /// ```swift
    /// for try await event in client.records(topic: "accounts", key: Array("acct-42".utf8)) {
    ///     balance = apply(event, to: balance)
    /// }
    /// ```
    /// - Parameters:
    ///   - maxBytes: record bytes per request (at least one batch is always returned).
    /// - Throws (from the iterator): ``TernError`` `.unknownTopic`; `.broker` with
    ///   `brokerError == .keyIndexDisabled` when the topic keeps no key index;
    ///   `.offsetOutOfRange` for a negative offset or one past the log end.
    public func records(topic: String, key: [UInt8], from offset: Int64 = 0, maxBytes: Int32 = 1 << 20) -> KeyRecords {
        KeyRecords(client: self, topic: topic, key: key, from: offset, maxBytes: maxBytes)
    }

    /// ``records(topic:key:from:maxBytes:)`` for a UTF-8 key.
    public func records(topic: String, key: String, from offset: Int64 = 0, maxBytes: Int32 = 1 << 20) -> KeyRecords {
        records(topic: topic, key: Array(key.utf8), from: offset, maxBytes: maxBytes)
    }
}

/// One key's records, read page by page with FetchKey (``TernClient/records(topic:key:from:maxBytes:)``).
public struct KeyRecords: AsyncSequence, Sendable {
    public typealias Element = ConsumerRecord

    let client: TernClient
    let topic: String
    let key: [UInt8]
    let from: Int64
    let maxBytes: Int32

    public func makeAsyncIterator() -> Iterator {
        Iterator(records: self, next: from)
    }

    /// Reads a page whenever the one in hand is used up.
    public struct Iterator: AsyncIteratorProtocol {
        let records: KeyRecords
        var next: Int64
        var partition: Int32?
        var buffered: [ConsumerRecord] = []
        var position = 0
        var finished = false

        init(records: KeyRecords, next: Int64) {
            self.records = records
            self.next = next
        }

        public mutating func next() async throws -> ConsumerRecord? {
            while position == buffered.count {
                guard !finished else { return nil }
                try await readPage()
            }
            defer { position += 1 }
            return buffered[position]
        }

        private mutating func readPage() async throws {
            let client = records.client
            let count = try await client.partitionCount(topic: records.topic)
            let partition = partition ?? Murmur2.partition(forKey: records.key, partitionCount: Int32(count))
            self.partition = partition
            let request = FetchKeyRequest(
                topic: records.topic, partition: partition, key: records.key, fetchOffset: next,
                maxBytes: records.maxBytes)
            let response = try await send(request, client: client)
            var page: [ConsumerRecord] = []
            let from = next
            do {
                try RecordBatchDecoder.forEachRecord(in: response.records, minOffset: from) { storage, r in
                    guard let range = r.key, storage[range].elementsEqual(records.key) else { return }
                    page.append(
                        ConsumerRecord(
                            topic: records.topic, partition: partition, offset: r.offset, timestamp: r.timestamp,
                            key: storage[range], value: r.value.map { storage[$0] }, headers: r.headers))
                }
            } catch {
                throw TernError(
                    .protocolError, "FetchKey \(records.topic)-\(partition) at offset \(from): \(error)")
            }
            guard response.nextOffset > from || response.nextOffset >= response.highWatermark else {
                throw TernError(
                    .protocolError, "FetchKey \(records.topic)-\(partition) made no progress at offset \(from)")
            }
            buffered = page
            position = 0
            next = response.nextOffset
            finished = next >= response.highWatermark
        }

        /// Sends to the partition's leader, refreshing metadata and retrying on retriable errors.
        private func send(_ request: FetchKeyRequest, client: TernClient) async throws -> FetchKeyResponse {
            var attempt = 0
            while true {
                attempt += 1
                let snapshot = attempt == 1 ? try await client.metadata.fresh() : try await client.metadata.refresh()
                do {
                    guard let leader = snapshot.leader(topic: request.topic, partition: request.partition) else {
                        throw TernError(
                            .broker, "FetchKey \(request.topic)-\(request.partition): partition has no leader",
                            brokerError: .leaderNotAvailable)
                    }
                    return try await client.send(request, to: leader)
                } catch let error as TernError where error.isRetriable && attempt < 3 {
                    try await Task.sleep(for: .milliseconds(100 * attempt))
                }
            }
        }
    }
}
