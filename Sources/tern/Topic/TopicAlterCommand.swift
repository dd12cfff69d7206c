import ArgumentParser
import TernClient

/// `tern topic alter NAME [--config KEY=VALUE]... [--delete-config KEY]...`.
struct TopicAlterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alter",
        abstract: "Change a topic's config overrides (retention.ms, retention.bytes, cleanup.policy, ...).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The topic to change.")
    var name: String

    @Option(
        name: .customLong("config"),
        help: ArgumentHelp("Set a topic config override, KEY=VALUE; repeatable.", valueName: "key=value"))
    var configs: [String] = []

    @Option(
        name: .customLong("delete-config"),
        help: ArgumentHelp("Remove an override (back to the broker default); repeatable.", valueName: "key"))
    var deletions: [String] = []

    func validate() throws {
        let set = try ConfigArguments.parse(configs)
        guard !set.isEmpty || !deletions.isEmpty else { throw ValidationError("give at least one --config or --delete-config") }
        for key in deletions where set[key] != nil {
            throw ValidationError("\(key) is both set and deleted")
        }
    }

    func run() async throws {
        let set = try ConfigArguments.parse(configs)
        let client = try await global.connect()
        try await CLIFailure.wrap { try await client.admin.alterTopicConfigs(name: name, set: set, remove: deletions) }
        await client.close()
        print("Altered topic \(name).")
    }
}
