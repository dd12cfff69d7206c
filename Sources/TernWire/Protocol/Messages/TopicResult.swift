/// The per-topic outcome of CreateTopics and DeleteTopics.
public struct TopicResult: Sendable, Hashable {
    public var name: String
    public var errorCode: ErrorCode
    public var errorMessage: String?

    public init(name: String, errorCode: ErrorCode = .none, errorMessage: String? = nil) {
        self.name = name
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }

    static func read(_ r: inout ByteReader) throws -> TopicResult {
        TopicResult(
            name: try r.readString("topic"), errorCode: ErrorCode(rawValue: try r.readInt16()),
            errorMessage: try r.readNullableString("errorMessage"))
    }

    func write(_ w: inout ByteWriter) {
        w.writeString(name)
        w.write(errorCode.rawValue)
        w.writeNullableString(errorMessage)
    }
}

/// A configuration key and value.
public struct ConfigEntry: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
