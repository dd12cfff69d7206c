/// How appended data reaches stable storage.
public enum FlushMode: Sendable, Equatable {
    /// `acks=all` waits for a group-committed `fdatasync`.
    case sync
    /// Logs are flushed every `milliseconds`; nothing waits for the disk.
    case interval(milliseconds: Int64)
}

/// Per-partition storage settings (Kafka's defaults).
public struct LogConfig: Sendable, Equatable {
    /// Roll a new segment once the active one would pass this size (`segment.bytes`).
    public var segmentBytes: Int
    /// Roll a new segment once the active one is this old (`segment.ms`).
    public var segmentMs: Int64
    /// Bytes of log between offset-index entries (`index.interval.bytes`).
    public var indexIntervalBytes: Int
    /// Largest batch accepted (`max.message.bytes`).
    public var maxMessageBytes: Int

    public init(
        segmentBytes: Int = 1_073_741_824, segmentMs: Int64 = 604_800_000, indexIntervalBytes: Int = 4096,
        maxMessageBytes: Int = 1_048_588
    ) {
        self.segmentBytes = segmentBytes
        self.segmentMs = segmentMs
        self.indexIntervalBytes = indexIntervalBytes
        self.maxMessageBytes = maxMessageBytes
    }
}

/// A topic name and partition number.
public struct TopicPartition: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// `topic-partition`, also the name of the partition's directory.
    public var description: String { "\(topic)-\(partition)" }

    /// Parses a partition directory name (`orders-3`); nil for anything else.
    init?(directoryName name: String) {
        guard let dash = name.lastIndex(of: "-"), let partition = Int32(name[name.index(after: dash)...]),
            partition >= 0
        else { return nil }
        let topic = String(name[..<dash])
        guard !topic.isEmpty, !topic.contains("/") else { return nil }
        self.init(topic, partition)
    }
}

/// Where an append went.
public struct AppendResult: Sendable, Equatable {
    public var baseOffset: Int64
    public var lastOffset: Int64
    public var logEndOffset: Int64
    public var logStartOffset: Int64
}

/// A region of one segment file holding whole batches (the last may be cut by the byte limit).
public struct LogSlice: Sendable {
    /// The segment file; keeps the descriptor open while the slice is being sent.
    public let file: SegmentFile
    public let position: Int64
    public let count: Int
}

/// What a read found.
public struct ReadResult: Sendable {
    /// Regions to send, in offset order; empty when there is nothing at or after the offset.
    public var slices: [LogSlice]
    public var byteCount: Int
    public var logStartOffset: Int64
    public var logEndOffset: Int64

    /// The bytes of the slices, read into memory.
    public func readBytes() throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        for slice in slices {
            bytes += try FileSystem.pread(slice.file.fd, count: slice.count, at: slice.position, path: slice.file.path)
        }
        return bytes
    }
}
