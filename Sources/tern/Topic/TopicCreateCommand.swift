import ArgumentParser
import TernClient

/// `tern topic create NAME --partitions N [--replication-factor R] [--config KEY=VALUE]...`.
struct TopicCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a topic.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The topic's name.")
    var name: String

    @Option(help: "Number of partitions.")
    var partitions: Int

    @Option(help: "Replicas per partition (default: the broker's default.replication.factor).")
    var replicationFactor: Int?

    @Option(
        name: .customLong("config"),
        help: ArgumentHelp("A topic config override, KEY=VALUE; repeatable.", valueName: "key=value"))
    var configs: [String] = []

    func validate() throws {
        guard partitions >= 1 else { throw ValidationError("--partitions must be at least 1") }
        if let replicationFactor, replicationFactor < 1 {
            throw ValidationError("--replication-factor must be at least 1")
        }
        _ = try parsedConfigs()
    }

    /// The `--config` values as a dictionary.
    func parsedConfigs() throws -> [String: String] { try ConfigArguments.parse(configs) }

    func run() async throws {
        let configs = try parsedConfigs()
        let client = try await global.connect()
        try await CLIFailure.wrap {
            try await client.admin.createTopic(
                name: name, partitions: partitions, replicationFactor: replicationFactor, configs: configs)
        }
        await client.close()
        print("Created topic \(name).")
    }
}
