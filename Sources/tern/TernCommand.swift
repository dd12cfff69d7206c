import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `tern`: topics, produce and consume against a Tern cluster.
@main
struct TernCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tern",
        abstract: "Command-line client for the Tern event-streaming broker.",
        discussion: """
            Every command takes --bootstrap HOST:PORT[,HOST:PORT...] (or the TERN_BOOTSTRAP \
            environment variable; default localhost:9092). Errors are printed as one line, \
            'tern: error: ...', and the exit status is non-zero.
            """,
        subcommands: [
            TopicCommand.self, ProduceCommand.self, ConsumeCommand.self, GroupCommand.self, ClusterCommand.self,
            UserCommand.self,
            AclCommand.self, PerfCommand.self,
        ])

    /// Accepted before the subcommand too (`tern --bootstrap HOST:PORT topic list`); the
    /// subcommand receives the value.
    @OptionGroup var global: GlobalOptions

    /// Parses the arguments and runs the command; failures of a command print one
    /// `tern: error: ...` line, argument errors ArgumentParser's usual message.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            StandardError.writeLine("tern: error: \(failure.message)")
            Glibc.exit(failure.exitCode)
        } catch {
            exit(withError: error)
        }
    }
}
