/// DescribeConfigs (key 32): the effective configuration of topics or the broker.
public struct DescribeConfigsRequest: WireRequest, Hashable {
    public typealias Response = DescribeConfigsResponse
    public static let apiKey = ApiKey.describeConfigs

    /// What a resource is.
    public struct ResourceType: RawRepresentable, Hashable, Sendable {
        public var rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }
        public static let topic = ResourceType(rawValue: 2)
        public static let broker = ResourceType(rawValue: 4)
    }
    public struct Resource: Sendable, Hashable {
        public var type: ResourceType
        public var name: String
        /// Keys to return; empty means all.
        public var keys: [String]
        public init(type: ResourceType, name: String, keys: [String] = []) {
            self.type = type
            self.name = name
            self.keys = keys
        }
    }
    public var resources: [Resource]

    public init(resources: [Resource]) { self.resources = resources }

    public init(from reader: inout ByteReader) throws {
        resources = try reader.readArray("resources", minElementSize: 7) { r in
            Resource(
                type: ResourceType(rawValue: try r.readInt8("resourceType")), name: try r.readString("resourceName"),
                keys: try r.readArray("keys", minElementSize: 2) { try $0.readString("key") })
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(resources) { w, r in
            w.write(r.type.rawValue)
            w.writeString(r.name)
            w.writeArray(r.keys) { $0.writeString($1) }
        }
    }
}

public struct DescribeConfigsResponse: WireResponse, Hashable {
    /// Where a config value comes from.
    public struct Source: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }
        public static let topic = Source(rawValue: 1)
        public static let staticBroker = Source(rawValue: 4)
        public static let defaultValue = Source(rawValue: 5)
        public var description: String {
            switch self {
            case .topic: "topic"
            case .staticBroker: "broker"
            case .defaultValue: "default"
            default: "source-\(rawValue)"
            }
        }
    }
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var value: String?
        public var source: Source
        public var readOnly: Bool
        public var sensitive: Bool
        public init(name: String, value: String?, source: Source, readOnly: Bool = false, sensitive: Bool = false) {
            self.name = name
            self.value = value
            self.source = source
            self.readOnly = readOnly
            self.sensitive = sensitive
        }
    }
    public struct Resource: Sendable, Hashable {
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var type: DescribeConfigsRequest.ResourceType
        public var name: String
        public var entries: [Entry]
        public init(
            errorCode: ErrorCode = .none, errorMessage: String? = nil, type: DescribeConfigsRequest.ResourceType,
            name: String, entries: [Entry]
        ) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.type = type
            self.name = name
            self.entries = entries
        }
    }
    public var resources: [Resource]

    public init(resources: [Resource]) { self.resources = resources }

    public init(from reader: inout ByteReader) throws {
        resources = try reader.readArray("resources", minElementSize: 11) { r in
            Resource(
                errorCode: ErrorCode(rawValue: try r.readInt16()), errorMessage: try r.readNullableString(),
                type: .init(rawValue: try r.readInt8()), name: try r.readString("resourceName"),
                entries: try r.readArray("configs", minElementSize: 7) { e in
                    Entry(
                        name: try e.readString("config name"), value: try e.readNullableString("config value"),
                        source: Source(rawValue: try e.readInt8()), readOnly: try e.readBool(),
                        sensitive: try e.readBool())
                })
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(resources) { w, r in
            w.write(r.errorCode.rawValue)
            w.writeNullableString(r.errorMessage)
            w.write(r.type.rawValue)
            w.writeString(r.name)
            w.writeArray(r.entries) { w, e in
                w.writeString(e.name)
                w.writeNullableString(e.value)
                w.write(e.source.rawValue)
                w.write(e.readOnly)
                w.write(e.sensitive)
            }
        }
    }
}
