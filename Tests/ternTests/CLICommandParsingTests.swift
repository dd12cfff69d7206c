// Tests of the `tern` command types through ArgumentParser's `parse` API, and of its stdin line
// splitting and output format.
import ArgumentParser
import TernClient
import XCTest

@testable import tern

final class CLICommandParsingTests: XCTestCase {
    func testConsumeRefusesFromBeginningWithOffset() {
        XCTAssertThrowsError(try ConsumeCommand.parse(["t", "--from-beginning", "--offset", "3"])) { error in
            XCTAssertTrue(ConsumeCommand.message(for: error).contains("cannot be used together"))
        }
        XCTAssertNoThrow(try ConsumeCommand.parse(["t", "--from-beginning"]))
        XCTAssertNoThrow(try ConsumeCommand.parse(["t", "--offset", "3", "--partition", "1"]))
        XCTAssertThrowsError(try ConsumeCommand.parse(["t", "--offset", "-1"]))
        XCTAssertThrowsError(try ConsumeCommand.parse(["t", "--max-messages", "0"]))
    }

    func testConsumeFlags() throws {
        let command = try ConsumeCommand.parse(["t", "--print-key", "--print-offset", "--timeout-ms", "500"])
        XCTAssertTrue(command.printKey)
        XCTAssertTrue(command.printOffset)
        XCTAssertEqual(command.timeoutMs, 500)
    }

    func testProduceAcks() throws {
        XCTAssertEqual(try ProduceCommand.parse(["t"]).acks, AcksOption(.all))
        XCTAssertEqual(try ProduceCommand.parse(["t", "--acks", "0"]).acks, AcksOption(.none))
        XCTAssertEqual(try ProduceCommand.parse(["t", "--acks", "1"]).acks, AcksOption(.leader))
        XCTAssertEqual(try ProduceCommand.parse(["t", "--acks", "all"]).acks, AcksOption(.all))
        XCTAssertThrowsError(try ProduceCommand.parse(["t", "--acks", "2"]))
        XCTAssertThrowsError(try ProduceCommand.parse(["t", "--key-separator", ""]))
        let configured = try ProduceCommand.parse(["t", "--linger-ms", "20", "--batch-size", "65536"])
        XCTAssertEqual(configured.producerConfiguration.linger, .milliseconds(20))
        XCTAssertEqual(configured.producerConfiguration.batchSize, 65_536)
    }

    func testProduceConditions() throws {
        XCTAssertEqual(
            try ProduceCommand.parse(["t", "--partition", "2", "--if-end-offset", "7"]).condition, .endOffset(7))
        XCTAssertEqual(
            try ProduceCommand.parse(["t", "--key-separator", ":", "--if-key-offset", "-1"]).condition, .keyAbsent)
        XCTAssertEqual(
            try ProduceCommand.parse(["t", "--key-separator", ":", "--if-key-offset", "12"]).condition,
            .keyLastOffset(12))
        XCTAssertNil(try ProduceCommand.parse(["t"]).condition)
        let refused: [([String], String)] = [
            (["t", "--if-end-offset", "0"], "--if-end-offset needs --partition"),
            (["t", "--partition", "0", "--if-end-offset", "-1"], "--if-end-offset must not be negative"),
            (["t", "--if-key-offset", "3"], "--if-key-offset needs --key-separator"),
            (["t", "--key-separator", ":", "--if-key-offset", "-2"], "--if-key-offset must be -1"),
            (
                ["t", "--partition", "0", "--if-end-offset", "0", "--key-separator", ":", "--if-key-offset", "1"],
                "cannot be combined"
            ),
            (["t", "--partition", "0", "--if-end-offset", "0", "--acks", "0"], "needs --acks 1 or all"),
        ]
        for (arguments, fragment) in refused {
            XCTAssertThrowsError(try ProduceCommand.parse(arguments), "\(arguments)") { error in
                let message = ProduceCommand.message(for: error)
                XCTAssertTrue(message.contains(fragment), "\(arguments): \(message)")
            }
        }
    }

    func testTopicCreateConfigs() throws {
        let command = try TopicCreateCommand.parse(
            ["orders", "--partitions", "4", "--config", "retention.ms=1000", "--config", "cleanup.policy=compact"])
        XCTAssertEqual(try command.parsedConfigs(), ["retention.ms": "1000", "cleanup.policy": "compact"])
        XCTAssertEqual(try TopicCreateCommand.parse(["x", "--partitions", "1", "--config", "a=b=c"]).parsedConfigs(), ["a": "b=c"])
        XCTAssertThrowsError(try TopicCreateCommand.parse(["x", "--partitions", "1", "--config", "noequals"])) { error in
            XCTAssertTrue(TopicCreateCommand.message(for: error).contains("KEY=VALUE"))
        }
        XCTAssertThrowsError(try TopicCreateCommand.parse(["x", "--partitions", "1", "--config", "=v"]))
        XCTAssertThrowsError(try TopicCreateCommand.parse(["x", "--partitions", "0"]))
    }

    func testBootstrapBeforeTheSubcommandReachesIt() throws {
        let command = try TernCommand.parseAsRoot(["--bootstrap", "h:1", "topic", "list"])
        XCTAssertEqual((command as? TopicListCommand)?.global.bootstrapList, "h:1")
        let bad = try TernCommand.parseAsRoot(["--bootstrap", "nohost", "topic", "list"])
        XCTAssertThrowsError(try (bad as? TopicListCommand)?.global.bootstrapAddresses())
    }

    func testLinesAreSplitAcrossChunks() {
        var splitter = LineSplitter()
        var lines: [String] = []
        let emit = { (line: ArraySlice<UInt8>) in lines.append(String(decoding: line, as: UTF8.self)) }
        for chunk in ["a:1\nb", ":2\r\n\nc", "", ":3"] { splitter.feed(Array(chunk.utf8), emit) }
        splitter.finish(emit)
        XCTAssertEqual(lines, ["a:1", "b:2", "", "c:3"])
    }

    func testKeySeparatorSplitsAtTheFirstOccurrence() {
        func split(_ line: String, _ separator: String?) -> (String?, String) {
            let (key, value) = KeyedLine.split(Array(line.utf8)[...], separator: separator.map { Array($0.utf8) })
            return (key.map { String(decoding: $0, as: UTF8.self) }, String(decoding: value, as: UTF8.self))
        }
        XCTAssertTrue(split("k:v:w", ":") == ("k", "v:w"))
        XCTAssertTrue(split("no separator", ":") == (nil, "no separator"))
        XCTAssertTrue(split(":v", ":") == ("", "v"))
        XCTAssertTrue(split("k::v", "::") == ("k", "v"))
        XCTAssertTrue(split("a:b", nil) == (nil, "a:b"))
    }

    func testRecordFormat() {
        var bytes: [UInt8] = []
        let record = ConsumerRecordFixture.make(partition: 2, offset: 1234, key: "k", value: "v")
        RecordFormat(printKey: true, printOffset: true).append(record, to: &bytes)
        RecordFormat(printKey: true, printOffset: false).append(
            ConsumerRecordFixture.make(partition: 0, offset: 0, key: nil, value: "x"), to: &bytes)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "2:1234\tk\tv\nnull\tx\n")
    }
}

enum ConsumerRecordFixture {
    static func make(partition: Int32, offset: Int64, key: String?, value: String?) -> ConsumerRecord {
        ConsumerRecord(
            topic: "t", partition: partition, offset: offset, timestamp: 0, key: key.map { Array($0.utf8)[...] },
            value: value.map { Array($0.utf8)[...] })
    }
}
