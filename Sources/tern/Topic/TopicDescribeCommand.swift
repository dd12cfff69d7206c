import ArgumentParser
import TernClient

/// `tern topic describe NAME [--json]`.
struct TopicDescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show a topic's partitions (leader, replicas, in-sync replicas, log start and end offset) and configs.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The topic's name.")
    var name: String

    @Flag(help: "Print JSON: {name, internal, partitions: [...], configs: [...]}.")
    var json = false

    struct Output: Encodable {
        struct Partition: Encodable {
            var partition: Int32
            var leader: Int32?
            var replicas: [Int32]
            var isr: [Int32]
            var logStartOffset: Int64
            var logEndOffset: Int64
        }
        struct Config: Encodable {
            var name: String
            var value: String?
            var source: String
            var readOnly: Bool
            var sensitive: Bool
        }
        var name: String
        var `internal`: Bool
        var partitions: [Partition]
        var configs: [Config]
    }

    func run() async throws {
        let client = try await global.connect()
        let (description, configs) = try await CLIFailure.wrap {
            let description = try await client.admin.describeTopic(name: name)
            let configs = try await client.admin.describeConfigs(topic: name)
            return (description, configs)
        }
        await client.close()
        if json {
            try JSONOutput.print(
                Output(
                    name: description.name, internal: description.isInternal,
                    partitions: description.partitions.map {
                        .init(
                            partition: $0.partition, leader: $0.leader, replicas: $0.replicas, isr: $0.isr,
                            logStartOffset: $0.logStartOffset, logEndOffset: $0.logEndOffset)
                    },
                    configs: configs.map {
                        .init(
                            name: $0.name, value: $0.value, source: $0.source, readOnly: $0.isReadOnly,
                            sensitive: $0.isSensitive)
                    }))
            return
        }
        let replication = description.partitions.first?.replicas.count ?? 0
        var text = "Topic: \(description.name)  Partitions: \(description.partitions.count)  "
            + "Replication-factor: \(replication)\n\n"
        var partitions = Table(["PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START-OFFSET", "LOG-END-OFFSET"])
        for partition in description.partitions {
            partitions.append([
                "\(partition.partition)", partition.leader.map { "\($0)" } ?? "none",
                partition.replicas.map { "\($0)" }.joined(separator: ","),
                partition.isr.map { "\($0)" }.joined(separator: ","),
                "\(partition.logStartOffset)", "\(partition.logEndOffset)",
            ])
        }
        text += partitions.render()
        if !configs.isEmpty {
            var table = Table(["CONFIG", "VALUE", "SOURCE"])
            for entry in configs {
                table.append([entry.name, entry.isSensitive ? "(sensitive)" : entry.value ?? "(null)", entry.source])
            }
            text += "\n" + table.render()
        }
        print(text, terminator: "")
    }
}
