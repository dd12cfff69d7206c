import Foundation
import TernClient
import TernTestSupport
import XCTest

/// The `bank-account` example (Examples/BankAccount) against a real `ternd`: commands load an
/// account's events by key, decide, and append on the key's last offset; racing writers reload
/// and retry, and the balance never goes negative.
final class BankAccountExampleTests: BrokerTestCase {
    struct Event: Equatable {
        var offset: Int64
        var type: String
        var amount: Int
        var version: Int
    }

    /// One account's events as stored, read by plain fetches of the whole topic (not the index).
    func history(_ account: String) async throws -> [Event] {
        let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
        let records = try await readWholeTopic(client, topic: "bank-accounts")
        await client.close()
        return
            try records
            .filter { $0.key.map { Array($0) } == Array(account.utf8) }
            .map { record in
                let json = try jsonObject(record)
                XCTAssertEqual(json["account"] as? String, account)
                return Event(
                    offset: record.offset, type: json["type"] as? String ?? "?", amount: json["amount"] as? Int ?? -1,
                    version: json["version"] as? Int ?? -1)
            }
    }

    /// Checks the history: versions 0, 1, 2, ... in offset order (no gap, no fork), opened
    /// first, and a running balance that never drops below zero. Returns the final balance.
    func checkHistory(_ events: [Event], file: StaticString = #filePath, line: UInt = #line) -> Int {
        XCTAssertEqual(events.map(\.version), Array(0..<events.count), "versions", file: file, line: line)
        XCTAssertEqual(events.first?.type, "AccountOpened", file: file, line: line)
        var balance = 0
        for event in events {
            switch event.type {
            case "MoneyDeposited": balance += event.amount
            case "MoneyWithdrawn": balance -= event.amount
            case "AccountOpened": XCTAssertEqual(event.version, 0, file: file, line: line)
            default: XCTFail("unexpected event \(event)", file: file, line: line)
            }
            XCTAssertGreaterThanOrEqual(balance, 0, "overdraft at offset \(event.offset)", file: file, line: line)
        }
        return balance
    }

    /// The offset a successful command printed on its last line ("MoneyWithdrawn acct-1 30 at
    /// offset 7: balance 40"; earlier lines may report conflicts).
    func reportedOffset(_ output: String) -> Int64? {
        guard let line = output.split(separator: "\n").last, line.hasPrefix("Money"),
            let range = line.range(of: " at offset ")
        else { return nil }
        return Int64(line[range.upperBound...].prefix { $0.isNumber })
    }

