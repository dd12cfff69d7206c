import ArgumentParser
import TernClient

/// `tern topic delete NAME`.
struct TopicDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a topic and all its records.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The topic's name.")
    var name: String

    func run() async throws {
        let client = try await global.connect()
        try await CLIFailure.wrap { try await client.admin.deleteTopic(name: name) }
        await client.close()
        print("Deleted topic \(name).")
    }
}
