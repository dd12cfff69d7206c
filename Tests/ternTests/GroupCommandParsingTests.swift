// `tern consume --group/--property` and `tern group` argument handling.
import ArgumentParser
import TernClient
import XCTest

@testable import tern

final class GroupCommandParsingTests: XCTestCase {
    func testFromBeginningWithGroupMeansEarliestAndPropertiesOverride() throws {
        let plain = try ConsumeCommand.parse(["t", "--group", "g"])
        XCTAssertEqual(try plain.groupConfiguration("g").autoOffsetReset, .latest)
        XCTAssertEqual(try plain.groupConfiguration("g").groupId, "g")
        let early = try ConsumeCommand.parse(["t", "--group", "g", "--from-beginning"])
        XCTAssertEqual(try early.groupConfiguration("g").autoOffsetReset, .earliest)
        let command = try ConsumeCommand.parse([
            "t", "--group", "g", "--from-beginning", "--property", "auto.offset.reset=latest", "--property",
            "session.timeout.ms=6000", "--property", "group.instance.id=host-a", "--property",
            "enable.auto.commit=false",
            "--property", "auto.commit.interval.ms=250", "--property", "max.poll.records=7",
        ])
        let configuration = try command.groupConfiguration("g")
        XCTAssertEqual(configuration.autoOffsetReset, .latest)
        XCTAssertEqual(configuration.sessionTimeout, .milliseconds(6000))
        XCTAssertEqual(configuration.groupInstanceId, "host-a")
        XCTAssertFalse(configuration.enableAutoCommit)
        XCTAssertEqual(configuration.autoCommitInterval, .milliseconds(250))
        XCTAssertEqual(configuration.maxPollRecords, 7)
    }

    func testBadGroupArgumentsAreRefused() {
        for arguments in [
            ["t", "--group", "g", "--property", "no.such.key=1"],
            ["t", "--group", "g", "--property", "session.timeout.ms=x"],
            ["t", "--group", "g", "--property", "novalue"],
            ["t", "--group", "g", "--property", "auto.offset.reset=soon"],
            ["t", "--property", "session.timeout.ms=6000"], ["t", "--group", "g", "--offset", "3"],
            ["t", "--group", "g", "--partition", "0"], ["t", "--group", ""],
        ] {
            XCTAssertThrowsError(try ConsumeCommand.parse(arguments), "\(arguments)")
        }
    }

    func testFetchPropertiesApplyWithoutAGroup() throws {
        let command = try ConsumeCommand.parse(
            ["t", "--from-beginning", "--property", "fetch.max.wait.ms=5000", "--property", "max.poll.records=9"])
        let configuration = try command.plainConfiguration()
        XCTAssertEqual(configuration.fetchMaxWait, .milliseconds(5000))
        XCTAssertEqual(configuration.maxPollRecords, 9)
        XCTAssertEqual(configuration.autoOffsetReset, .earliest)
        XCTAssertThrowsError(try ConsumeCommand.parse(["t", "--property", "group.instance.id=a"])) { error in
            XCTAssertTrue(ConsumeCommand.message(for: error).contains("needs --group"), "\(error)")
        }
    }

    func testResetOffsetsNeedsExactlyOneTarget() throws {
        XCTAssertThrowsError(try GroupResetOffsetsCommand.parse(["g", "--topic", "t"]))
        XCTAssertThrowsError(try GroupResetOffsetsCommand.parse(["g", "--topic", "t", "--to-earliest", "--to-latest"]))
        XCTAssertThrowsError(try GroupResetOffsetsCommand.parse(["g", "--topic", "t", "--to-offset", "-1"]))
        XCTAssertEqual(try GroupResetOffsetsCommand.parse(["g", "--topic", "t", "--to-latest"]).target, .latest)
        XCTAssertEqual(
            try GroupResetOffsetsCommand.parse(["g", "--topic", "t", "--to-offset", "5"]).target, .offset(5))
        let byTime = try GroupResetOffsetsCommand.parse([
            "g", "--topic", "t", "--to-timestamp", "1700000000000", "--partition", "2",
        ])
        XCTAssertEqual(byTime.target, .timestamp(1_700_000_000_000))
        XCTAssertEqual(byTime.partition, [2])
    }
}
