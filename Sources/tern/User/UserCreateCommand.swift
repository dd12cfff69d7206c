import ArgumentParser
import TernClient

/// `tern user create NAME [--mechanism M] [--iterations N] --password-stdin`.
struct UserCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a SCRAM user, or set a new password for one.",
        discussion: """
            The password is read from stdin (its first line; a trailing \\r is dropped), never from \
            the command line. It is salted and hashed here; only the salted password reaches the \
            cluster, which stores salt, StoredKey, ServerKey and the iteration count.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The user's name.")
    var name: String

    @Option(help: "SCRAM-SHA-256 or SCRAM-SHA-512.")
    var mechanism = MechanismOption(argument: "SCRAM-SHA-256")!

    @Option(help: "PBKDF2 iterations (4096 to 16384).")
    var iterations = ScramMechanism.minIterations

    @Flag(help: "Read the password from stdin (required).")
    var passwordStdin = false

    func validate() throws {
        guard passwordStdin else { throw ValidationError("--password-stdin is required: pipe the password in") }
        guard (ScramMechanism.minIterations...ScramMechanism.maxIterations).contains(iterations) else {
            throw ValidationError("--iterations must be 4096 to 16384")
        }
    }

    func run() async throws {
        var input: [UInt8] = []
        while input.count <= 4096, !input.contains(UInt8(ascii: "\n")), let chunk = try await StandardInput.readChunk()
        {
            input += chunk
        }
        var line = input.prefix { $0 != UInt8(ascii: "\n") }
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        guard let password = String(validating: line, as: UTF8.self), !password.isEmpty else {
            throw CLIFailure("no password on stdin (expected one line of UTF-8)")
        }
        let client = try await global.connect()
        try await CLIFailure.wrap {
            try await client.admin.createUser(
                name: name, password: password, mechanism: mechanism.mechanism, iterations: iterations)
        }
        await client.close()
        print("Created user \(name) (\(mechanism.mechanism), \(iterations) iterations).")
    }
}
