/// Owns one socket descriptor and closes it exactly once.
///
/// A descriptor dropped without ``close()`` is a leak; debug builds stop on it. Not thread-safe:
/// its owner confines it to one queue (or hands it over before anyone else uses it).
final class SocketDescriptor {
    /// The descriptor number; meaningless after ``close()``.
    let rawValue: Int32
    private(set) var isClosed = false

    init(_ rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// Closes the descriptor. Closing twice is a programmer error.
    func close() {
        precondition(!isClosed, "socket descriptor \(rawValue) closed twice")
        isClosed = true
        Syscall.close(rawValue)
    }

    deinit {
        assert(isClosed, "TernNet leaked socket descriptor \(rawValue): dropped without close()")
    }
}
