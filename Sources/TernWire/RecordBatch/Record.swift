/// A record header: a string key and an optional byte value.
public struct RecordHeader: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// One record as an application sees it, with its offset in the partition.
public struct Record: Sendable, Hashable {
    /// Offset in the partition.
    public var offset: Int64
    /// Milliseconds since the epoch (CreateTime unless the batch says LogAppendTime).
    public var timestamp: Int64
    /// The key; nil for records without one.
    public var key: [UInt8]?
    /// The value; nil for tombstones.
    public var value: [UInt8]?
    /// Headers, in order.
    public var headers: [RecordHeader]

    public init(offset: Int64, timestamp: Int64, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = []) {
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
    }
}
