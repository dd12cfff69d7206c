/// The request header that follows a frame's size prefix.
///
/// ```
/// request  = size u32 | apiKey u16 | apiVersion u16 | correlationId u32 | clientId str16 | body
/// response = size u32 | correlationId u32 | errorCode i16 | errorMessage nstr16 | body
/// ```
/// A response whose top-level `errorCode` is not NONE has no body: the request failed as a whole
/// (unsupported version, unparseable body). Per-topic and per-partition errors live in the body.
public struct RequestHeader: Sendable, Hashable {
    public var apiKey: ApiKey
    public var apiVersion: UInt16
    public var correlationId: UInt32
    public var clientId: String

    public init(apiKey: ApiKey, apiVersion: UInt16, correlationId: UInt32, clientId: String) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
        self.clientId = clientId
    }

    /// Bytes of the header before the client id.
    public static let fixedSize = 8

    /// Decodes a header from the start of a frame payload.
    public init(from reader: inout ByteReader) throws {
        apiKey = ApiKey(rawValue: try reader.readUInt16("apiKey"))
        apiVersion = try reader.readUInt16("apiVersion")
        correlationId = try reader.readUInt32("correlationId")
        clientId = try reader.readString("clientId")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(apiKey.rawValue)
        writer.write(apiVersion)
        writer.write(correlationId)
        writer.writeString(clientId)
    }
}

/// The top-level part of every response after its correlation id.
public struct ResponseStatus: Sendable, Hashable, Error, CustomStringConvertible {
    public var errorCode: ErrorCode
    public var errorMessage: String?

    public init(_ errorCode: ErrorCode, _ errorMessage: String? = nil) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }

    public static let ok = ResponseStatus(.none)

    public var description: String {
        errorMessage.map { "\(errorCode): \($0)" } ?? errorCode.description
    }
}

/// Builds and splits frames.
public enum Frame {
    /// Size of the length prefix.
    public static let prefixSize = 4

    /// Encodes a complete request frame, size prefix included.
    public static func request<R: WireRequest>(_ request: R, correlationId: UInt32, clientId: String) -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.write(UInt32(0))
        RequestHeader(apiKey: R.apiKey, apiVersion: request.version, correlationId: correlationId, clientId: clientId)
            .encode(into: &writer)
        request.encode(into: &writer)
        writer.patch(UInt32(writer.count - prefixSize), at: 0)
        return writer.take()
    }

    /// Starts a response frame: reserves the size prefix and writes the correlation id and status.
    /// Finish it with ``finish(_:)``.
    public static func beginResponse(
        _ writer: inout ByteWriter, correlationId: UInt32, status: ResponseStatus = .ok
    ) {
        writer.write(UInt32(0))
        writer.write(correlationId)
        writer.write(status.errorCode.rawValue)
        writer.writeNullableString(status.errorMessage)
    }

    /// Patches the size prefix of a frame begun at offset 0; `extra` counts bytes that follow
    /// the writer's contents (file regions sent after it).
    public static func finish(_ writer: inout ByteWriter, extra: Int = 0) {
        writer.patch(UInt32(writer.count - prefixSize + extra), at: 0)
    }

    /// Encodes a complete response frame.
    public static func response<R: WireResponse>(_ response: R, correlationId: UInt32, version: UInt16 = 0) -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        beginResponse(&writer, correlationId: correlationId)
        response.encode(into: &writer, version: version)
        finish(&writer)
        return writer.take()
    }

    /// Encodes a body-less error response.
    public static func errorResponse(correlationId: UInt32, status: ResponseStatus) -> [UInt8] {
        var writer = ByteWriter(capacity: 32)
        beginResponse(&writer, correlationId: correlationId, status: status)
        finish(&writer)
        return writer.take()
    }

    /// Reads the correlation id and status at the start of a response payload (without prefix).
    public static func readResponseHead(_ reader: inout ByteReader) throws -> (correlationId: UInt32, status: ResponseStatus) {
        let correlationId = try reader.readUInt32("correlationId")
        let code = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        let message = try reader.readNullableString("errorMessage")
        return (correlationId, ResponseStatus(code, message))
    }
}

/// A request message of the native protocol.
///
/// Most APIs have one version; one that has several (Fetch) carries the version it is encoded at
/// in ``version`` and decodes by the header's version through ``init(from:version:)``.
public protocol WireRequest: Sendable {
    associatedtype Response: WireResponse
    static var apiKey: ApiKey { get }
    /// The newest version this build speaks.
    static var apiVersion: UInt16 { get }
    /// The version this request is encoded at (the header's `apiVersion`).
    var version: UInt16 { get }
    func encode(into writer: inout ByteWriter)
    init(from reader: inout ByteReader) throws
    /// Decodes a body of the given version (already checked against ``ApiKey/supported``).
    init(from reader: inout ByteReader, version: UInt16) throws
}

/// A response message (its body, after the status). Its version is its request's.
public protocol WireResponse: Sendable {
    func encode(into writer: inout ByteWriter)
    func encode(into writer: inout ByteWriter, version: UInt16)
    init(from reader: inout ByteReader) throws
    init(from reader: inout ByteReader, version: UInt16) throws
}

extension WireRequest {
    public static var apiVersion: UInt16 { 0 }
    public var version: UInt16 { Self.apiVersion }
    public init(from reader: inout ByteReader, version: UInt16) throws { try self.init(from: &reader) }
}

extension WireResponse {
    public func encode(into writer: inout ByteWriter, version: UInt16) { encode(into: &writer) }
    public init(from reader: inout ByteReader, version: UInt16) throws { try self.init(from: &reader) }
}
