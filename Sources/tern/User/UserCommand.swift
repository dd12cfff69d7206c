import ArgumentParser
import TernClient

/// `tern user ...`: SCRAM users (DescribeUserScramCredentials / AlterUserScramCredentials).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Create, list and delete SCRAM users (SASL authentication).",
        subcommands: [UserCreateCommand.self, UserListCommand.self, UserDeleteCommand.self])

    /// Accepted before the subcommand too; the subcommand receives the value.
    @OptionGroup var global: GlobalOptions
}

/// A SCRAM mechanism option (`--mechanism SCRAM-SHA-256|SCRAM-SHA-512`).
struct MechanismOption: ExpressibleByArgument {
    var mechanism: ScramMechanism

    init?(argument: String) {
        guard let mechanism = ScramMechanism(name: argument.uppercased()) else { return nil }
        self.mechanism = mechanism
    }

    static var allValueStrings: [String] { ScramMechanism.all.map(\.name) }
}
