/// AlterConfigs (key 33): sets topic-level configuration overrides. Each listed key is set to its
/// value; a key listed with a null value is removed (back to the broker default). Keys not
/// listed keep their current values.
public struct AlterConfigsRequest: WireRequest, Hashable {
    public typealias Response = AlterConfigsResponse
    public static let apiKey = ApiKey.alterConfigs

    public struct Entry: Sendable, Hashable {
        public var name: String
        /// The new value; nil removes the override.
        public var value: String?
        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }
    public struct Resource: Sendable, Hashable {
        public var type: DescribeConfigsRequest.ResourceType
        public var name: String
        public var entries: [Entry]
        public init(type: DescribeConfigsRequest.ResourceType, name: String, entries: [Entry]) {
            self.type = type
            self.name = name
            self.entries = entries
        }
    }
    public var resources: [Resource]
    /// Check the request without changing anything.
    public var validateOnly: Bool

    public init(resources: [Resource], validateOnly: Bool = false) {
        self.resources = resources
        self.validateOnly = validateOnly
    }

    public init(from reader: inout ByteReader) throws {
        resources = try reader.readArray("resources", minElementSize: 7) { r in
            Resource(
                type: .init(rawValue: try r.readInt8("resourceType")), name: try r.readString("resourceName"),
                entries: try r.readArray("configs", minElementSize: 4) { e in
                    Entry(name: try e.readString("config name"), value: try e.readNullableString("config value"))
                })
        }
        validateOnly = try reader.readBool("validateOnly")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(resources) { w, r in
            w.write(r.type.rawValue)
            w.writeString(r.name)
            w.writeArray(r.entries) { w, e in
                w.writeString(e.name)
                w.writeNullableString(e.value)
            }
        }
        writer.write(validateOnly)
    }
}

public struct AlterConfigsResponse: WireResponse, Hashable {
    public struct Resource: Sendable, Hashable {
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var type: DescribeConfigsRequest.ResourceType
        public var name: String
        public init(
            errorCode: ErrorCode = .none, errorMessage: String? = nil, type: DescribeConfigsRequest.ResourceType,
            name: String
        ) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.type = type
            self.name = name
        }
    }
    public var resources: [Resource]

    public init(resources: [Resource]) { self.resources = resources }

    public init(from reader: inout ByteReader) throws {
        resources = try reader.readArray("resources", minElementSize: 7) { r in
            Resource(
                errorCode: ErrorCode(rawValue: try r.readInt16()), errorMessage: try r.readNullableString(),
                type: .init(rawValue: try r.readInt8()), name: try r.readString("resourceName"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(resources) { w, r in
            w.write(r.errorCode.rawValue)
            w.writeNullableString(r.errorMessage)
            w.write(r.type.rawValue)
            w.writeString(r.name)
        }
    }
}
