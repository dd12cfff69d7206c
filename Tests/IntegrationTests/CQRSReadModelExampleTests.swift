import Foundation
import TernClient
import TernTestSupport
import XCTest

/// The `cqrs-read-model` example (Examples/CQRSReadModel) against a real `ternd`: a projection
/// keeps account summaries in a compacted topic while the `bank-account` example writes events,
/// survives a `kill -9`, and a rebuild from the first event gives the same read model.
final class CQRSReadModelExampleTests: BrokerTestCase {
    override class var brokerSettings: [String: String] {
        [
            "offsets.topic.num.partitions": "4", "group.min.session.timeout.ms": "500",
            "group.consumer.heartbeat.interval.ms": "200",
        ]
    }

    struct Summary: Equatable {
        var balance = 0
        var deposits = 0
        var withdrawals = 0
        var lastEventOffset: Int64 = -1
    }

    func client() async throws -> TernClient {
        try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
    }

    /// The read model in `topic`: the latest record of each key.
    func readModel(_ topic: String) async throws -> [String: Summary] {
        let client = try await client()
        let records = try await readWholeTopic(client, topic: topic)
        await client.close()
        var model: [String: Summary] = [:]
        for record in records {
            let json = try jsonObject(record)
            let account = try XCTUnwrap(json["account"] as? String)
            XCTAssertEqual(record.key.map { Array($0) }, Array(account.utf8))
            model[account] = Summary(
                balance: json["balance"] as? Int ?? -1, deposits: json["deposits"] as? Int ?? -1,
                withdrawals: json["withdrawals"] as? Int ?? -1,
                lastEventOffset: (json["lastEventOffset"] as? NSNumber)?.int64Value ?? -2)
        }
        return model
    }

    /// The read model the events imply, folded here from the `bank-accounts` topic.
    func expectedModel() async throws -> [String: Summary] {
        let client = try await client()
        let records = try await readWholeTopic(client, topic: "bank-accounts")
        await client.close()
        var model: [String: Summary] = [:]
        for record in records {
            let json = try jsonObject(record)
            let account = try XCTUnwrap(json["account"] as? String)
            let amount = json["amount"] as? Int ?? 0
            var summary = model[account] ?? Summary()
            switch json["type"] as? String {
            case "MoneyDeposited":
                summary.balance += amount
                summary.deposits += 1
            case "MoneyWithdrawn":
                summary.balance -= amount
                summary.withdrawals += 1
            default: break
            }
            summary.lastEventOffset = record.offset
            model[account] = summary
        }
        return model
    }

    func bank(_ arguments: String) throws {
        let result = try runExample("bank-account", arguments.split(separator: " ").map(String.init), broker: broker)
        XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)")
    }

    /// Waits (bounded) until the read model in `topic` equals what the events imply.
    func waitForReadModel(_ topic: String) async throws -> [String: Summary] {
        let deadline = Date().addingTimeInterval(120)
        var model: [String: Summary] = [:]
        var expected: [String: Summary] = [:]
        while Date() < deadline {
            expected = try await expectedModel()
            model = try await readModel(topic)
            if model == expected { return model }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTFail("read model \(model) never matched the events \(expected)")
        return model
    }

    func testProjectionKeepsACompactedReadModelThatARebuildReproduces() async throws {
        for command in ["open a-1", "open a-2", "deposit a-1 100", "deposit a-2 40", "withdraw a-1 30"] {
            try bank(command)
        }
        var projection = try ExampleProcess(
            "cqrs-read-model", ["--bootstrap", broker.bootstrap, "project"], directory: directory.path)
        try projection.waitForOutput(containing: "projecting bank-accounts into account-summaries")
        for command in ["open a-3", "deposit a-3 7", "withdraw a-2 15", "deposit a-1 1"] { try bank(command) }
        var incremental = try await waitForReadModel("account-summaries")
        XCTAssertEqual(incremental["a-1"]?.balance, 71)
        XCTAssertEqual(incremental.count, 3)

        // Killed mid-stream, restarted: it resumes from its group's committed offset and the
        // summaries it stored; events it sees again change nothing.
        projection.stop(SIGKILL)
        for command in ["withdraw a-3 7", "deposit a-2 5"] { try bank(command) }
        projection = try ExampleProcess(
            "cqrs-read-model", ["--bootstrap", broker.bootstrap, "project"], directory: directory.path)
        try projection.waitForOutput(containing: "projecting bank-accounts")
        try bank("deposit a-1 9")
        incremental = try await waitForReadModel("account-summaries")
        projection.stop()
        XCTAssertEqual(incremental["a-1"].map { [$0.balance, $0.deposits, $0.withdrawals] }, [80, 3, 1])
        XCTAssertEqual(incremental["a-3"]?.balance, 0)

        // The read model's topic keeps the latest summary per account.
        let client = try await client()
        let configs = try await client.admin.describeConfigs(topic: "account-summaries")
        await client.close()
        XCTAssertEqual(configs.first { $0.name == "cleanup.policy" }?.value, "compact")

        // Rebuilt from scratch, by replaying every event into a new topic: the same read model.
        let rebuilt = try runExample(
            "cqrs-read-model", ["--state", "account-summaries-rebuilt", "rebuild"], broker: broker)
        XCTAssertEqual(rebuilt.status, 0, rebuilt.stderr)
        XCTAssertTrue(rebuilt.stdout.contains("rebuilt 3 accounts from 12 events"), rebuilt.stdout)
        let rebuiltModel = try await readModel("account-summaries-rebuilt")
        XCTAssertEqual(rebuiltModel, incremental)

        let shown = try runExample("cqrs-read-model", ["show"], broker: broker)
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("a-2: balance 30, 2 deposits, 1 withdrawals"), shown.stdout)
    }
}
