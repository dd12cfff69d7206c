/// ApiVersions (key 18): the handshake. Lists the APIs and versions the broker speaks.
public struct ApiVersionsRequest: WireRequest {
    public typealias Response = ApiVersionsResponse
    public static let apiKey = ApiKey.apiVersions
    public init() {}
    public init(from reader: inout ByteReader) throws {}
    public func encode(into writer: inout ByteWriter) {}
}

public struct ApiVersionsResponse: WireResponse, Hashable {
    public struct Api: Sendable, Hashable {
        public var key: ApiKey
        public var minVersion: UInt16
        public var maxVersion: UInt16
        public init(key: ApiKey, minVersion: UInt16, maxVersion: UInt16) {
            self.key = key
            self.minVersion = minVersion
            self.maxVersion = maxVersion
        }
    }
    public var apis: [Api]
    /// The broker's software version, e.g. "0.1.0".
    public var brokerVersion: String
    /// Milliseconds since the broker process started serving.
    public var uptimeMs: Int64

    public init(apis: [Api], brokerVersion: String, uptimeMs: Int64 = 0) {
        self.apis = apis
        self.brokerVersion = brokerVersion
        self.uptimeMs = uptimeMs
    }

    public init(from reader: inout ByteReader) throws {
        apis = try reader.readArray("apis", minElementSize: 6) { r in
            Api(
                key: ApiKey(rawValue: try r.readUInt16()), minVersion: try r.readUInt16(),
                maxVersion: try r.readUInt16())
        }
        brokerVersion = try reader.readString("brokerVersion")
        uptimeMs = try reader.readInt64("uptimeMs")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(apis) { w, api in
            w.write(api.key.rawValue)
            w.write(api.minVersion)
            w.write(api.maxVersion)
        }
        writer.writeString(brokerVersion)
        writer.write(uptimeMs)
    }
}
