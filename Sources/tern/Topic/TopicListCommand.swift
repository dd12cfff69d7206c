import ArgumentParser
import TernClient

/// `tern topic list [--json]`.
struct TopicListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List topics.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON: [{name, partitions, replicationFactor, internal}].")
    var json = false

    struct Entry: Encodable {
        var name: String
        var partitions: Int
        var replicationFactor: Int
        var `internal`: Bool
    }

    func run() async throws {
        let client = try await global.connect()
        let topics = try await CLIFailure.wrap { try await client.admin.listTopics() }
        await client.close()
        if json {
            try JSONOutput.print(
                topics.map {
                    Entry(
                        name: $0.name, partitions: $0.partitionCount, replicationFactor: $0.replicationFactor,
                        internal: $0.isInternal)
                })
            return
        }
        var table = Table(["TOPIC", "PARTITIONS", "REPLICATION-FACTOR"])
        for topic in topics {
            table.append([topic.name, "\(topic.partitionCount)", "\(topic.replicationFactor)"])
        }
        print(table.render(), terminator: "")
    }
}
