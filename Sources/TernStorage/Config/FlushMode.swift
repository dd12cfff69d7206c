/// How appended data reaches stable storage (`log.flush.mode`).
public enum FlushMode: Sendable, Equatable {
    /// `acks=all` producers wait for a group-committed `fdatasync`
    /// (``LogManager/whenDurable(_:upTo:completion:)``).
    case sync
    /// Every log is flushed in the background every `milliseconds`; nothing waits for the disk.
    case interval(milliseconds: Int64)
}
