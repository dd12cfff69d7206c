#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A small fixed pool of ``EventLoop``s, handed out round-robin to new connections.
final class EventLoopGroup: Sendable {
    /// The loops, indexed by ``EventLoop/index``.
    let loops: [EventLoop]
    private let counter = Atomic<UInt>(0)

    /// Creates `count` loops (at least one), labelled `<label>.<index>`.
    init(count: Int, label: String) {
        loops = (0..<max(count, 1)).map { EventLoop(label: "\(label).\($0)", index: $0) }
    }

    /// The next loop in round-robin order.
    func next() -> EventLoop {
        let ticket = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        return loops[Int(ticket % UInt(loops.count))]
    }

    /// The number of online cores, at least one.
    static var coreCount: Int {
        max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1)
    }

    /// The loops that every ``ClientConnection`` in the process shares, one per core.
    static let clients = EventLoopGroup(count: coreCount, label: "tern.net.client")
}
