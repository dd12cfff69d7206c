/// FetchKey (key 1002, Tern's own): the records of one key in one partition, from an offset on,
/// in offset order, found through the partition's key index (topics with `key.index.enable=true`).
///
/// The response carries the whole batches that hold the key's records (they may hold other keys'
/// records too: readers keep only the key's), up to about `maxBytes` (at least one batch), and
/// `nextOffset`, where the next request continues. The read is complete once `nextOffset`
/// reaches `highWatermark`.
public struct FetchKeyRequest: WireRequest, Hashable {
    public typealias Response = FetchKeyResponse
    public static let apiKey = ApiKey.fetchKey

    public var topic: String
    public var partition: Int32
    /// The key, compared byte for byte.
    public var key: [UInt8]
    /// The first offset wanted (below the log start: from the log start).
    public var fetchOffset: Int64
    /// Record bytes allowed in the response (soft: at least one whole batch is returned).
    public var maxBytes: Int32

    public init(topic: String, partition: Int32, key: [UInt8], fetchOffset: Int64, maxBytes: Int32) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.fetchOffset = fetchOffset
        self.maxBytes = maxBytes
    }

    public init(from reader: inout ByteReader) throws {
        topic = try reader.readString("topic")
        partition = try reader.readInt32("partition")
        guard let key = try reader.readNullableBytes("key") else {
            throw WireError(.malformed, "key: null (FetchKey reads records that have a key)")
        }
        self.key = key
        fetchOffset = try reader.readInt64("fetchOffset")
        maxBytes = try reader.readInt32("maxBytes")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeString(topic)
        writer.write(partition)
        writer.writeNullableBytes(key)
        writer.write(fetchOffset)
        writer.write(maxBytes)
    }
}

/// The answer to a ``FetchKeyRequest`` (errors are in the response's top-level status).
public struct FetchKeyResponse: WireResponse, Hashable {
    /// The offset after the last record a read may return (as for Fetch).
    public var highWatermark: Int64
    public var logStartOffset: Int64
    /// Where the next request for this key continues; equal to `highWatermark` once the read
    /// has covered everything up to it.
    public var nextOffset: Int64
    /// Whole record batches holding the key's records, in offset order.
    public var records: [UInt8]

    public init(highWatermark: Int64, logStartOffset: Int64, nextOffset: Int64, records: [UInt8]) {
        self.highWatermark = highWatermark
        self.logStartOffset = logStartOffset
        self.nextOffset = nextOffset
        self.records = records
    }

    public init(from reader: inout ByteReader) throws {
        highWatermark = try reader.readInt64("highWatermark")
        logStartOffset = try reader.readInt64("logStartOffset")
        nextOffset = try reader.readInt64("nextOffset")
        let length = try reader.readInt32("records length")
        guard length >= 0 else { throw WireError(.malformed, "records: length \(length)") }
        records = try reader.readBytes(count: Int(length), "records")
    }

    public func encode(into writer: inout ByteWriter) {
        Self.writeHeader(&writer, self, recordsLength: records.count)
        writer.write(contentsOf: records)
    }

    /// Writes everything up to and including the records length; exactly `recordsLength` bytes
    /// of batches must follow (the broker sends them from the segment files).
    public static func writeHeader(_ writer: inout ByteWriter, _ response: FetchKeyResponse, recordsLength: Int) {
        writer.write(response.highWatermark)
        writer.write(response.logStartOffset)
        writer.write(response.nextOffset)
        writer.write(Int32(recordsLength))
    }
}
