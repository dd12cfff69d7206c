/// The outcome of one non-blocking I/O call.
///
/// Hot-path calls return this rather than throwing so that they can run inside the non-throwing
/// closures that pin buffers (`withUnsafeBytes`) and so that "would block" is not an error.
enum IOResult<Value> {
    /// The call did its work; for reads and writes, the byte count (`0` from a read is end of input).
    case processed(Value)
    /// The descriptor is not ready (`EAGAIN`/`EWOULDBLOCK`, or `EINPROGRESS` for a connect).
    case wouldBlock
    /// The call failed.
    case failed(NetError)
}
