#if canImport(Glibc)
import Glibc
#endif

/// Starts a detached POSIX thread running `body` (the flusher: a thread of its own so that its
/// blocking `fdatasync` calls never hold a Dispatch worker). Public for the metadata quorum's
/// log writer in TernBroker, which has the same need.
public enum FlusherThread {
    private final class Box {
        let body: @Sendable () -> Void
        init(body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts the thread; `name` appears in the error when the system refuses.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) throws {
        let box = Unmanaged.passRetained(Box(body: body))
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { argument in
                guard let argument else { return nil }
                let box = Unmanaged<Box>.fromOpaque(argument).takeRetainedValue()
                box.body()
                return nil
            }, box.toOpaque())
        guard result == 0 else {
            box.release()
            throw StorageError(.ioError, "cannot start the \(name) thread: errno \(result)")
        }
        pthread_detach(thread)
    }
}
