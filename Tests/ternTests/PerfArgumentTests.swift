import ArgumentParser
import XCTest

@testable import tern

/// `tern perf` refuses invalid combinations with a clear message before connecting anywhere.
final class PerfArgumentTests: XCTestCase {
    private func assertRefused<C: ParsableCommand>(_ type: C.Type, _ arguments: [String], _ fragment: String) {
        XCTAssertThrowsError(try type.parse(arguments), arguments.joined(separator: " ")) { error in
            let message = type.message(for: error)
            XCTAssertTrue(message.contains(fragment), "\(arguments): \(message)")
        }
    }

    func testProduceArguments() throws {
        _ = try PerfProduceCommand.parse(["--topic", "t", "--records", "10", "--acks", "all", "--compression", "gzip"])
        assertRefused(PerfProduceCommand.self, ["--topic", "t", "--records", "0"], "--records must be positive")
        assertRefused(PerfProduceCommand.self, ["--topic", "t", "--records", "5", "--record-size", "-1"], "--record-size")
        assertRefused(PerfProduceCommand.self, ["--topic", "t", "--records", "5", "--batch-size", "10"], "--batch-size")
        assertRefused(PerfProduceCommand.self, ["--topic", "t", "--records", "5", "--acks", "2"], "acks")
        assertRefused(PerfProduceCommand.self, ["--topic", "t", "--records", "5", "--compression", "zstd"], "compression")
        assertRefused(PerfProduceCommand.self, ["--records", "5"], "--topic")
        assertRefused(PerfProduceCommand.self, ["--topic", "t", "--records", "5", "--producers", "0"], "--producers")
        assertRefused(PerfProduceCommand.self, ["--topic", "t", "--records", "2", "--producers", "3"], "--producers")
        assertRefused(PerfProduceCommand.self, ["--topic", "t", "--records", "5", "--throughput", "-1"], "--throughput")
        _ = try PerfProduceCommand.parse(["--topic", "t", "--records", "8", "--producers", "4", "--throughput", "100"])
        XCTAssertEqual(try PerfProduceCommand.parse(["--topic", "t", "--records", "8", "--key-count", "3"]).keyCount, 3)
        assertRefused(PerfProduceCommand.self, ["--topic", "t", "--records", "5", "--key-count", "-1"], "--key-count")
        XCTAssertEqual(
            try PerfProduceCommand.parse(["--topic", "t", "--records", "8", "--condition", "end-offset"]).condition,
            .endOffset)
        XCTAssertEqual(try PerfProduceCommand.parse(["--topic", "t", "--records", "8"]).condition, PerfAppendMode.none)
        assertRefused(PerfProduceCommand.self, ["--topic", "t", "--records", "5", "--condition", "maybe"], "condition")
    }

    func testConsumeAndEndToEndArguments() throws {
        _ = try PerfConsumeCommand.parse(["--topic", "t", "--records", "10"])
        _ = try PerfConsumeCommand.parse(["--topic", "t", "--records", "10", "--consumers", "3", "--group", "g"])
        _ = try PerfConsumeCommand.parse(["--topic", "t", "--records", "10", "--group", "g"])
        assertRefused(PerfConsumeCommand.self, ["--topic", "t", "--records", "10", "--consumers", "3"], "needs --group")
        assertRefused(PerfConsumeCommand.self, ["--topic", "t", "--records", "10", "--consumers", "0"], "--consumers")
        assertRefused(PerfConsumeCommand.self, ["--topic", "t", "--records", "10", "--group", ""], "--group must not be empty")
        assertRefused(PerfConsumeCommand.self, ["--topic", "t", "--records", "0"], "--records must be positive")
        _ = try PerfEndToEndCommand.parse(["--topic", "t", "--records", "10", "--throughput", "100"])
        assertRefused(PerfEndToEndCommand.self, ["--topic", "t", "--records", "10"], "--throughput")
        assertRefused(PerfEndToEndCommand.self, ["--topic", "t", "--records", "10", "--throughput", "0"], "--throughput must be positive")
        assertRefused(
            PerfEndToEndCommand.self, ["--topic", "t", "--records", "10", "--throughput", "5", "--record-size", "4"], "--record-size")
        assertRefused(
            PerfEndToEndCommand.self, ["--topic", "t", "--records", "10", "--throughput", "5", "--partition=-1"],
            "--partition must not be negative")
        XCTAssertEqual(
            try PerfEndToEndCommand.parse(["--topic", "t", "--records", "1", "--throughput", "1", "--partition", "3"]).partition, 3)
    }
}
