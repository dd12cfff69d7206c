/// DeleteTopics (key 20).
public struct DeleteTopicsRequest: WireRequest, Hashable {
    public typealias Response = DeleteTopicsResponse
    public static let apiKey = ApiKey.deleteTopics
    public var names: [String]
    public var timeoutMs: Int32

    public init(names: [String], timeoutMs: Int32 = 30_000) {
        self.names = names
        self.timeoutMs = timeoutMs
    }

    public init(from reader: inout ByteReader) throws {
        names = try reader.readArray("topics", minElementSize: 2) { try $0.readString("topic") }
        timeoutMs = try reader.readInt32("timeoutMs")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(names) { $0.writeString($1) }
        writer.write(timeoutMs)
    }
}

public struct DeleteTopicsResponse: WireResponse, Hashable {
    public var topics: [TopicResult]
    public init(topics: [TopicResult]) { self.topics = topics }
    public init(from reader: inout ByteReader) throws {
        topics = try reader.readArray("topics", minElementSize: 6) { try TopicResult.read(&$0) }
    }
    public func encode(into writer: inout ByteWriter) { writer.writeArray(topics) { $1.write(&$0) } }
}
