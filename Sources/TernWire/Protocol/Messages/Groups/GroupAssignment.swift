/// Partitions of one topic as group APIs carry them: `name str16 | partitions array<i32>`.
public typealias TopicPartitionList = TopicPartitions<Int32>

extension ByteReader {
    /// Reads `[name str16, partitions array<i32>]`.
    public mutating func readTopicPartitionLists(_ what: String = "topics") throws -> [TopicPartitionList] {
        try readArray(what, minElementSize: 6) { r in
            TopicPartitionList(
                name: try r.readString("topic"),
                partitions: try r.readArray("partitions", minElementSize: 4) { try $0.readInt32("partition") })
        }
    }

    /// Reads `array<str16>`.
    public mutating func readStrings(_ what: String) throws -> [String] {
        try readArray(what, minElementSize: 2) { try $0.readString(what) }
    }
}

extension ByteWriter {
    /// Writes `[name str16, partitions array<i32>]`.
    public mutating func writeTopicPartitionLists(_ topics: [TopicPartitionList]) {
        writeArray(topics) { w, t in
            w.writeString(t.name)
            w.writeArray(t.partitions) { $0.write($1) }
        }
    }

    /// Writes `array<str16>`.
    public mutating func writeStrings(_ values: [String]) {
        writeArray(values) { $0.writeString($1) }
    }
}
