import Dispatch

/// One serial Dispatch queue that owns a share of the connections: every read, write and close of
/// a connection runs on its loop's queue, so a connection's state needs no lock.
///
/// Loops are created once, a few per process (see ``EventLoopGroup``), never one per connection:
/// a plain `DispatchQueue(label:)` per busy connection makes Dispatch spawn a thread for each.
final class EventLoop: Sendable {
    /// The serial queue; Dispatch sources of this loop's sockets deliver their events here.
    let queue: DispatchQueue
    /// The loop's position in its group.
    let index: Int

    init(label: String, index: Int) {
        self.queue = DispatchQueue(label: label)
        self.index = index
    }

    /// Runs `work` on the loop, after what is already queued.
    func execute(_ work: @escaping @Sendable () -> Void) {
        queue.async(execute: work)
    }

    /// Stops a debug build when called off this loop's queue.
    @inline(__always)
    func assertOnLoop() {
        #if DEBUG
        dispatchPrecondition(condition: .onQueue(queue))
        #endif
    }
}
