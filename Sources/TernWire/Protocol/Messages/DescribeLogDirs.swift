/// DescribeLogDirs (key 35): where partitions are stored and what their logs hold on disk —
/// size, offsets, segments and the log cleaner's progress. Tern's version 0 layout (Kafka's
/// number, its own fields).
public struct DescribeLogDirsRequest: WireRequest, Hashable {
    public typealias Response = DescribeLogDirsResponse
    public static let apiKey = ApiKey.describeLogDirs

    /// Topics to describe; empty means every topic.
    public var topics: [String]

    public init(topics: [String] = []) { self.topics = topics }

    public init(from reader: inout ByteReader) throws {
        topics = try reader.readArray("topics", minElementSize: 2) { try $0.readString("topic") }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(topics) { $0.writeString($1) }
    }
}

public struct DescribeLogDirsResponse: WireResponse, Hashable {
    /// One partition's log.
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        /// Bytes of all segment files.
        public var sizeBytes: Int64
        public var logStartOffset: Int64
        public var logEndOffset: Int64
        public var segmentCount: Int32
        /// The cleaner's checkpoint: offsets below it are compacted (0 for a log never compacted).
        public var firstDirtyOffset: Int64
        /// Wall-clock ms of the last compaction since the broker started; −1 for none.
        public var lastCleanedMs: Int64
        /// Why the cleaner gave up on this log, or nil.
        public var cleanerError: String?

        public init(
            partition: Int32, sizeBytes: Int64, logStartOffset: Int64, logEndOffset: Int64, segmentCount: Int32,
            firstDirtyOffset: Int64, lastCleanedMs: Int64 = -1, cleanerError: String? = nil
        ) {
            self.partition = partition
            self.sizeBytes = sizeBytes
            self.logStartOffset = logStartOffset
            self.logEndOffset = logEndOffset
            self.segmentCount = segmentCount
            self.firstDirtyOffset = firstDirtyOffset
            self.lastCleanedMs = lastCleanedMs
            self.cleanerError = cleanerError
        }
    }
    public typealias Topic = TopicPartitions<Partition>

    /// One log directory and the partitions in it.
    public struct LogDir: Sendable, Hashable {
        public var errorCode: ErrorCode
        public var path: String
        public var topics: [Topic]

        public init(errorCode: ErrorCode = .none, path: String, topics: [Topic]) {
            self.errorCode = errorCode
            self.path = path
            self.topics = topics
        }
    }

    public var logDirs: [LogDir]

    public init(logDirs: [LogDir]) { self.logDirs = logDirs }

    public init(from reader: inout ByteReader) throws {
        logDirs = try reader.readArray("logDirs", minElementSize: 8) { r in
            LogDir(
                errorCode: ErrorCode(rawValue: try r.readInt16("errorCode")), path: try r.readString("path"),
                topics: try r.readTopics(minPartitionSize: 50) { p in
                    Partition(
                        partition: try p.readInt32("partition"), sizeBytes: try p.readInt64("sizeBytes"),
                        logStartOffset: try p.readInt64("logStartOffset"), logEndOffset: try p.readInt64("logEndOffset"),
                        segmentCount: try p.readInt32("segmentCount"), firstDirtyOffset: try p.readInt64("firstDirtyOffset"),
                        lastCleanedMs: try p.readInt64("lastCleanedMs"), cleanerError: try p.readNullableString("cleanerError"))
                })
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(logDirs) { w, dir in
            w.write(dir.errorCode.rawValue)
            w.writeString(dir.path)
            w.writeTopics(dir.topics) { w, p in
                w.write(p.partition)
                w.write(p.sizeBytes)
                w.write(p.logStartOffset)
                w.write(p.logEndOffset)
                w.write(p.segmentCount)
                w.write(p.firstDirtyOffset)
                w.write(p.lastCleanedMs)
                w.writeNullableString(p.cleanerError)
            }
        }
    }
}
