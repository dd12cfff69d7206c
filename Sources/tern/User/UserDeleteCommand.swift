import ArgumentParser
import TernClient

/// `tern user delete NAME [--mechanism M]`.
struct UserDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a SCRAM user's credentials (all of them unless --mechanism).",
        discussion: """
            New connections as the user are refused from then on; connections it already \
            authenticated stay open until they close (re-authentication is not built).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The user's name.")
    var name: String

    @Option(help: "Only this mechanism's credential: SCRAM-SHA-256 or SCRAM-SHA-512.")
    var mechanism: MechanismOption?

    func run() async throws {
        let client = try await global.connect()
        try await CLIFailure.wrap {
            try await client.admin.deleteUser(name: name, mechanisms: mechanism.map { [$0.mechanism] })
        }
        await client.close()
        print("Deleted user \(name)\(mechanism.map { " (\($0.mechanism))" } ?? "").")
    }
}
