import Foundation
import TernClient
import TernTestSupport
import XCTest

/// `tern consume --group` processes sharing a topic: three of them split six partitions two each;
/// when one leaves (SIGTERM) or is killed (`kill -9`) the others take over its partitions while
/// keeping theirs, a newcomer restores the balance, and with the commands' commits the union of
/// what the group printed is every produced record.
final class GroupCLITests: BrokerTestCase {
    override class var brokerSettings: [String: String] {
        [
            "offsets.topic.num.partitions": "3", "group.min.session.timeout.ms": "1000",
            "group.consumer.heartbeat.interval.ms": "200",
        ]
    }

    /// A `tern consume --group` process whose stdout goes to a file.
    final class ConsoleConsumer {
        let process = Process()
        let outputPath: String

        init(bootstrap: String, directory: String, name: String, arguments: [String]) throws {
            outputPath = directory + "/\(name).out"
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            _ = FileManager.default.createFile(atPath: outputPath + ".err", contents: nil)
            process.executableURL = URL(fileURLWithPath: Binaries.path("tern"))
            process.arguments = ["consume", "--bootstrap", bootstrap] + arguments
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath + ".err"))
            try process.run()
        }

        /// Values printed so far (lines are `PARTITION:OFFSET<TAB>VALUE`).
        var values: [String] {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { $0.split(separator: "\t").last.map(String.init) }
        }

        /// What the command reported about its partitions on stderr (`assigned …`, `revoked …`).
        var events: [String] {
            let text = (try? String(contentsOfFile: outputPath + ".err", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").map(String.init).filter { $0.contains(": group ") }
        }

        func terminate() {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }

        func kill9() {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        deinit { kill9() }
    }

    func consumer(_ name: String, group: String = "g", extra: [String] = []) throws -> ConsoleConsumer {
        try ConsoleConsumer(
            bootstrap: broker.bootstrap, directory: directory.path, name: name,
            arguments: [
                "orders", "--group", group, "--from-beginning", "--print-offset", "--property",
                "session.timeout.ms=2000",
                "--property", "auto.commit.interval.ms=200",
            ] + extra)
    }

    var produced = 0

    /// The partitions a command owns after the `assigned`/`revoked`/`lost` lines it printed.
    func owned(_ events: [String]) -> Set<String> {
        var owned = Set<String>()
        for line in events {
            for kind in ["assigned", "revoked", "lost"] {
                guard let range = line.range(of: ": \(kind) ") else { continue }
                let tps = line[range.upperBound...].split(separator: ",").map(String.init)
                if kind == "assigned" { owned.formUnion(tps) } else { owned.subtract(tps) }
            }
        }
        return owned
    }

    func produce(_ client: TernClient, count: Int) async throws {
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
        for i in produced..<produced + count {
            _ = try await producer.send(topic: "orders", key: Array("k\(i)".utf8), value: Array("v\(i)".utf8))
        }
        try await producer.flush()
        await producer.close()
        produced += count
    }

    /// Member id → assigned partitions, once the group is stable with `members` members.
    func stableAssignment(_ client: TernClient, members: Int) async throws -> [String: Set<Int32>] {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let d = try? await client.admin.describeGroup("g"), d.state == "Stable", d.members.count == members {
                return Dictionary(
                    uniqueKeysWithValues: d.members.map { ($0.memberId, Set($0.assignment.map(\.partition))) })
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("the group did not become stable with \(members) members")
        return [:]
    }

    /// Waits until the group's committed offsets reach the log end everywhere.
    func waitForZeroLag(_ client: TernClient) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let d = try? await client.admin.describeGroup("g"), d.partitions.count == 6,
                d.partitions.allSatisfy({ $0.lag == 0 })
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("the group did not catch up: \(String(describing: try? await client.admin.describeGroup("g")))")
    }

    func testThreeConsumersShareTheTopicAndTakeOverWithoutRevokingWhenOneLeaves() async throws {
        let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
        try await client.admin.createTopic(name: "orders", partitions: 6)
        try await produce(client, count: 300)
        var consumers = try (0..<3).map { try consumer("c\($0)") }

        let three = try await stableAssignment(client, members: 3)
        XCTAssertEqual(three.values.map(\.count).sorted(), [2, 2, 2])
        XCTAssertEqual(three.values.reduce(Set<Int32>()) { $0.union($1) }, Set(0..<6))
        try await produce(client, count: 300)
        try await waitForZeroLag(client)

        // One leaves gracefully: the two others get its partitions and keep their own.
        let eventsBefore = consumers.map { $0.events.count }
        consumers[0].terminate()
        try await produce(client, count: 300)
        let two = try await stableAssignment(client, members: 2)
        XCTAssertEqual(two.values.map(\.count).sorted(), [3, 3])
        for (member, partitions) in two {
            let before = try XCTUnwrap(three[member], "a surviving member keeps its id")
            XCTAssertTrue(before.isSubset(of: partitions), "\(member) kept \(before), now has \(partitions)")
        }
        try await waitForZeroLag(client)
        for i in 1..<3 {
            let since = consumers[i].events.dropFirst(eventsBefore[i])
            XCTAssertFalse(since.isEmpty, "took over a partition")
            XCTAssertTrue(since.allSatisfy { $0.contains("assigned") }, "\(since)")
        }

        // A new one joins: balance returns, every member keeps two of what it had.
        let eventsBeforeJoin = consumers.map { $0.events.count }
        consumers.append(try consumer("c3"))
        try await produce(client, count: 300)
        let again = try await stableAssignment(client, members: 3)
        XCTAssertEqual(again.values.map(\.count).sorted(), [2, 2, 2])
        for (member, partitions) in again where two[member] != nil {
            XCTAssertTrue(partitions.isSubset(of: two[member]!), "\(member) only lost partitions")
        }
        for i in 1..<3 {
            // Each gives up exactly the one partition the newcomer needs from it.
            let revoked = consumers[i].events.dropFirst(eventsBeforeJoin[i]).filter { $0.contains("revoked") }
            XCTAssertEqual(revoked.count, 1, "\(consumers[i].events)")
            XCTAssertEqual(revoked.first?.split(separator: ",").count, 1, "\(revoked)")
        }
        try await waitForZeroLag(client)
        for c in consumers { c.terminate() }

        let union = Set(consumers.flatMap(\.values))
        XCTAssertEqual(union, Set((0..<produced).map { "v\($0)" }), "the group consumed every record")
        await client.close()
    }

    func testKilledMembersPartitionsAreConsumedByTheOthersAndNothingIsSkipped() async throws {
        let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
        try await client.admin.createTopic(name: "orders", partitions: 6)
        try await produce(client, count: 300)
        let consumers = try (0..<3).map { try consumer("k\($0)") }
        _ = try await stableAssignment(client, members: 3)
        try await produce(client, count: 300)

        consumers[1].kill9()
        try await produce(client, count: 600)
        let two = try await stableAssignment(client, members: 2)
        XCTAssertEqual(two.values.map(\.count).sorted(), [3, 3])
        try await waitForZeroLag(client)
        for c in consumers { c.terminate() }

        // At least once: everything produced was printed by some member (the killed one's output
        // counts for what it flushed before it died; the commits never run ahead of output).
        let union = Set(consumers.flatMap(\.values))
        XCTAssertEqual(union, Set((0..<produced).map { "v\($0)" }))
        await client.close()
    }

    func testAStaticMemberThatComesBackKeepsItsPartitionsWithNoReassignment() async throws {
        let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
        try await client.admin.createTopic(name: "orders", partitions: 6)
        try await produce(client, count: 60)
        let staticArgs = ["--property", "group.instance.id=host-a", "--property", "session.timeout.ms=30000"]
        let first = try consumer("static-1", extra: staticArgs)
        let other = try consumer("dynamic")
        let before = try await stableAssignment(client, members: 2)
        XCTAssertEqual(before.values.map(\.count).sorted(), [3, 3])
        let deadline = ContinuousClock.now + .seconds(30)
        while owned(first.events).count != 3 || owned(other.events).count != 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let otherEvents = other.events

        first.terminate()  // leaves with epoch -2: its partitions wait for it
        let away = try await client.admin.describeGroup("g")
        XCTAssertEqual(away.members.count, 2, "the static member stays in the group while away")
        let again = try consumer("static-2", extra: staticArgs)
        let after = try await stableAssignment(client, members: 2)
        XCTAssertEqual(after, before, "same member ids, same partitions")
        try await produce(client, count: 60)
        try await waitForZeroLag(client)
        XCTAssertEqual(other.events, otherEvents, "the other member was not rebalanced")
        XCTAssertEqual(owned(again.events), owned(first.events), "the restarted process got its partitions back")
        XCTAssertEqual(again.events.count, 1, "\(again.events)")
        XCTAssertTrue(again.events.first?.contains("assigned") ?? false)
        again.terminate()
        other.terminate()
        await client.close()
    }

    func testASecondRunContinuesWhereTheFirstStopped() async throws {
        let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
        try await client.admin.createTopic(name: "orders", partitions: 1)
        try await produce(client, count: 50)
        await client.close()
        let tern = Binaries.path("tern")
        let args = ["consume", "orders", "--bootstrap", broker.bootstrap, "--group", "once", "--from-beginning"]
        let first = try runCommand(tern, args + ["--max-messages", "30"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stdout.split(separator: "\n"), (0..<30).map { "v\($0)"[...] })
        let second = try runCommand(tern, args + ["--timeout-ms", "3000"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(second.stdout.split(separator: "\n"), (30..<50).map { "v\($0)"[...] })

        let describe = try runCommand(tern, ["group", "describe", "once", "--bootstrap", broker.bootstrap, "--json"])
        XCTAssertEqual(describe.status, 0, describe.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(describe.stdout.utf8)) as? [String: Any]
        let partitions = json?["partitions"] as? [[String: Any]]
        XCTAssertEqual(partitions?.first?["committedOffset"] as? Int, 50)
        XCTAssertEqual(partitions?.first?["lag"] as? Int, 0)

        let reset = try runCommand(
            tern,
            [
                "group", "reset-offsets", "once", "--bootstrap", broker.bootstrap, "--topic", "orders", "--to-offset",
                "45",
            ])
        XCTAssertEqual(reset.status, 0, reset.stderr)
        let third = try runCommand(tern, args + ["--timeout-ms", "3000"])
        XCTAssertEqual(third.stdout.split(separator: "\n"), (45..<50).map { "v\($0)"[...] })
        let list = try runCommand(tern, ["group", "list", "--bootstrap", broker.bootstrap])
        XCTAssertTrue(list.stdout.contains("once"), list.stdout)
        let delete = try runCommand(tern, ["group", "delete", "once", "--bootstrap", broker.bootstrap])
        XCTAssertEqual(delete.status, 0, delete.stderr)
        let gone = try runCommand(tern, ["group", "describe", "once", "--bootstrap", broker.bootstrap])
        XCTAssertNotEqual(gone.status, 0)
        XCTAssertTrue(gone.stderr.contains("GROUP_ID_NOT_FOUND"), gone.stderr)
    }
}
