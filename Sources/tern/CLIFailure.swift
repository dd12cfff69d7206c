import TernClient

/// A command failure: printed as `tern: error: <message>`, then the process exits with
/// `exitCode`.
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32

    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    var description: String { message }

    /// Runs `body`, turning any error into a ``CLIFailure`` with its message.
    static func wrap<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as CLIFailure {
            throw error
        } catch let error as TernError {
            throw CLIFailure(error.message)
        } catch {
            throw CLIFailure("\(error)")
        }
    }
}
