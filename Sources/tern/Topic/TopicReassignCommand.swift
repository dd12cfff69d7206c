import ArgumentParser
import TernClient

/// `tern topic reassign NAME --partition P --replicas 2,3,4 [--throttle BYTES/S]`,
/// `tern topic reassign NAME --partition P --cancel`, `tern topic reassign --list [NAME] [--json]`.
struct TopicReassignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reassign",
        abstract: "Move a partition to other brokers, cancel a move, or list the moves in progress.",
        discussion: """
            A reassignment adds the new replicas, lets them catch up into the in-sync set, moves \
            leadership into the new set if needed (its first broker is the preferred leader) and \
            drops the old replicas. The command returns once the move has started; follow it with \
            --list. --throttle sets the topic's replication.throttled.rate (bytes per second) for \
            the move; it is removed when the topic's last move ends.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The topic (with --list: only its moves).")
    var name: String?

    @Option(help: "The partition to move.")
    var partition: Int32?

    @Option(
        help: ArgumentHelp("The new replica set, comma-separated node ids, preferred leader first.", valueName: "ids"))
    var replicas: String?

    @Option(
        help: ArgumentHelp(
            "Limit the move's replication traffic to this many bytes per second.", valueName: "bytes/s"))
    var throttle: Int64?

    @Flag(help: "Cancel the partition's move: it goes back to its original replicas.")
    var cancel = false

    @Flag(help: "List the moves in progress.")
    var list = false

    @Flag(
        help:
            """
            With --list: print JSON, [{topic, partition, replicas, addingReplicas, removingReplicas, targetReplicas, \
            throttle}] (throttle: the topic's replication.throttled.rate in bytes per second, or null).
            """
    )
    var json = false

    struct Output: Encodable {
        var topic: String
        var partition: Int32
        var replicas: [Int32]
        var addingReplicas: [Int32]
        var removingReplicas: [Int32]
        var targetReplicas: [Int32]
        var throttle: Int64?
    }

    func validate() throws {
        if list {
            guard partition == nil, replicas == nil, throttle == nil, !cancel else {
                throw ValidationError("--list takes no --partition, --replicas, --throttle or --cancel")
            }
            return
        }
        guard name != nil else { throw ValidationError("give the topic's name, or --list") }
        guard let partition, partition >= 0 else { throw ValidationError("give --partition (0 or more)") }
        guard !json else { throw ValidationError("--json goes with --list") }
        if cancel {
            guard replicas == nil, throttle == nil else {
                throw ValidationError("--cancel takes no --replicas or --throttle")
            }
            return
        }
        _ = try parsedReplicas()
        if let throttle, throttle < 1 { throw ValidationError("--throttle must be at least 1 byte per second") }
    }

    /// The `--replicas` list: non-empty, node ids, each once.
    func parsedReplicas() throws -> [Int32] {
        guard let replicas else { throw ValidationError("give --replicas (or --cancel)") }
        var ids: [Int32] = []
        for part in replicas.split(separator: ",", omittingEmptySubsequences: false) {
            let text = String(part.filter { !$0.isWhitespace })
            guard let id = Int32(text), id >= 0 else { throw ValidationError("--replicas: '\(text)' is not a node id") }
            guard !ids.contains(id) else { throw ValidationError("--replicas: node \(id) is listed twice") }
            ids.append(id)
        }
        return ids
    }

    func run() async throws {
        let client = try await global.connect()
        if list {
            let moves = try await CLIFailure.wrap {
                try await client.admin.listPartitionReassignments(topics: name.map { [$0] })
            }
            // The throttle of each moving topic (a topic config; the broker enforces it on the
            // replicas being added until they are in sync).
            var throttles: [String: Int64] = [:]
            for topic in Set(moves.map(\.topic)) {
                let configs = try? await client.admin.describeConfigs(topic: topic)
                let entry = configs?.first { $0.name == "replication.throttled.rate" && $0.source == "topic" }
                if let rate = entry?.value.flatMap({ Int64($0) }), rate >= 1 { throttles[topic] = rate }
            }
            await client.close()
            if json {
                try JSONOutput.print(
                    moves.map {
                        Output(
                            topic: $0.topic, partition: $0.partition, replicas: $0.replicas,
                            addingReplicas: $0.addingReplicas, removingReplicas: $0.removingReplicas,
                            targetReplicas: $0.targetReplicas, throttle: throttles[$0.topic])
                    })
                return
            }
            guard !moves.isEmpty else { return print("No reassignments in progress.") }
            var table = Table(["TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING", "TARGET", "THROTTLE"])
            func ids(_ list: [Int32]) -> String { list.isEmpty ? "-" : list.map { "\($0)" }.joined(separator: ",") }
            for move in moves {
                table.append([
                    move.topic, "\(move.partition)", ids(move.replicas), ids(move.addingReplicas),
                    ids(move.removingReplicas), ids(move.targetReplicas), throttles[move.topic].map { "\($0) B/s" } ?? "-",
                ])
            }
            print(table.render(), terminator: "")
            return
        }
        // validate() checked these.
        guard let name, let partition else { return }
        if cancel {
            try await CLIFailure.wrap { try await client.admin.cancelReassignment(topic: name, partition: partition) }
            await client.close()
            return print("Cancelled the reassignment of \(name)-\(partition).")
        }
        let target = try parsedReplicas()
        if let throttle {
            try await CLIFailure.wrap {
                try await client.admin.alterTopicConfigs(name: name, set: ["replication.throttled.rate": "\(throttle)"])
            }
        }
        do {
            try await CLIFailure.wrap {
                try await client.admin.reassignPartition(topic: name, partition: partition, replicas: target)
            }
        } catch {
            // A throttle set for a move that did not start goes, unless another move of the topic uses it.
            if throttle != nil,
                let moving = try? await client.admin.listPartitionReassignments(topics: [name]), moving.isEmpty
            {
                try? await client.admin.alterTopicConfigs(name: name, set: [:], remove: ["replication.throttled.rate"])
            }
            await client.close()
            throw error
        }
        await client.close()
        let ids = target.map { "\($0)" }.joined(separator: ",")
        print(
            "Reassigning \(name)-\(partition) to replicas \(ids)\(throttle.map { " (throttled to \($0) B/s)" } ?? "").")
    }
}