    func testConcurrentWithdrawalsOverTheBalanceNeverOverdraw() async throws {
        XCTAssertEqual(try runExample("bank-account", ["open", "acct-1"], broker: broker).status, 0)
        XCTAssertEqual(try runExample("bank-account", ["deposit", "acct-1", "100"], broker: broker).status, 0)
        XCTAssertEqual(try runExample("bank-account", ["open", "acct-2"], broker: broker).status, 0)

        // Six withdrawals of 30 from 100 (180 in all) at once, and deposits to another account
        // (which share partitions but not the key) in between.
        var writers: [ExampleProcess] = []
        for _ in 0..<6 {
            writers.append(
                try ExampleProcess(
                    "bank-account", ["--bootstrap", broker.bootstrap, "withdraw", "acct-1", "30"],
                    directory: directory.path))
        }
        for _ in 0..<3 {
            writers.append(
                try ExampleProcess(
                    "bank-account", ["--bootstrap", broker.bootstrap, "deposit", "acct-2", "5"],
                    directory: directory.path
                ))
        }
        var accepted: [Int64] = []
        var rejected = 0
        for writer in writers {
            let status = try writer.waitForExit()
            switch status {
            case 0:
                let offset = try XCTUnwrap(reportedOffset(writer.output), writer.output)
                if writer.output.contains("MoneyWithdrawn acct-1 30") { accepted.append(offset) }
            case 2:
                XCTAssertTrue(writer.errorOutput.contains("rejected: insufficient funds"), writer.errorOutput)
                rejected += 1
            default:
                XCTFail("bank-account exited \(status): \(writer.output) \(writer.errorOutput)")
            }
        }
        // Serialised by the condition: exactly three fit into 100, whatever the interleaving.
        XCTAssertEqual(accepted.count, 3)
        XCTAssertEqual(rejected, 3)

        let events = try await history("acct-1")
        XCTAssertEqual(checkHistory(events), 10)
        let withdrawals = events.filter { $0.type == "MoneyWithdrawn" }
        // Every accepted withdrawal is in the log exactly once, at the offset its command printed.
        XCTAssertEqual(withdrawals.map(\.offset).sorted(), accepted.sorted())
        XCTAssertEqual(
            events.map(\.type), ["AccountOpened", "MoneyDeposited"] + Array(repeating: "MoneyWithdrawn", count: 3))
        let other = try await history("acct-2")
        XCTAssertEqual(checkHistory(other), 15)
        XCTAssertEqual(other.count, 4)

        // The example reads the same history through the key index.
        let shown = try runExample("bank-account", ["show", "acct-1"], broker: broker)
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("acct-1: balance 10, 5 events"), shown.stdout)
    }

    func testTheWriterThatLosesTheRaceReloadsAndRetries() async throws {
        XCTAssertEqual(try runExample("bank-account", ["open", "acct-1"], broker: broker).status, 0)
        XCTAssertEqual(try runExample("bank-account", ["deposit", "acct-1", "100"], broker: broker).status, 0)

        // A loads the account (balance 100) and waits; B withdraws 60 meanwhile.
        let slow = try ExampleProcess(
            "bank-account", ["--bootstrap", broker.bootstrap, "--confirm", "withdraw", "acct-1", "30"],
            directory: directory.path)
        try slow.waitForOutput(containing: "press return")
        XCTAssertTrue(slow.output.contains("loaded acct-1: balance 100, last event at offset 1"), slow.output)
        let fast = try runExample("bank-account", ["withdraw", "acct-1", "60"], broker: broker)
        XCTAssertEqual(fast.status, 0, fast.stderr)
        XCTAssertTrue(fast.stdout.contains("MoneyWithdrawn acct-1 60 at offset 2: balance 40"), fast.stdout)

        // A's append on offset 1 is refused; it reloads (balance 40), decides again and succeeds.
        slow.writeLine("")
        XCTAssertEqual(try slow.waitForExit(), 0, slow.errorOutput)
        XCTAssertTrue(slow.output.contains("conflict: acct-1 has a newer event at offset 2; reloading"), slow.output)
        XCTAssertTrue(slow.output.contains("MoneyWithdrawn acct-1 30 at offset 3: balance 10"), slow.output)

        let events = try await history("acct-1")
        XCTAssertEqual(checkHistory(events), 10)
        XCTAssertEqual(events.map(\.amount), [0, 100, 60, 30])

        // Racing again with more than is left: the loser's retry is refused by the rules.
        let loser = try ExampleProcess(
            "bank-account", ["--bootstrap", broker.bootstrap, "--confirm", "withdraw", "acct-1", "10"],
            directory: directory.path)
        try loser.waitForOutput(containing: "press return")
        XCTAssertEqual(try runExample("bank-account", ["withdraw", "acct-1", "5"], broker: broker).status, 0)
        loser.writeLine("")
        XCTAssertEqual(try loser.waitForExit(), 2)
        XCTAssertTrue(loser.output.contains("conflict: acct-1"), loser.output)
        XCTAssertTrue(
            loser.errorOutput.contains("rejected: insufficient funds: balance 5, withdrawal 10"), loser.errorOutput)
        let final = try await history("acct-1")
        XCTAssertEqual(checkHistory(final), 5)
    }

    func testCommandsTheRulesRefuseAppendNothing() async throws {
        let notOpen = try runExample("bank-account", ["deposit", "acct-9", "10"], broker: broker)
        XCTAssertEqual(notOpen.status, 2)
        XCTAssertTrue(notOpen.stderr.contains("rejected: account acct-9 is not open"), notOpen.stderr)
        XCTAssertEqual(try runExample("bank-account", ["open", "acct-9"], broker: broker).status, 0)
        let twice = try runExample("bank-account", ["open", "acct-9"], broker: broker)
        XCTAssertEqual(twice.status, 2)
        XCTAssertEqual(try runExample("bank-account", ["withdraw", "acct-9", "1"], broker: broker).status, 2)
        let usage = try runExample("bank-account", ["withdraw", "acct-9"], broker: broker)
        XCTAssertEqual(usage.status, 64)
        let events = try await history("acct-9")
        XCTAssertEqual(events.map(\.type), ["AccountOpened"])
    }
}
