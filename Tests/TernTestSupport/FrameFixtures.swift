import TernWire

/// A failure of the frame helpers: the bytes are not the frame a test expected.
public struct FrameFixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Splits a complete frame (size prefix included) into its payload, checking the prefix.
public func framePayload(_ frame: [UInt8]) throws -> [UInt8] {
    guard frame.count >= Frame.prefixSize else {
        throw FrameFixtureError("frame of \(frame.count) bytes has no size prefix")
    }
    let size = frame.withUnsafeBytes { Int(BigEndian.uint32(at: 0, in: $0)) }
    guard size == frame.count - Frame.prefixSize else {
        throw FrameFixtureError("size prefix says \(size), payload has \(frame.count - Frame.prefixSize) bytes")
    }
    return Array(frame[Frame.prefixSize...])
}

/// Parses a complete request frame as a server would: header, then a body of type `R` that
/// must use every remaining byte.
public func parseRequestFrame<R: WireRequest>(_ frame: [UInt8], as type: R.Type = R.self) throws -> (
    header: RequestHeader, request: R
) {
    var reader = ByteReader(try framePayload(frame))
    let header = try RequestHeader(from: &reader)
    guard header.apiKey == R.apiKey, header.apiVersion <= R.apiVersion else {
        throw FrameFixtureError(
            "frame is \(header.apiKey) v\(header.apiVersion), expected \(R.apiKey) v0...v\(R.apiVersion)")
    }
    let request = try R(from: &reader, version: header.apiVersion)
    guard reader.isAtEnd else { throw FrameFixtureError("\(reader.remaining) bytes after the \(R.apiKey) body") }
    return (header, request)
}

/// Parses a complete response frame as a client would: correlation id, status, and (when the
/// status is NONE) a body of type `R` that must use every remaining byte.
public func parseResponseFrame<R: WireResponse>(_ frame: [UInt8], as type: R.Type = R.self, version: UInt16 = 0) throws -> (
    correlationId: UInt32, status: ResponseStatus, response: R?
) {
    var reader = ByteReader(try framePayload(frame))
    let head = try Frame.readResponseHead(&reader)
    guard head.status.errorCode == .none else {
        guard reader.isAtEnd else { throw FrameFixtureError("error response carries \(reader.remaining) body bytes") }
        return (head.correlationId, head.status, nil)
    }
    let response = try R(from: &reader, version: version)
    guard reader.isAtEnd else { throw FrameFixtureError("\(reader.remaining) bytes after the response body") }
    return (head.correlationId, head.status, response)
}

/// The body bytes of a message, as `encode(into:)` writes them.
public func encodedBody(_ message: some WireRequest) -> [UInt8] {
    var writer = ByteWriter()
    message.encode(into: &writer)
    return writer.take()
}

/// The body bytes of a response, as `encode(into:version:)` writes them.
public func encodedBody(_ message: some WireResponse, version: UInt16 = 0) -> [UInt8] {
    var writer = ByteWriter()
    message.encode(into: &writer, version: version)
    return writer.take()
}
