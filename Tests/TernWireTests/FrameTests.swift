import TernTestSupport
import TernWire
import XCTest

/// The frame layout of `docs/protocol.md` §1: size prefix, request header, response status.
final class FrameTests: XCTestCase {
    func testRequestFrameLayout() {
        let frame = Frame.request(ApiVersionsRequest(), correlationId: 0x0102_0304, clientId: "c")
        XCTAssertEqual(frame, [0, 0, 0, 11, 0, 18, 0, 0, 1, 2, 3, 4, 0, 1, UInt8(ascii: "c")])

        let metadata = Frame.request(
            MetadataRequest(topics: ["ab"], allowAutoTopicCreation: true), correlationId: 9, clientId: "")
        XCTAssertEqual(
            metadata,
            [0, 0, 0, 20, 0, 3, 0, 0, 0, 0, 0, 9, 0, 0]  // size, apiKey 3, v0, correlation 9, clientId ""
                + [0] + [0, 0, 0, 1] + [0, 2, UInt8(ascii: "a"), UInt8(ascii: "b")] + [1])
        XCTAssertEqual(
            encodedBody(MetadataRequest(topics: nil)), [1, 0, 0, 0, 0, 0], "all topics: flag 1, empty array")
    }

    func testResponseFrameLayoutAndHead() throws {
        let ok = Frame.response(DeleteTopicsResponse(topics: []), correlationId: 5)
        XCTAssertEqual(ok, [0, 0, 0, 12, 0, 0, 0, 5, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0])

        let error = Frame.errorResponse(correlationId: 6, status: ResponseStatus(.unsupportedVersion, "no"))
        XCTAssertEqual(error, [0, 0, 0, 10, 0, 0, 0, 6, 0, 35, 0, 2, UInt8(ascii: "n"), UInt8(ascii: "o")])
        var reader = ByteReader(try framePayload(error))
        let head = try Frame.readResponseHead(&reader)
        XCTAssertEqual(head.correlationId, 6)
        XCTAssertEqual(head.status, ResponseStatus(.unsupportedVersion, "no"))
        XCTAssertTrue(reader.isAtEnd, "an error response has no body")

        let bare = Frame.errorResponse(correlationId: 7, status: ResponseStatus(.invalidRequest))
        let parsed = try parseResponseFrame(bare, as: MetadataResponse.self)
        XCTAssertEqual(parsed.status.errorCode, .invalidRequest)
        XCTAssertNil(parsed.status.errorMessage)
        XCTAssertNil(parsed.response)
    }

    func testBeginResponseAndFinishCountExtraBytes() throws {
        var writer = ByteWriter()
        Frame.beginResponse(&writer, correlationId: 1)
        writer.write(UInt32(0xDEAD_BEEF))
        Frame.finish(&writer, extra: 100)
        // correlationId 4 + errorCode 2 + errorMessage (null) 2 + body 4, plus 100 bytes sent after it.
        XCTAssertEqual(Array(writer.bytes.prefix(4)), [0, 0, 0, UInt8(4 + 2 + 2 + 4 + 100)])
    }
}
