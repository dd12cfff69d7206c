import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 between clients and one upstream port, for fault tests: it can cut
/// every connection, blackhole traffic (connections stay open, frames vanish), refuse new
/// connections, and cut a connection at the moment the answer to a chosen API arrives, after the
/// request was forwarded (the request takes effect, its response is lost).
///
/// It forwards whole frames of Tern's protocol (u32 size prefix) and remembers, per connection,
/// the API key of each request by correlation id, which is how it recognises a response. Blocking
/// sockets and two threads per connection: test support, not a data path. Close it with
/// ``stop()``.
///
/// Given `sourceOf`, it also tells apart who opened each connection (a node of a cluster, or
/// anyone else) and can cut or blackhole only one source's links — how a cluster harness with one
/// proxy in front of each node still isolates a single node in both directions.
public final class LoopbackProxy: Sendable {
    /// Who opened a connection, as `sourceOf` says.
    public enum Source: Hashable, Sendable {
        /// A node of the cluster (its node id).
        case node(Int32)
        /// Anyone `sourceOf` does not name: a client.
        case other
    }

    /// What happens to one source's links while a fault is set for it.
    public enum Fault: Hashable, Sendable {
        /// Open links are closed and new ones are closed as soon as they are accepted.
        case cut
        /// Links stay open (and new ones are accepted) but every frame is dropped, both ways; when
        /// the fault is lifted the links that lost frames are closed, as a TCP connection that
        /// lost its peer for long would be (TCP never drops bytes inside a live stream).
        case blackhole
    }

    /// The port clients connect to.
    public let port: Int
    public let upstreamPort: Int
    private let listenFd: Int32
    private let sourceOf: (@Sendable (_ peerPort: Int, _ proxyPort: Int) -> Source)?

    private struct Link {
        var client: Int32
        var server: Int32
        var source: Source
        /// A frame of this link was dropped by a per-source blackhole.
        var lostFrames = false
        /// Request correlation id → API key, for requests not yet answered.
        var pending: [UInt32: UInt16] = [:]
        /// Pump threads still using the descriptors: they are closed when the last one ends (a
        /// descriptor closed under a running pump could be reused by the next accept).
        var pumps = 2
        var cut = false
    }

    private struct State {
        var links: [Int: Link] = [:]
        var nextLink = 0
        var blackhole = false
        var refuse = false
        /// API key → responses still to cut.
        var cutResponses: [UInt16: Int] = [:]
        var responsesCut = 0
        var stopped = false
        var faults: [Source: Fault] = [:]
    }

    private let state = Mutex(State())

    /// Listens on a free loopback port and forwards to 127.0.0.1:`upstreamPort`.
    /// - Parameter sourceOf: names the opener of a connection from its loopback port and this
    ///   proxy's port (called once per accepted connection, on the accepting thread); without it
    ///   every link is `.other`.
    public init(
        upstreamPort: Int, sourceOf: (@Sendable (_ peerPort: Int, _ proxyPort: Int) -> Source)? = nil
    ) throws {
        self.upstreamPort = upstreamPort
        self.sourceOf = sourceOf
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrokerProcessError("proxy socket() failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw BrokerProcessError("proxy bind/listen failed: errno \(errno)")
        }
        listenFd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    // MARK: Controls

    /// Closes every open connection (both sides); new ones are accepted as before.
    public func cutAll() {
        state.withLock { state in
            for (id, link) in state.links where !link.cut {
                state.links[id]?.cut = true
                Self.shutdownLink(link)
            }
        }
    }

    /// While on, frames in both directions are read and dropped: connections stay open and go silent.
    public func setBlackhole(_ on: Bool) { state.withLock { $0.blackhole = on } }

    /// While on, new connections are closed at once and open ones are cut (a partition).
    public func setRefusing(_ on: Bool) {
        state.withLock { $0.refuse = on }
        if on { cutAll() }
    }

    /// Cuts the connection carrying the next `count` responses to requests of API `apiKey` (after
    /// the request reached the broker, before its response reaches the client).
    public func cutResponses(toApi apiKey: UInt16, count: Int = 1) {
        state.withLock { $0.cutResponses[apiKey, default: 0] += count }
    }

    /// How many responses ``cutResponses(toApi:count:)`` has cut so far.
    public var responsesCut: Int { state.withLock { $0.responsesCut } }

    /// Sets (or, with nil, lifts) the fault for one source's links; see ``Fault``.
    public func setFault(_ fault: Fault?, for source: Source) {
        state.withLock { state in
            state.faults[source] = fault
            for (id, link) in state.links where link.source == source && !link.cut {
                // A cut closes the source's links; lifting a blackhole closes those that lost frames.
                guard fault == .cut || (fault == nil && link.lostFrames) else { continue }
                state.links[id]?.cut = true
                Self.shutdownLink(link)
            }
        }
    }

    /// Lifts every per-source fault (as ``setFault(_:for:)`` with nil for each).
    public func clearFaults() {
        for source in state.withLock({ Array($0.faults.keys) }) { setFault(nil, for: source) }
    }

    /// How many links are open now, by source.
    public var openLinks: [Source: Int] {
        state.withLock { state in
            state.links.values.filter { !$0.cut }.reduce(into: [:]) { $0[$1.source, default: 0] += 1 }
        }
    }

    /// Stops listening and closes every connection.
    public func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        guard first else { return }
        shutdown(listenFd, Int32(SHUT_RDWR))
        close(listenFd)
        cutAll()
    }

