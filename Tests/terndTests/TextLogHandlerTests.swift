import Logging
import XCTest

@testable import ternd

/// ternd's log lines: whatever a client puts in a value that gets logged (a client id, a topic
/// name), a text line stays one line and its fields stay its own.
final class TextLogHandlerTests: XCTestCase {
    private let text = TextLogHandler(label: "ternd")
    private let json = TextLogHandler(label: "ternd", json: true)

    /// The part of a text line after its timestamp.
    private func body(_ line: String) -> String {
        String(line.drop { $0 != " " }.dropFirst())
    }

    func testANewlineInAValueCannotForgeALine() {
        let forged = "x\n2026-11-27T00:00:00.000Z critical ternd: broker compromised"
        let line = text.line(level: .warning, message: "refused", metadata: ["tern_client_id": "\(forged)"])
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, line)
        XCTAssertTrue(line.hasSuffix("\n"))
        XCTAssertEqual(
            body(line),
            "warning ternd: refused tern_client_id=\"x\\n2026-11-27T00:00:00.000Z critical ternd: broker compromised\"\n"
        )
    }

    func testControlCharactersInTheMessageAndKeysAreEscaped() {
        let line = text.line(
            level: .info, message: "a\rb\u{1B}[31mc\u{7F}\u{85}\u{2028}d\\e\tf", metadata: ["k\ney": "v"])
        XCTAssertEqual(body(line), "info ternd: a\\rb\\u{1B}[31mc\\u{7F}\\u{85}\\u{2028}d\\\\e\\tf k\\ney=v\n")
    }

    func testQuotesAndEqualsCannotForgeAField() {
        let line = text.line(level: .info, message: "m", metadata: ["peer": "x\" admin=\"yes"])
        XCTAssertEqual(body(line), "info ternd: m peer=\"x\\\" admin=\\\"yes\"\n")
        let plain = text.line(level: .info, message: "m", metadata: ["a": "b", "empty": ""])
        XCTAssertEqual(body(plain), "info ternd: m a=b empty=\"\"\n")
        let equals = text.line(level: .info, message: "m", metadata: ["a": "b=c"])
        XCTAssertEqual(body(equals), "info ternd: m a=\"b=c\"\n")
    }

    func testHandlerMetadataIsEscapedToo() {
        var handler = text
        handler[metadataKey: "tern_peer"] = "p\nq"
        XCTAssertEqual(
            body(handler.line(level: .debug, message: "m", metadata: nil)), "debug ternd: m tern_peer=p\\nq\n")
    }

    func testJSONLinesStayOneLine() {
        let line = json.line(level: .warning, message: "a\nb", metadata: ["id": "x\n\"y\u{1}"])
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, line)
        XCTAssertTrue(line.contains(#""msg":"a\nb""#), line)
        XCTAssertTrue(line.contains(#""id":"x\n\"y\u0001""#), line)
    }
}
