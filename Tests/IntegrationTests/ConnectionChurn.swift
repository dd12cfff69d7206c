import Foundation
import Synchronization
import TernTestSupport
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// Drives a storm of short-lived raw TCP connections at a broker from several threads: each
/// connection follows one ``Pattern`` (plain close, half a frame, a request abandoned before its
/// reply, resets with `SO_LINGER 0`, a parked long poll abandoned), the ways a misbehaving or
/// crashing client leaves a broker. Every socket call is bounded by a 2 s send/receive timeout.
struct ConnectionChurn {
    /// What one connection does before it goes away.
    enum Pattern: Int, CaseIterable, CustomStringConvertible {
        /// Connect, close at once (the broker reads end of input).
        case connectClose
        /// Connect, reset at once (`SO_LINGER 0`: the broker sees a reset).
        case connectReset
        /// Send the first half of a request frame, close.
        case halfFrameClose
        /// Send the first half of a request frame, reset.
        case halfFrameReset
        /// Send a whole request, close before the reply: the reply meets a closed socket (reset).
        case requestCloseBeforeReply
        /// Send a whole request, reset before the reply.
        case requestReset
        /// Send a request, read its reply, close: a well-behaved short connection.
        case requestReply
        /// Send a fetch that parks (empty partition, long wait), close: the broker redeems the
        /// long poll into a closed socket.
        case longPollClose
        /// The same long poll, reset.
        case longPollReset

        var description: String {
            switch self {
            case .connectClose: "connect+close"
            case .connectReset: "connect+reset"
            case .halfFrameClose: "half-frame+close"
            case .halfFrameReset: "half-frame+reset"
            case .requestCloseBeforeReply: "request+close-before-reply"
            case .requestReset: "request+reset"
            case .requestReply: "request+reply+close"
            case .longPollClose: "long-poll+close"
            case .longPollReset: "long-poll+reset"
            }
        }
    }

    /// Counts of what the storm did.
    struct Totals: CustomStringConvertible {
        var perPattern = [Int](repeating: 0, count: Pattern.allCases.count)
        var connectFailures = 0
        /// `requestReply` connections whose reply did not arrive (a broker that stopped serving).
        var missingReplies = 0

        var connections: Int { perPattern.reduce(0, +) }

        mutating func add(_ other: Totals) {
            for index in perPattern.indices { perPattern[index] += other.perPattern[index] }
            connectFailures += other.connectFailures
            missingReplies += other.missingReplies
        }

        var description: String {
            let parts = Pattern.allCases.map { "\($0)=\(perPattern[$0.rawValue])" }
            return "\(connections) connections (\(parts.joined(separator: ", "))), "
                + "\(connectFailures) connect failures, \(missingReplies) missing replies"
        }
    }

    let port: Int
    /// A partition with no records, for the long polls.
    let idleTopic: String
    let threads: Int
    let duration: Duration
    /// At most this many connections per thread, whatever the duration.
    let maxConnectionsPerThread: Int

    private var request: [UInt8] { Frame.request(MetadataRequest(topics: nil), correlationId: 7, clientId: "churn") }

    private var longPoll: [UInt8] {
        Frame.request(
            FetchRequest(
                maxWaitMs: 5_000, minBytes: 1, maxBytes: 1 << 16,
                topics: [.init(name: idleTopic, partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 16)])]),
            correlationId: 8, clientId: "churn")
    }

    /// Runs the storm on `threads` threads and returns what it did, without blocking the caller's
    /// thread while it waits.
    func run() async -> Totals {
        let totals = Mutex(Totals())
        let group = DispatchGroup()
        let frames = (request: request, longPoll: longPoll)
        let deadline = ContinuousClock.now + duration
        for index in 0..<threads {
            group.enter()
            let thread = Thread { [self] in
                var mine = Totals()
                var step = index
                while ContinuousClock.now < deadline && mine.connections < maxConnectionsPerThread {
                    let pattern = Pattern.allCases[step % Pattern.allCases.count]
                    step += 1
                    drive(pattern, frames: frames, into: &mine)
                }
                totals.withLock { $0.add(mine) }
                group.leave()
            }
            thread.start()
        }
        await withCheckedContinuation { continuation in
            group.notify(queue: .global()) { continuation.resume() }
        }
        return totals.withLock { $0 }
    }

    private func drive(_ pattern: Pattern, frames: (request: [UInt8], longPoll: [UInt8]), into totals: inout Totals) {
        guard let fd = Self.connect(port: port) else {
            totals.connectFailures += 1
            return
        }
        totals.perPattern[pattern.rawValue] += 1
        switch pattern {
        case .connectClose:
            close(fd)
        case .connectReset:
            Self.reset(fd)
        case .halfFrameClose:
            Self.send(fd, Array(frames.request.prefix(frames.request.count / 2)))
            close(fd)
        case .halfFrameReset:
            Self.send(fd, Array(frames.request.prefix(frames.request.count / 2)))
            Self.reset(fd)
        case .requestCloseBeforeReply:
            Self.send(fd, frames.request)
            close(fd)
        case .requestReset:
            Self.send(fd, frames.request)
            Self.reset(fd)
        case .requestReply:
            Self.send(fd, frames.request)
            if !Self.readFrame(fd) { totals.missingReplies += 1 }
            close(fd)
        case .longPollClose:
            Self.send(fd, frames.longPoll)
            // Give the broker a moment to park the fetch, now and then.
            if totals.connections % 8 == 0 { usleep(2_000) }
            close(fd)
        case .longPollReset:
            Self.send(fd, frames.longPoll)
            if totals.connections % 8 == 0 { usleep(2_000) }
            Self.reset(fd)
        }
    }

    /// A blocking socket connected to 127.0.0.1:`port` with 2 s send and receive timeouts
    /// (which also bound `connect`); nil when the connection failed.
    static func connect(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Closes with `SO_LINGER` 0: the peer gets a reset instead of end of input.
    static func reset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
    }

    /// Writes `bytes`, ignoring failures (the broker may already have closed).
    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            sent += n
        }
    }

    /// Reads one whole response frame; false on end of stream, error or timeout.
    static func readFrame(_ fd: Int32) -> Bool {
        guard let prefix = RawConnection.read(fd, count: 4) else { return false }
        let size = Int(UInt32(prefix[0]) << 24 | UInt32(prefix[1]) << 16 | UInt32(prefix[2]) << 8 | UInt32(prefix[3]))
        guard size > 0, size < 1 << 24 else { return false }
        return RawConnection.read(fd, count: size) != nil
    }
}

/// Descriptor and thread counts of a process, from `/proc`.
enum ProcessCounts {
    /// Open descriptors of `pid` (`/proc/PID/fd`); -1 when unreadable.
    static func descriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Threads of `pid` (`/proc/PID/task`); -1 when unreadable.
    static func threads(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1
    }
}
