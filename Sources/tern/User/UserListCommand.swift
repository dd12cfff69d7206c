import ArgumentParser
import TernClient

/// `tern user list [--json]`.
struct UserListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List SCRAM users and their mechanisms (never salts or keys).")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON: [{name, credentials: [{mechanism, iterations}]}].")
    var json = false

    struct Entry: Encodable {
        struct Credential: Encodable {
            var mechanism: String
            var iterations: Int
        }
        var name: String
        var credentials: [Credential]
    }

    func run() async throws {
        let client = try await global.connect()
        let users = try await CLIFailure.wrap { try await client.admin.listUsers() }
        await client.close()
        if json {
            try JSONOutput.print(
                users.map {
                    Entry(
                        name: $0.name,
                        credentials: $0.credentials.map {
                            .init(mechanism: $0.mechanism.name, iterations: $0.iterations)
                        })
                })
            return
        }
        var table = Table(["USER", "MECHANISMS"])
        for user in users {
            table.append([
                user.name, user.credentials.map { "\($0.mechanism.name) (\($0.iterations))" }.joined(separator: ", "),
            ])
        }
        print(table.render(), terminator: "")
    }
}
