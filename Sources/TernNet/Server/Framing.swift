/// How a connection's input is split into frames.
///
/// The native protocol is `size u32 | payload`, handled inline on the hot path. Other protocols
/// served on the same sockets (the admin listener's HTTP/1.1) bring a ``FrameDecoder``; TernNet
/// still knows nothing of what a frame means.
public enum Framing: Sendable {
    /// `size u32 big-endian | payload`; the handler gets the payload without its size prefix.
    case lengthPrefixed
    /// Frames delimited by a decoder; the handler gets the whole frame.
    case custom(any FrameDecoder)

    /// Whether this is the native framing.
    var isLengthPrefixed: Bool {
        if case .lengthPrefixed = self { return true }
        return false
    }
}

/// Where the first frame in a connection's buffered input ends.
public enum FrameBoundary: Sendable, Equatable {
    /// The first `length` bytes (at least 1) are a frame.
    case complete(length: Int)
    /// More bytes are needed to tell.
    case incomplete
}

/// Finds frame boundaries for ``Framing/custom(_:)``.
///
/// Called on the connection's queue with the unconsumed input (never empty); it must not keep
/// the pointer. A decoder decides from at most `ServerConfiguration.maxFrameBytes` bytes: input
/// that is still `.incomplete` at that size closes the connection as `frameTooLarge`. A decoder
/// that meets input it cannot frame should return it as a frame of its own so the handler can
/// answer it (for example HTTP's 400) and close.
public protocol FrameDecoder: Sendable {
    /// The boundary of the first frame in `bytes`.
    func boundary(in bytes: UnsafeRawBufferPointer) -> FrameBoundary
}
