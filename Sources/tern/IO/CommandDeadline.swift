import Dispatch
import Synchronization

/// Bounds a whole command by a wall-clock deadline: a broker that accepts connections but never
/// answers (stopped with SIGSTOP, swapped out, wedged) would otherwise hold a probe for the
/// SDK's request timeout, or for the sum of several.
enum CommandDeadline {
    /// Runs `body` and returns its result, or throws a ``CLIFailure`` "`what` within N ms" once
    /// `milliseconds` have passed. The abandoned work is cancelled and left to the process exit
    /// (requests already sent cannot be called back).
    static func run<T: Sendable>(
        milliseconds: Int, _ what: String, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let outcome = FirstOutcome<T>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            outcome.set(continuation)
            let task = Task {
                do {
                    outcome.finish(.success(try await body()))
                } catch {
                    outcome.finish(.failure(error))
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) {
                if outcome.finish(.failure(CLIFailure("\(what) within \(milliseconds) ms"))) { task.cancel() }
            }
        }
    }
}

/// Resumes a continuation with whichever outcome comes first.
private final class FirstOutcome<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    /// Resumes with `result` unless an earlier outcome did; true when this one won.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(with: result)
        return true
    }
}