    deinit { stop() }

    // MARK: Forwarding

    private func acceptLoop() {
        while true {
            var peer = sockaddr_in()
            var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
            let client = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFd, $0, &peerLength) }
            }
            if client < 0 {
                if state.withLock({ $0.stopped }) { return }
                if errno == EINTR { continue }
                return
            }
            let source = sourceOf?(Int(UInt16(bigEndian: peer.sin_port)), port) ?? .other
            if state.withLock({ $0.refuse || $0.stopped || $0.faults[source] == .cut }) {
                close(client)
                if state.withLock({ $0.stopped }) { return }
                continue
            }
            guard let server = try? connectedLoopbackSocket(port: upstreamPort) else {
                close(client)
                continue
            }
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(server, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let id = state.withLock { state -> Int in
                defer { state.nextLink += 1 }
                state.links[state.nextLink] = Link(client: client, server: server, source: source)
                return state.nextLink
            }
            Thread { [self] in pump(id: id, from: client, to: server, requests: true) }.start()
            Thread { [self] in pump(id: id, from: server, to: client, requests: false) }.start()
        }
    }

    /// Forwards frames from `source` to `destination` until either side closes, then closes both.
    private func pump(id: Int, from source: Int32, to destination: Int32, requests: Bool) {
        defer { drop(id) }
        while let frame = Self.readFrame(source) {
            enum Action { case forward, drop, cut }
            let action = state.withLock { state -> Action in
                guard var link = state.links[id], !link.cut else { return .cut }
                if state.blackhole { return .drop }
                if state.faults[link.source] == .blackhole {
                    state.links[id]?.lostFrames = true
                    return .drop
                }
                if requests {
                    // size(4) apiKey(2) apiVersion(2) correlationId(4)
                    if frame.count >= 12 {
                        link.pending[Self.u32(frame, 8)] = UInt16(frame[4]) << 8 | UInt16(frame[5])
                        state.links[id] = link
                    }
                    return .forward
                }
                // size(4) correlationId(4)
                guard frame.count >= 8, let api = link.pending.removeValue(forKey: Self.u32(frame, 4)) else {
                    return .forward
                }
                state.links[id] = link
                if let remaining = state.cutResponses[api], remaining > 0 {
                    state.cutResponses[api] = remaining - 1
                    state.responsesCut += 1
                    return .cut
                }
                return .forward
            }
            switch action {
            case .forward: guard Self.writeAll(destination, frame) else { return }
            case .drop: continue
            case .cut: return
            }
        }
    }

    /// A pump ended: the link is shut down (waking the other pump), and closed by the last one.
    private func drop(_ id: Int) {
        state.withLock { state in
            guard var link = state.links[id] else { return }
            if !link.cut { Self.shutdownLink(link) }
            link.cut = true
            link.pumps -= 1
            if link.pumps == 0 {
                state.links[id] = nil
                close(link.client)
                close(link.server)
            } else {
                state.links[id] = link
            }
        }
    }

    private static func shutdownLink(_ link: Link) {
        // Wakes both pumps' blocking reads; they end and the last closes the descriptors.
        shutdown(link.client, Int32(SHUT_RDWR))
        shutdown(link.server, Int32(SHUT_RDWR))
    }

    private static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    /// One whole frame, size prefix included; nil at end of stream or on an error.
    private static func readFrame(_ fd: Int32) -> [UInt8]? {
        guard let prefix = readExactly(fd, 4) else { return nil }
        let size = Int(u32(prefix, 0))
        guard size <= 256 << 20, let body = readExactly(fd, size) else { return nil }
        return prefix + body
    }

    private static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return nil }
            got += n
        }
        return buffer
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }
}
